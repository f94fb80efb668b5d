"""`lexiclass.inference.export.export_run`: SavedModel (raw text in) and ONNX exports, checked outside lexiclass.

Each export is loaded in a subprocess in which lexiclass cannot be imported (TensorFlow only for
the SavedModel, ONNX Runtime + NumPy for ONNX) and must give lexiclass's own probabilities within the run's
tolerance: 1e-5 for float32 runs, bfloat16's rounding for bfloat16 runs (the export computes in float32).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lexiclass.errors import LexiclassError
from lexiclass.inference.export import export_run
from tests.conftest import probability_atol


# Runs in a fresh interpreter: lexiclass is made unimportable, so nothing of it can be used.
OUTSIDE = textwrap.dedent("""
    import json, os, sys
    sys.modules["lexiclass"] = None  # `import lexiclass` now raises ImportError
    jobs = json.load(sys.stdin)
    results = []
    for job in jobs:
        if job["format"] == "savedmodel":  # in chunks: a Transformer's attention memory grows with batch * length**2
            import tensorflow as tf
            serve = tf.saved_model.load(job["path"]).signatures["serving_default"]
            probs, labels, sets = [], [], []  # sets: a multi-label export's (batch, labels) bool decisions
            for start in range(0, len(job["texts"]), 64):
                out = serve(texts=tf.constant(job["texts"][start:start + 64], dtype=tf.string))
                probs += out["probabilities"].numpy().tolist()
                if "label" in out:
                    labels += [b.decode() for b in out["label"].numpy()]
                if "labels" in out:
                    sets += out["labels"].numpy().tolist()
            results.append({"probabilities": probs, "label": labels, "labels": sets})
        elif job["format"] == "savedmodel-session":  # TensorFlow Serving's way: graph, init op, tensor names
            import tensorflow as tf
            with tf.compat.v1.Session(graph=tf.Graph()) as session:
                meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], job["path"])
                signature = meta.signature_def["serving_default"]
                assert signature.method_name == "tensorflow/serving/predict"
                probs = session.run(signature.outputs["probabilities"].name,
                                    {signature.inputs["texts"].name: job["texts"]})
            results.append({"probabilities": probs.tolist()})
        else:
            import onnxruntime as ort
            sys.path.insert(0, job["path"])
            sys.modules.pop("preprocess", None)
            from preprocess import Preprocessor
            pre = Preprocessor(job["path"])
            session = ort.InferenceSession(os.path.join(job["path"], "model.onnx"))
            probs, sets = [], []
            names = [output.name for output in session.get_outputs()]
            for start in range(0, len(job["texts"]), 64):
                x = pre(job["texts"][start:start + 64])
                found = dict(zip(names, session.run(None, {session.get_inputs()[0].name: x})))
                probs += found.get("probabilities", found[names[0]]).tolist()
                sets += found["labels"].tolist() if "labels" in found else []
            sys.path.remove(job["path"])
            results.append({"probabilities": probs, "labels": sets})
    json.dump({"results": results, "lexiclass_imported": any(m.startswith("lexiclass.") for m in sys.modules),
               "tensorflow_imported": "tensorflow" in sys.modules}, sys.stdout)
""")


def run_outside(jobs: list[dict]) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", OUTSIDE], input=json.dumps(jobs), capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(jobs[0]["path"]), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert not out["lexiclass_imported"]
    return out


def probe_texts(run) -> list[str]:
    """Texts with an empty one, a long one (truncated), case, punctuation, Unicode letters and spaces."""
    from tests.conftest import make_texts

    vocabulary = [w for w in (run / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
                  if w and w != "[UNK]" and " " not in w]
    texts, _ = make_texts(12, ["neg", "pos"], seed=7)
    long_text = " ".join(vocabulary[i % len(vocabulary)] for i in range(400))  # > sequence_length tokens
    return texts + ["", "  \t ", long_text, "GREAT!!! Awful... (boring) \u00c9COLE stra\u00dfe",
                    "great\u00a0film bad\u2003movie good\u3000plot x\x1cy", "worst,best;superb:dull - loved"]


# Default tests: the tiny runs other tests share, plus a 3-class TF-IDF bow (cheap); slow ones add the rest.
# Truncation other than "head" is covered by test_truncate_ragged_is_lexiclass_truncate.
FAMILIES = {
    "positional-transformer": ("positional-transformer", {}),  # custom layers, masked -inf pooling
    "bilstm": ("bilstm", {}),  # recurrent: an ONNX Loop
    "bow": ("bow", {}),  # multi-hot n-grams, binary
    "bow-tfidf-3": ("bow", {"bow_mode": "tf_idf", "classes": ("neg", "pos", "mixed")}),  # TF-IDF, softmax
    "transformer": ("transformer", {}),
    "glove-bilstm": ("glove-bilstm", {}),
    "positional-transformer-head+tail": ("positional-transformer", {"truncation": "head+tail"}),
    "bilstm-tail": ("bilstm", {"truncation": "tail"}),
}
DEFAULT = ["positional-transformer", "bow", "bow-tfidf-3"]
SLOW = ["bilstm", "transformer", "glove-bilstm", "positional-transformer-head+tail", "bilstm-tail"]


def family_run(tiny_run, key):
    model, overrides = FAMILIES[key]
    return tiny_run(model, **overrides)


def export_and_compare(runs: dict, tmp_path) -> dict:
    """Export every run in both formats and run them outside lexiclass.

    Returns {key: {"expected": lexiclass's probabilities, "labels", "texts", fmt: {"dir", "summary", "result"}}}.
    """
    import lexiclass

    jobs, found = [], {}
    for key, run in runs.items():
        texts = probe_texts(run)
        predictor = lexiclass.load(run)
        found[key] = {"expected": predictor.predict_proba(texts), "labels": predictor.labels, "texts": texts,
                      "atol": probability_atol(predictor)}
        for fmt in ("savedmodel", "onnx"):
            summary = export_run(run, tmp_path / f"{key}-{fmt}", fmt, check=False)
            found[key][fmt] = {"dir": summary["out_dir"], "summary": summary}
            jobs.append({"format": fmt, "path": summary["out_dir"], "texts": texts, "key": key})
    first = next(iter(runs))
    jobs.append({**jobs[0], "format": "savedmodel-session"})  # one model the TensorFlow Serving way too
    found[first]["savedmodel-session"] = {}
    out = run_outside(jobs)
    for job, result in zip(jobs, out["results"]):
        found[job["key"]][job["format"]]["result"] = result
    return found


@pytest.fixture(scope="module")
def default_exports(tiny_run, tmp_path_factory):
    runs = {key: family_run(tiny_run, key) for key in DEFAULT}
    return export_and_compare(runs, tmp_path_factory.mktemp("exports"))


def check_family(found):
    expected = found["expected"]
    for fmt in ("savedmodel", "onnx", "savedmodel-session"):
        if fmt not in found:
            continue
        got = np.asarray(found[fmt]["result"]["probabilities"])
        assert got.shape == expected.shape, fmt
        assert np.abs(got - expected).max() <= found["atol"], (fmt, np.abs(got - expected).max())
    if found["atol"] <= 1e-5:  # in bfloat16 a near tie may flip between the two computations
        assert found["savedmodel"]["result"]["label"] == [found["labels"][i] for i in expected.argmax(axis=1)]
    assert expected[:, 0].std() > 1e-4  # the texts get different probabilities: the comparison is not vacuous


@pytest.mark.parametrize("key", DEFAULT)
def test_exports_give_lexiclass_probabilities_outside_lexiclass(default_exports, key):
    check_family(default_exports[key])


@pytest.mark.slow
def test_other_families_export_too(tiny_run, tmp_path):
    found = export_and_compare({key: family_run(tiny_run, key) for key in SLOW}, tmp_path)
    for key in SLOW:
        check_family(found[key])


def test_export_writes_a_checked_summary_and_readme(tiny_run, tmp_path):
    run = tiny_run("bow")
    summary = export_run(run, tmp_path / "out", "savedmodel")
    assert summary["checked_texts"] >= 5 and summary["max_difference"] <= probability_atol(run)
    assert summary["tolerance"] == probability_atol(run) and summary["computes_in"] == "float32"
    assert summary["input"]["name"] == "texts" and summary["signature"] == "serving_default"
    files = set(os.listdir(tmp_path / "out"))
    assert {"saved_model.pb", "variables", "README.txt", "export.json", "labels.json"} <= files
    assert json.loads((tmp_path / "out" / "export.json").read_text())["max_difference"] == summary["max_difference"]
    assert "serving_default" in (tmp_path / "out" / "README.txt").read_text()
    assert os.listdir(tmp_path) == ["out"]  # no temporary folder left beside it

    onnx = export_run(run, tmp_path / "onnx", "onnx")
    assert onnx["max_difference"] <= probability_atol(run)
    assert {"model.onnx", "vocabulary.txt", "preprocess.py", "README.txt"} <= set(onnx["files"])


def test_transformer_onnx_export_gives_no_nan_for_an_all_padding_text(default_exports):
    """tf2onnx writes Select as 0 * -inf + ... (NaN for an empty text); the export turns it back into Where."""
    import onnxruntime as ort

    found = default_exports["positional-transformer"]
    assert found["onnx"]["summary"]["selects_rewritten"] >= 1
    session = ort.InferenceSession(os.path.join(found["onnx"]["dir"], "model.onnx"))
    probs = session.run(None, {"token_ids": np.zeros((2, 8), dtype=np.int32)})[0]
    assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("key", ["positional-transformer", "bow-tfidf-3"])
def test_preprocess_recipe_is_the_vectorizer(default_exports, tiny_run, key):
    """preprocess.py (NumPy only) gives exactly lexiclass's token ids / n-gram vectors, Unicode included."""
    import importlib.util

    import lexiclass
    from lexiclass.text.batching import pad, truncate

    predictor = lexiclass.load(family_run(tiny_run, key))
    folder = default_exports[key]["onnx"]["dir"]
    spec = importlib.util.spec_from_file_location("export_preprocess", os.path.join(folder, "preprocess.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    texts = default_exports[key]["texts"] + ["\u0130stanbul \u00c0 LA CARTE", "a\x0bb\x0cc\rd\x85e\u200bf", "!!!",
                                             "a-b c.d"]
    got = module.Preprocessor(folder)(texts)
    if predictor.input_kind == "sequence":
        ids = [truncate(s, predictor.config.sequence_length, predictor.config.truncation)
               for s in predictor.vectorizer.token_ids(texts)]
        expected = pad(ids, max(1, max(len(s) for s in ids)))
        assert got.dtype == np.int32 and np.array_equal(got, expected)
    else:
        expected = predictor.vectorizer.vectors(texts)
        assert got.dtype == np.float32 and np.allclose(got, expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("policy", ["head", "tail", "head+tail"])
def test_truncate_ragged_is_lexiclass_truncate(policy):
    import tensorflow as tf

    from lexiclass.inference.export import truncate_ragged
    from lexiclass.text.batching import truncate

    rows = [list(range(100, 100 + n)) for n in (0, 1, 5, 15, 16, 17, 40, 3)]
    got = truncate_ragged(tf.ragged.constant(rows, dtype=tf.int64, ragged_rank=1), 16, policy).to_list()
    assert got == [truncate(np.asarray(r), 16, policy).tolist() for r in rows]


# --- refusals ----------------------------------------------------------------------------

def test_unknown_format_is_refused_before_any_work(tmp_path):
    with pytest.raises(LexiclassError, match="unknown export format 'tflite'; choose one of savedmodel, onnx"):
        export_run(tmp_path / "no-such-run", tmp_path / "out", "tflite")


def test_existing_non_empty_out_dir_is_refused_and_kept(tiny_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(LexiclassError, match="already exists and is not empty"):
        export_run(tiny_run("bow"), out, "savedmodel")
    assert os.listdir(out) == ["keep.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(LexiclassError, match="is a file"):
        export_run(tiny_run("bow"), tmp_path / "file", "onnx")
    # --overwrite replaces earlier exports only: a folder of someone's own files is never deleted
    with pytest.raises(LexiclassError, match="is not an earlier export .*has no export.json"):
        export_run(tiny_run("bow"), out, "savedmodel", overwrite=True, check=False)
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    export_run(tiny_run("bow"), tmp_path / "exported", "savedmodel", check=False)
    export_run(tiny_run("bow"), tmp_path / "exported", "onnx", overwrite=True, check=False)
    assert "model.onnx" in os.listdir(tmp_path / "exported") and "saved_model.pb" not in os.listdir(tmp_path / "exported")
    assert sorted(os.listdir(tmp_path)) == ["exported", "file", "out"]


def test_empty_out_dir_is_used(tiny_run, tmp_path):
    from lexiclass.inference.export import describe

    (tmp_path / "out").mkdir()
    summary = export_run(tiny_run("bow"), tmp_path / "out", "onnx", check=False)
    assert "model.onnx" in os.listdir(tmp_path / "out")
    text = describe(summary)
    assert "as onnx to" in text and "ngram_vector float32" in text and "README.txt" in text


def test_the_run_itself_is_never_the_out_dir(tiny_run):
    run = tiny_run("bow")
    for out in (run, run.parent):
        with pytest.raises(LexiclassError, match="holds the run"):
            export_run(run, out, "savedmodel", overwrite=True)
    assert (run / "model.keras").exists()


def test_a_failed_check_leaves_nothing(tiny_run, tmp_path, monkeypatch):
    import lexiclass.inference.export as export

    monkeypatch.setattr(export, "CHECK_TOLERANCE", {"float32": -1.0, "bfloat16": -1.0})
    with pytest.raises(LexiclassError, match="disagrees with lexiclass .* the export was not written"):
        export_run(tiny_run("bow"), tmp_path / "out", "savedmodel")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_nbsvm_runs_are_refused_with_the_reason(tiny_run, tmp_path, fmt):
    with pytest.raises(LexiclassError) as caught:
        export_run(tiny_run("nbsvm"), tmp_path / "out", fmt)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("nbsvm runs cannot be exported")
    assert "lexiclass serve" in message and "no TensorFlow or ONNX Runtime equivalent" in message
    assert not (tmp_path / "out").exists()


def test_unfinished_run_is_refused(tmp_path):
    with pytest.raises(LexiclassError, match="does not exist"):
        export_run(tmp_path / "missing", tmp_path / "out", "savedmodel")


# --- model.keras with plain Keras -------------------------------------------------------

# --- real reviews -------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("settings", [
    {"model": "bow"},
    # small sizes, but the book's 600 positions: real reviews are truncated (head+tail) and padded
    {"model": "positional-transformer", "embed_dim": 32, "dense_dim": 32, "num_heads": 2, "truncation": "head+tail"},
], ids=["bow", "positional-transformer"])
def test_exports_match_lexiclass_on_1000_imdb_reviews(shared_imdb_archive, tmp_path, settings):
    import lexiclass
    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.training.fit import train

    run = tmp_path / "run"
    config = TrainConfig(imdb_archive=shared_imdb_archive, limit=2000, epochs=1, **settings).validate()
    train(config, run, verbose=0)
    texts = load_imdb(shared_imdb_archive).test_texts[:1000]
    expected = lexiclass.load(run).predict_proba(texts)
    jobs = [{"format": fmt, "path": export_run(run, tmp_path / fmt, fmt)["out_dir"], "texts": texts}
            for fmt in ("savedmodel", "onnx")]
    for job, result in zip(jobs, run_outside(jobs)["results"]):
        got = np.asarray(result["probabilities"])
        assert got.shape == (1000, 2)
        assert np.abs(got - expected).max() <= probability_atol(run), (job["format"], np.abs(got - expected).max())
    assert expected[:, 1].std() > 0.01
