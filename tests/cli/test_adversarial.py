"""Adversarial cases through the command line: tampered run folders, hostile flags and config files,
faults during training. Every case asserts the exit code, one line on stderr naming the problem, no
traceback, and that files that existed before are unchanged.

The HTTP API's cases are in tests/inference/test_serve_adversarial.py, data files' in
tests/data/test_user_files_adversarial.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from lexiclass.cli import main
from tests.conftest import make_texts, write_csv

# --- helpers -----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """path -> sha256 of every file under ``root`` (folders as a marker)."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
    return out


def run_cli(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, fragment, expected_code=2):
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Finished tiny runs of three kinds (sequence, bag-of-words, n-gram text model), trained once."""
    from tests.conftest import make_dataset, tiny_config

    from lexiclass.training.fit import train

    root = tmp_path_factory.mktemp("adversarial-runs")
    made = {}
    for model in ("positional-transformer", "bow", "nbsvm"):
        train(tiny_config(model, epochs=1), root / model, dataset=make_dataset(), verbose=0)
        made[model] = root / model
    return made


def copy_run(runs, model, tmp_path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(runs[model], target)
    return target


# --- tampered run folders: `lexiclass predict RUN "a text"` ---------------------------------

def _write(name, data):
    def tamper(run: Path):
        path = run / name
        if path.is_dir():
            shutil.rmtree(path)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return tamper


def _edit_json(name, edit):
    def tamper(run: Path):
        value = json.loads((run / name).read_text())
        (run / name).write_text(json.dumps(edit(value)))
    return tamper


def _truncate(name, keep=0.5):
    def tamper(run: Path):
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: int(len(data) * keep)])
    return tamper


def _flip_byte_in_member(name):
    """Flip one byte inside a zip member's stored data, keeping the archive's structure valid."""
    def tamper(run: Path):
        path = run / name
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = max(archive.infolist(), key=lambda i: i.compress_size)
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        data[start + info.compress_size // 2] ^= 0x40
        path.write_bytes(bytes(data))
    return tamper


def _remove(name):
    def tamper(run: Path):
        path = run / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return tamper


def _make_folder(name):
    def tamper(run: Path):
        _remove(name)(run)
        (run / name).mkdir()
    return tamper


def _swap_model_from(other):
    def tamper(run: Path, runs):
        shutil.copy(runs[other] / "model.keras", run / "model.keras")
    return tamper


def _lambda_model(run: Path):
    """A model.keras whose config holds a Lambda layer: safe loading must refuse to run its code."""
    import keras

    inputs = keras.Input(shape=(None,), dtype="int32")
    outputs = keras.layers.Lambda(lambda x: keras.ops.cast(keras.ops.sum(x, axis=1, keepdims=True), "float32"))(inputs)
    keras.Model(inputs, outputs).save(run / "model.keras")


SEQ, BOW, NB = "positional-transformer", "bow", "nbsvm"
RUN_CASES = [
    # (id, run kind, tamper, fragment of the one-line error)
    ("model-truncated", SEQ, _truncate("model.keras"), "model.keras is damaged or not a Keras model"),
    ("model-empty", SEQ, _write("model.keras", b""), "model.keras is damaged or not a Keras model"),
    ("model-random-bytes", SEQ, _write("model.keras", os.urandom(4096)), "model.keras is damaged or not a Keras"),
    ("model-is-a-folder", SEQ, _make_folder("model.keras"), "model.keras is a folder"),
    ("model-bit-flipped", SEQ, _flip_byte_in_member("model.keras"), "model.keras is damaged"),
    ("model-missing", SEQ, _remove("model.keras"), "model.keras is missing"),
    ("model-is-text", BOW, _write("model.keras", "not a model"), "model.keras is damaged or not a Keras model"),
    ("model-with-lambda", SEQ, _lambda_model, "model.keras cannot be loaded as a lexiclass model"),
    ("model-of-bow-in-seq-run", SEQ, "swap:bow", "the run's files do not belong together"),
    ("model-of-seq-in-bow-run", BOW, "swap:positional-transformer", "the run's files do not belong together"),
    ("config-not-json", SEQ, _write("config.json", "{model: "), "config.json is damaged: not valid JSON"),
    ("config-a-list", SEQ, _write("config.json", "[1, 2]"), "config.json is damaged: expected a JSON object"),
    ("config-binary", SEQ, _write("config.json", b"\xff\xfe\x00garbage"), "config.json is damaged: not UTF-8"),
    ("config-unknown-key", SEQ, _edit_json("config.json", lambda c: {**c, "evil": 1}), "unknown setting 'evil'"),
    ("config-negative-size", SEQ, _edit_json("config.json", lambda c: {**c, "embed_dim": -1}), "embed_dim must be"),
    ("config-unknown-model", SEQ, _edit_json("config.json", lambda c: {**c, "model": "gpt"}), "unknown model 'gpt'"),
    ("config-huge-sequence", SEQ, _edit_json("config.json", lambda c: {**c, "sequence_length": 10**13}),
     "sequence_length must be"),
    ("config-nan", SEQ, _write("config.json", '{"learning_rate": NaN}'), "learning_rate: nan is not a valid float"),
    ("config-missing", SEQ, _remove("config.json"), "config.json is missing"),
    ("labels-wrong-count", SEQ, _write("labels.json", '["a", "b", "c"]'), "labels.json names 3 classes"),
    ("labels-duplicates", SEQ, _write("labels.json", '["pos", "pos"]'), "labels.json is damaged"),
    ("labels-not-a-list", SEQ, _write("labels.json", '{"0": "neg"}'), "labels.json is damaged: expected a JSON array"),
    ("labels-empty", SEQ, _write("labels.json", "[]"), "labels.json is damaged"),
    ("labels-not-strings", SEQ, _write("labels.json", "[0, 1]"), "labels.json is damaged"),
    ("labels-missing", BOW, _remove("labels.json"), "labels.json is missing"),
    ("nbsvm-labels-wrong-count", NB, _write("labels.json", '["a", "b", "c"]'), "labels.json names 3"),
    ("vocabulary-empty", SEQ, _write("vocabulary.txt", ""), "vocabulary.txt is damaged"),
    ("vocabulary-duplicates", SEQ, _write("vocabulary.txt", "\n[UNK]\nthe\nfilm\nthe\n"), "token 'the' appears twice"),
    ("vocabulary-not-utf8", SEQ, _write("vocabulary.txt", b"\n[UNK]\n\xff\xfe\n"), "vocabulary.txt is damaged: not UTF-8"),
    ("vocabulary-truncated", SEQ, _write("vocabulary.txt", "\n[UNK]\nthe"), "truncated"),
    ("vocabulary-no-reserved", SEQ, _write("vocabulary.txt", "the\nfilm\n"), "reserved tokens"),
    ("vocabulary-too-long", SEQ, _write("vocabulary.txt", "\n[UNK]\n" + "".join(f"w{i}\n" for i in range(500))),
     "more than max_tokens"),
    ("vocabulary-missing", BOW, _remove("vocabulary.txt"), "vocabulary.txt is missing"),
    ("vocabulary-is-folder", BOW, _make_folder("vocabulary.txt"), "vocabulary.txt"),
    ("vectorizer-bad-mode", SEQ, _edit_json("vectorizer.json", lambda v: {**v, "output_mode": "exec"}),
     "output_mode 'exec' is not"),
    ("vectorizer-tokens-string", SEQ, _edit_json("vectorizer.json", lambda v: {**v, "max_tokens": "20000"}),
     "max_tokens '20000' is not an integer"),
    ("vectorizer-huge-tokens", BOW, _edit_json("vectorizer.json", lambda v: {**v, "max_tokens": 10**12}),
     "max_tokens"),
    ("vectorizer-bad-ngrams", BOW, _edit_json("vectorizer.json", lambda v: {**v, "ngrams": 0}), "ngrams 0"),
    ("vectorizer-not-json", BOW, _write("vectorizer.json", "]"), "vectorizer.json is damaged: not valid JSON"),
    ("run-json-running", SEQ, _edit_json("run.json", lambda r: {**r, "status": "running"}),
     "training did not finish"),
    ("run-json-not-json", SEQ, _write("run.json", "{"), "run.json is damaged: not valid JSON"),
    ("run-json-missing", SEQ, _remove("run.json"), "run.json is missing"),
    ("run-json-a-string", BOW, _write("run.json", '"complete"'), "run.json is damaged: expected a JSON object"),
    ("nbsvm-meta-not-json", NB, _write("model/nbsvm.json", "{"), "nbsvm.json"),
    ("nbsvm-meta-wrong-format", NB, _edit_json("model/nbsvm.json", lambda m: {**m, "format": "pickle"}),
     "not a lexiclass NBSVM model"),
    ("nbsvm-meta-bad-hyperparameter", NB,
     _edit_json("model/nbsvm.json", lambda m: {**m, "hyperparameters": {**m["hyperparameters"], "evil": 1}}),
     "nbsvm.json: 'hyperparameters' has unknown settings 'evil'"),
    ("nbsvm-meta-hyperparameters-a-list", NB, _edit_json("model/nbsvm.json", lambda m: {**m, "hyperparameters": [1, 2]}),
     "nbsvm.json: 'hyperparameters' must be an object of settings, got list"),
    ("nbsvm-meta-a-list", NB, _write("model/nbsvm.json", "[]"), "nbsvm.json: not a lexiclass NBSVM model (a JSON list"),
    ("nbsvm-weights-truncated", NB, _truncate("model/weights.npz"), "weights.npz"),
    ("nbsvm-weights-missing", NB, _remove("model/weights.npz"), "weights.npz is missing"),
    ("nbsvm-weights-random", NB, _write("model/weights.npz", os.urandom(2000)), "weights.npz"),
    ("nbsvm-vocabulary-truncated", NB, _truncate("model/vocabulary.json"), "vocabulary.json"),
    ("nbsvm-vocabulary-shorter", NB, _write("model/vocabulary.json", '["a", "b"]'), "do not match"),
    ("nbsvm-model-folder-missing", NB, _remove("model"), "model is missing or not a folder"),
]


@pytest.mark.parametrize("case", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_tampered_run_folder_gets_one_clear_line(case, runs, tmp_path, capsys):
    name, kind, tamper, fragment = case
    run = copy_run(runs, kind, tmp_path)
    if isinstance(tamper, str):
        shutil.copy(runs[tamper.split(":", 1)[1]] / "model.keras", run / "model.keras")
    else:
        tamper(run)
    before = snapshot(run)
    code, out, err = run_cli(["predict", run, "a good film"], capsys)
    assert_one_line_error(code, err, fragment)
    assert out == ""
    assert snapshot(run) == before  # reading a run never changes it


def test_untampered_copies_predict(runs, tmp_path, capsys):
    """The baseline for the table above: the same copies, untouched, predict fine."""
    for kind in runs:
        run = copy_run(runs, kind, tmp_path / kind)
        code, out, err = run_cli(["predict", run, "great superb film"], capsys)
        assert code == 0, err
        assert json.loads(out)["label"] in ("neg", "pos")


def test_run_dir_that_is_a_file_or_missing(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for path, fragment in ((tmp_path / "file", "is a file, expected a run directory"),
                           (tmp_path / "none", "does not exist")):
        code, _, err = run_cli(["evaluate", path], capsys)
        assert_one_line_error(code, err, fragment)


# --- flags and config files --------------------------------------------------------------

FLAG_CASES = [
    # (id, extra train flags, fragment)
    ("seed-negative", ["--seed", "-1"], "seed must be in [0,"),
    ("split-seed-negative", ["--split-seed", "-1"], "split_seed must be in [0,"),
    ("seed-too-big", ["--seed", str(2**40)], "seed must be in"),
    ("learning-rate-negative", ["--learning-rate", "-1"], "learning_rate must be in (0,"),
    ("learning-rate-zero", ["--learning-rate", "0"], "learning_rate must be in (0,"),
    ("learning-rate-inf", ["--learning-rate", "inf"], "'inf' is not a valid float"),
    ("learning-rate-nan", ["--learning-rate", "nan"], "'nan' is not a valid float"),
    ("patience-negative", ["--early-stopping-patience", "-1"], "early_stopping_patience must be in [0,"),
    ("embed-dim-huge", ["--embed-dim", "2000000000"], "embed_dim must be in [1, 8,192]"),
    ("embedding-too-big", ["--max-tokens", "10000000", "--embed-dim", "8000"], "cannot be allocated"),
    ("sequence-length-huge", ["--sequence-length", "10000000000000", "--batching", "fixed"],
     "sequence_length must be in"),
    ("fixed-batch-too-big", ["--sequence-length", "100000", "--batch-size", "60000", "--batching", "fixed"],
     "token ids per batch is too large"),
    ("limit-zero", ["--limit", "0"], "limit must be >= 1, got 0"),
    ("limit-negative", ["--limit", "-5"], "limit must be >= 1, got -5"),
    ("limit-float", ["--limit", "2.5"], "'2.5' is not a valid int"),
    ("encoding-errors-bogus", ["--encoding-errors", "bogus"], "encoding_errors = 'bogus' is not one of"),
    ("encoding-bogus", ["--encoding", "klingon-8"], "encoding = 'klingon-8' is not a known encoding"),
    ("val-fraction-zero", ["--val-fraction", "0"], "val_fraction must be in (0, 1)"),
    ("val-fraction-one", ["--val-fraction", "1"], "val_fraction must be in (0, 1)"),
    ("test-fraction-zero", ["--test-fraction", "0"], "test_fraction must be in (0, 1)"),
    ("dropout-one", ["--dropout", "1"], "dropout must be in [0, 1)"),
    ("epochs-zero", ["--epochs", "0"], "epochs must be in [1, 10,000]"),
    ("epochs-huge-digits", ["--epochs", "9" * 5000], "is not a valid int"),
    ("batch-size-zero", ["--batch-size", "0"], "batch_size must be in [1,"),
    ("num-heads-zero", ["--num-heads", "0"], "num_heads must be in [1,"),
    ("ngrams-huge", ["--ngrams", "1000"], "ngrams must be in [1, 10]"),
    ("char-range-inverted", ["--char-min-n", "7", "--char-ngrams", "3"], "char_min_n = 7 is larger"),
    ("same-text-and-label-column", ["--text-column", "x", "--label-column", "x"], "must differ"),
    ("empty-text-column", ["--text-column", ""], "text_column must not be empty"),
    ("unknown-model", ["--model", "gpt"], "invalid choice: 'gpt'"),
    ("unknown-choice", ["--batching", "random"], "invalid choice: 'random'"),
    ("bool-with-value", ["--glove-trainable", "maybe"], "unrecognized arguments: maybe"),
    ("abbreviated-flag", ["--epoch", "3"], "unrecognized arguments: --epoch"),
    ("missing-dataset", ["--dataset", "goood.csv"], "goood.csv does not exist"),
]


@pytest.mark.parametrize("case", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_bad_flag_is_refused_before_anything_is_written(case, tmp_path, capsys, monkeypatch):
    name, flags, fragment = case
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("unrelated")
    before = snapshot(tmp_path)
    code, out, err = run_cli(["train", "--model", "bow", "--out", tmp_path / "run", *flags], capsys)
    assert_one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before  # nothing written, not even the run folder


def _config_file(name, content):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path
    return make


CONFIG_CASES = [
    ("binary", _config_file("c.toml", b"\x00\xff\xfe\x89PNG"), "is not UTF-8 text"),
    ("malformed-toml", _config_file("c.toml", "model = \n"), "c.toml"),
    ("malformed-yaml", _config_file("c.yaml", "model: [bow\n"), "c.yaml"),
    ("yaml-python-tag", _config_file("c.yaml", "model: !!python/object/apply:os.system ['echo hi']\n"), "c.yaml"),
    ("json-list", _config_file("c.json", "[1, 2]"), "expected a table of settings"),
    ("json-deep", _config_file("c.json", "[" * 100_000 + "]" * 100_000), "c.json"),
    ("unknown-key", _config_file("c.toml", "epoch = 3\n"), "unknown setting 'epoch' (did you mean 'epochs'?)"),
    ("wrong-type", _config_file("c.toml", "epochs = [1, 2]\n"), "is not a valid int"),
    ("bool-as-int", _config_file("c.toml", "epochs = true\n"), "True is not a valid int"),
    ("null-byte-string", _config_file("c.json", '{"dataset": "a\\u0000b"}'), "is not a valid str"),
    ("wrong-suffix", _config_file("c.ini", "x"), "use .toml, .yaml, .yml or .json"),
    ("missing", lambda tmp_path: tmp_path / "none.toml", "cannot read config file"),
    ("a-folder", lambda tmp_path: tmp_path, "cannot read config file"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_file_is_refused(case, tmp_path, capsys):
    name, make, fragment = case
    path = make(tmp_path)
    code, _, err = run_cli(["train", "--config", path, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "run").exists()


OTHER_CASES = [
    ("serve-port-too-big", lambda r, t: ["serve", r, "--port", "99999"], "--port must be 1..65535"),
    ("serve-port-zero", lambda r, t: ["serve", r, "--port", "0"], "--port must be 1..65535"),
    ("serve-port-text", lambda r, t: ["serve", r, "--port", "http"], "invalid int value: 'http'"),
    ("serve-max-texts-zero", lambda r, t: ["serve", r, "--max-texts", "0"], "must be >= 1"),
    ("predict-top-k-zero", lambda r, t: ["predict", r, "text", "--top-k", "0"], "must be >= 1"),
    ("predict-nothing", lambda r, t: ["predict", r], "no texts given"),
    ("predict-input-and-texts", lambda r, t: ["predict", r, "a", "--input", t / "x.txt"], "not both"),
    ("predict-missing-input", lambda r, t: ["predict", r, "--input", t / "none.csv"], "none.csv"),
    ("predict-output-without-input", lambda r, t: ["predict", r, "text", "--output", t / "o.csv"], "--output needs"),
    ("explain-missing-dir", lambda r, t: ["explain", r, "good film", "--out", "/missing/dir/a.png"], "/missing/dir"),
    ("explain-empty-text", lambda r, t: ["explain", r, "   "], "empty"),
    ("evaluate-other-labels", lambda r, t: ["evaluate", r, "--dataset", t / "other.csv"], "are not among the run's"),
    # one example of an unknown class: named as such, not as "each class needs 3 examples" from the split
    ("evaluate-one-unknown-example", lambda r, t: ["evaluate", r, "--dataset", t / "rare.csv"],
     "rare.csv: its classes ['rare'] are not among the run's"),
    ("resume-nothing", lambda r, t: ["train", "--resume", "--out", t / "fresh"], "no interrupted run"),
    ("resume-complete", lambda r, t: ["train", "--resume", "--out", r], "already complete"),
    ("resume-with-flags", lambda r, t: ["train", "--resume", "--out", r, "--epochs", "3"], "drop --epochs"),
    ("train-without-out", lambda r, t: ["train", "--model", "bow"], "train needs --out"),
    ("train-out-is-a-file", lambda r, t: ["train", "--model", "bow", "--out", t / "x.txt"], "is a file"),
    ("train-into-existing-run", lambda r, t: ["train", "--model", "bow", "--out", r], "is not empty"),
    ("overwrite-a-non-run-folder", lambda r, t: ["train", "--model", "bow", "--out", t / "mine", "--overwrite"],
     "is not a lexiclass run"),
    ("overwrite-with-missing-dataset", lambda r, t: ["train", "--model", "bow", "--out", r, "--overwrite",
                                                     "--dataset", t / "goood.csv"], "goood.csv does not exist"),
    ("data-bad-source", lambda r, t: ["data", t / "none.jsonl"], "none.jsonl does not exist"),
    ("predict-json-nested-200000-deep", lambda r, t: ["predict", r, "--input", t / "deep.jsonl", "--quiet"],
     "deep.jsonl, line 1: JSON value not accepted (maximum recursion depth"),
    ("predict-json-5000-digit-integer", lambda r, t: ["predict", r, "--input", t / "big.jsonl", "--quiet"],
     "big.jsonl, line 1: JSON value not accepted (Exceeds the limit (4300 digits)"),
    ("predict-mixed-types-to-parquet", lambda r, t: ["predict", r, "--input", t / "mixed.jsonl", "--output",
                                                     t / "o.parquet", "--quiet"],
     "column 'n' mixes value types (int, str)"),
    ("predict-text-over-max-chars", lambda r, t: ["predict", r, "--input", t / "long.csv", "--output", t / "o.csv",
                                                  "--quiet", "--max-chars", "5000"],
     "long.csv, row 2: a text of 6,000 characters is longer than --max-chars 5,000"),
    ("predict-ray-unreachable-address", lambda r, t: ["predict", r, "--engine", "ray", "--address", "127.0.0.1:1",
                                                      "--input", t / "x.txt", "--output", t / "scored"],
     "cannot reach the Ray cluster at 127.0.0.1:1: Connection refused (waited up to 10 s)"),
    ("predict-ray-bad-address", lambda r, t: ["predict", r, "--engine", "ray", "--address", "head-node:port",
                                              "--input", t / "x.txt", "--output", t / "scored"],
     "--address 'head-node:port': give host:port"),
    ("export-overwrite-a-non-export-folder", lambda r, t: ["export", r, "--out", t / "mine", "--overwrite"],
     "is not an earlier export"),
    ("data-does-not-offer-train-flags", lambda r, t: ["data", "imdb", "--epochs", "3"], "unrecognized arguments"),
]


@pytest.mark.parametrize("case", OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_other_commands_refuse_bad_input(case, runs, tmp_path, capsys):
    name, argv, fragment = case
    run = copy_run(runs, "bow", tmp_path)
    (tmp_path / "x.txt").write_text("a text\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    texts, labels = make_texts(40, ["mixed", "odd"], seed=3)  # classes the run does not know
    (tmp_path / "other.csv").write_text("text,label\n" + "".join(f"{t},{['mixed', 'odd'][y]}\n"
                                                                 for t, y in zip(texts, labels)))
    (tmp_path / "rare.csv").write_text((tmp_path / "other.csv").read_text().replace(",mixed", ",neg")
                                       .replace(",odd", ",pos") + "one odd text,rare\n")
    (tmp_path / "deep.jsonl").write_text('{"text": "good", "n": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    (tmp_path / "big.jsonl").write_text('{"text": "good", "n": ' + "9" * 5000 + "}\n")
    (tmp_path / "mixed.jsonl").write_text('{"text": "good", "n": 1}\n{"text": "bad", "n": "x"}\n')
    (tmp_path / "long.csv").write_text("text\nshort\n" + "good " * 1200 + "\n")
    before = snapshot(tmp_path)
    code, _, err = run_cli(argv(run, tmp_path), capsys)
    assert_one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before


# --- faults during training ----------------------------------------------------------------

def test_disk_full_while_training_keeps_the_old_run(runs, tmp_path, capsys, monkeypatch):
    import errno

    from lexiclass import atomic

    run = copy_run(runs, "bow", tmp_path)
    before = snapshot(run)
    original = atomic._atomic

    def full(path, write, suffix=".tmp"):
        if Path(path).name == "model.keras":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, write, suffix)

    monkeypatch.setattr(atomic, "_atomic", full)
    code, _, err = run_cli(["train", "--model", "bow", "--dataset", _csv(tmp_path), "--epochs", "1",
                            "--out", run, "--overwrite", "--quiet"], capsys)
    assert_one_line_error(code, err, "No space left on device")
    assert "unchanged" in err
    assert snapshot(run) == before


def _csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path, n=120, seed=5)


def test_overwrite_replaces_a_run_only_when_the_new_one_is_complete(runs, tmp_path, capsys):
    run = copy_run(runs, "bow", tmp_path)
    old_id = json.loads((run / "run.json").read_text())["run_id"]
    code, out, err = run_cli(["train", "--model", "nbsvm", "--dataset", _csv(tmp_path), "--out", run,
                              "--overwrite", "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((run / "run.json").read_text())
    assert info["model"] == "nbsvm" and info["run_id"] != old_id
    assert not (run / "model.keras").exists()  # nothing of the old run is mixed in
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ctrl_c_prints_the_resume_command(tmp_path, capsys, monkeypatch):
    from lexiclass.models import callbacks

    def interrupted(self, epoch, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.RunCheckpoint, "on_epoch_end", interrupted)
    code, _, err = run_cli(["train", "--model", "bow", "--dataset", _csv(tmp_path), "--out", tmp_path / "r",
                            "--quiet", "--epochs", "2"], capsys)
    assert code == 130
    assert err.strip().splitlines()[-1] == (f"lexiclass train: interrupted; the last finished epoch is kept. "
                                            f"Continue with: lexiclass train --resume --out {tmp_path / 'r'}")
