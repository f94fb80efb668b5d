"""First contact: --help that explains, progress on long steps, quiet start-up, the Python API's
top level, and an installable package description."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import lexiclass
from lexiclass.cli import build_parser, main
from lexiclass.config import TrainConfig
from lexiclass.errors import ConfigError
from tests.conftest import write_csv

ROOT = Path(__file__).resolve().parents[2]


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_every_train_flag_has_a_description_and_booleans_have_a_no_form():
    train = subcommand("train")
    flags = {}
    for action in train._actions:
        for option in action.option_strings:
            flags[option] = action
    for field in TrainConfig.__dataclass_fields__:
        action = flags.get("--" + field.replace("_", "-"))
        assert action is not None, f"no flag for setting {field}"
        words = action.help.split("(default")[0].strip()
        assert len(words) >= 10, f"--{field}: {action.help!r} does not describe the setting"
    assert "--no-glove-trainable" in flags and "--no-refit-on-val" in flags
    assert flags["--model"].choices is not None and "nbsvm-ensemble" in flags["--model"].choices
    help_text = train.format_help()
    assert "default: None" not in help_text
    for name in ("positional-transformer", "nbsvm-ensemble"):  # the models are described, not only named
        assert any(line.strip().startswith(name) and len(line.split()) > 3 for line in help_text.splitlines())


def test_boolean_flags_need_no_value(tmp_path):
    args = build_parser().parse_args(["train", "--out", "r", "--glove-trainable", "--no-nb-normalize"])
    assert args.cfg_glove_trainable is True and args.cfg_nb_normalize is False


def test_data_offers_only_the_flags_it_uses():
    data_flags = {o for a in subcommand("data")._actions for o in a.option_strings}
    assert {"--val-fraction", "--test-dataset", "--imdb-archive", "--limit"} <= data_flags
    assert not {"--epochs", "--embed-dim", "--model", "--learning-rate"} & data_flags


def _csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path, n=160, seed=7)


def test_nbsvm_training_prints_progress_lines_when_not_on_a_terminal(tmp_path, capfd):
    assert main(["train", "--model", "nbsvm-ensemble", "--dataset", _csv(tmp_path), "--out",
                 str(tmp_path / "run")]) == 0
    err = capfd.readouterr().err
    assert "\r" not in err  # plain lines, not a redrawn bar
    for step in ("counting word n-grams", "counting char n-grams", "fitting word model", "fitting char model",
                 "scoring the test split"):
        lines = [line for line in err.splitlines() if line.startswith(step)]
        assert lines, f"no progress line for {step!r} in:\n{err}"
        assert any("100%" in line for line in lines) and any("text/s" in line or "model/s" in line or "s/" in line
                                                             for line in lines)


def test_quiet_prints_only_results(tmp_path, capfd):
    assert main(["train", "--model", "nbsvm", "--dataset", _csv(tmp_path), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    captured = capfd.readouterr()
    assert captured.err == ""
    assert "test accuracy:" in captured.out


def test_no_tensorflow_start_up_lines(tiny_run):
    """A subprocess, as a user runs it: stderr stays empty on success and holds one line on an error."""
    script = Path(sys.executable).parent / "lexiclass"
    for kind in ("bow",):  # a Transformer run's layers: test_plain_keras_loads_a_transformer_run_after_import_lexiclass
        done = subprocess.run([str(script), "predict", str(tiny_run(kind)), "a fine film", "--quiet"],
                              capture_output=True, text=True)
        assert done.returncode == 0 and done.stderr == "", done.stderr
    done = subprocess.run([str(script), "predict", "/no/such/run", "x"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "oneDNN" not in done.stderr and "absl" not in done.stderr
    # the Python API, loading and predicting a Keras run: nothing on stderr either
    code = "import sys, lexiclass; print(lexiclass.load(sys.argv[1]).predict('a fine film')['label'])"
    done = subprocess.run([sys.executable, "-c", code, str(tiny_run("bow"))], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() in ("neg", "pos") and done.stderr == "", done.stderr


def test_tensorboard_logs_are_written(tmp_path):
    logs = tmp_path / "tb"
    assert main(["train", "--model", "bow", "--dataset", str(_csv(tmp_path)), "--out", str(tmp_path / "run"),
                 "--epochs", "1", "--max-tokens", "200", "--quiet", "--tensorboard", str(logs)]) == 0
    events = list(logs.rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)


def test_python_api_top_level(tmp_path):
    info = lexiclass.train(out=tmp_path / "run", model="nbsvm", dataset=str(_csv(tmp_path)))
    assert info["status"] == "complete"
    with pytest.warns(DeprecationWarning, match=r"lexiclass.train\(out, config\) is deprecated"):  # the old order
        assert lexiclass.train(tmp_path / "old", model="nbsvm", dataset=str(_csv(tmp_path)))["status"] == "complete"
    config = TrainConfig(model="nbsvm", dataset=str(_csv(tmp_path)))
    assert lexiclass.train(config, tmp_path / "new")["model"] == "nbsvm"  # training.fit.train's order
    assert lexiclass.load(tmp_path / "run").predict("great superb wonderful")["label"] == "pos"
    with pytest.raises(ConfigError, match="epochs must be in"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="unknown setting 'epoch'"):
        lexiclass.train(out=tmp_path / "other", epoch=3)
    assert (Path(lexiclass.__file__).parent / "py.typed").exists()


def test_dependencies_are_ranges_and_the_lock_satisfies_them():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    for text in requirements:
        req = Requirement(text)
        assert "==" not in str(req.specifier), f"{text}: use a compatible range; exact pins go in requirements.lock"
        assert req.specifier, f"{text}: give a version range"
        name = req.name.lower().replace("_", "-")
        if name in pins:
            assert req.specifier.contains(pins[name]), f"requirements.lock pins {name}=={pins[name]}, outside {text}"


# TensorFlow imported first probes find_spec("keras") before importing it: registration must survive that
# (slow: a second TensorFlow import of ~10 s; keras first stays in the default suite).
@pytest.mark.parametrize("first", ["keras", pytest.param("tensorflow", marks=pytest.mark.slow)])
def test_plain_keras_loads_a_transformer_run_after_import_lexiclass(tiny_run, first):
    """`import lexiclass` registers the custom layers (without importing Keras itself, so the CLI stays quick)."""
    model = tiny_run("positional-transformer") / "model.keras"
    code = (f"import sys, lexiclass; assert 'keras' not in sys.modules; import {first}, keras; "
            f"print(keras.models.load_model({str(model)!r}).name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "positional_transformer"


def test_bare_lexiclass_prints_the_overview(capsys):
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: lexiclass") and "train" in out and "predict" in out and err == ""


def test_ngram_and_auto_runs_report_their_fit_and_winner_not_epochs(tmp_path, capsys):
    data = write_csv(tmp_path, n=120)
    assert main(["train", "--model", "tfidf", "--dataset", data, "--out", tmp_path / "t", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "fit in " in out and "validation accuracy" in out and "best epoch" not in out
    assert "not calibrated: " in out and "validation texts, fewer than 100" in out  # calibration.json's reason
    assert main(["train", "--model", "auto", "--dataset", data, "--out", tmp_path / "a", "--quiet",
                 "--time-budget", "60", "--max-tokens", "200", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    chosen = json.loads((tmp_path / "a" / "run.json").read_text())["auto"]["winner"]["model"]
    assert f"auto chose {chosen}" in out and "highest validation" in out


def test_predict_takes_k_for_top_k(tiny_run, capsys):
    run = tiny_run("nbsvm", classes=("neg", "pos", "mixed"))
    assert main(["predict", run, "great film", "-k", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)["probabilities"]) == 1


@pytest.mark.parametrize("model", ["nbsvm", "tfidf"])
def test_ngram_runs_predict_without_importing_tensorflow(tiny_run, model):
    """TensorFlow takes ~7 s to import; a run without a Keras network never needs it (a Keras run still does).
    NBSVM runs predict a few texts without scikit-learn, SciPy or numba too (together ~1.4 s of their start-up):
    the n-grams of a short text are looked up in Python; tfidf needs its vectorizer."""
    code = ("import sys; from lexiclass.cli import main; "
            "code = main(['predict', sys.argv[1], 'a great film']); "
            "print(code, *(name in sys.modules for name in ('tensorflow', 'keras', 'sklearn', 'scipy', 'numba')))")
    heavy = str(model == "tfidf")
    done = subprocess.run([sys.executable, "-c", code, str(tiny_run(model))], capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.splitlines()[-1] == f"0 False False {heavy} {heavy} False", done.stderr[-2000:]


def test_argument_mistakes_are_reported_before_tensorflow_is_imported(tiny_run, tmp_path):
    """A typo in --output, --encoding, --port or --examples, or a text that is not UTF-8, costs no framework
    import (seconds, minutes under load)."""
    run, data = tiny_run("bow"), write_csv(tmp_path)
    code = ("import sys; from lexiclass.cli import main; "
            "code = main(sys.argv[1:]); print(code, 'tensorflow' in sys.modules)")
    for argv, fragment in (
            (["predict", run, "--input", data, "--output", tmp_path / "out.xlsx"], "unsupported output type '.xlsx'"),
            (["predict", run, "--input", data, "--output", data], "would overwrite the input"),
            (["predict", run, "--input", data, "--encoding", "klingon"], "klingon"),
            (["serve", run, "--port", "0"], "--port must be 1..65535"),
            (["serve", run, "--examples", tmp_path / "none.txt"], "--examples"),
            # a Latin-1 terminal's "café": the byte, not Python's stand-in surrogate U+DCE9, is named
            (["predict", run, "fine", b"caf\xe9"], "text argument 2 is not valid UTF-8 (byte 0xE9 at character 3)")):
        argv = [a if isinstance(a, bytes) else str(a) for a in argv]
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
        assert done.stdout.splitlines()[-1] == "2 False", (argv, done.stderr[-1000:])
        assert fragment in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_a_too_small_address_space_limit_is_one_line_before_any_work(tmp_path):
    """Under `ulimit -v 2000000` numba's threads could not start: the process aborted and left a .partial run."""
    import resource

    data = write_csv(tmp_path, n=120)

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))

    done = subprocess.run([sys.executable, "-m", "lexiclass.cli", "train", "--model", "nbsvm", "--dataset", data,
                           "--out", tmp_path / "run"], capture_output=True, text=True, timeout=120,
                          preexec_fn=limited)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert done.stderr.startswith("lexiclass train: error: the address-space limit (ulimit -v) is 2.0 GiB;")
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.name]  # no run, no .partial folder


def test_ngram_training_does_not_import_tensorflow(tmp_path):
    """Training an n-gram model needs no Keras either: run.json names its packages without importing them."""
    code = ("import sys; from lexiclass.cli import main; "
            "code = main(['train', '--model', 'tfidf', '--dataset', sys.argv[1], '--out', sys.argv[2], '--quiet']); "
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(write_csv(tmp_path)), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.splitlines()[-1] == "0 False False", done.stderr[-2000:]
    versions = json.loads((tmp_path / "run" / "run.json").read_text())["versions"]
    assert "keras" not in versions and versions["scikit-learn"]


def test_a_terminal_is_told_while_tensorflow_loads(monkeypatch):
    """`predict` on a Keras run was silent for the ~10 s of TensorFlow's import. A terminal now sees what is
    happening, and the line is wiped afterwards; pipes, logs and --quiet get nothing."""
    from lexiclass import cli

    class Stream(io.StringIO):
        def __init__(self, tty: bool):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # nothing in the block imports it
    for tty, quiet, shown in ((True, False, True), (False, False, False), (True, True, False)):
        stream = Stream(tty)
        monkeypatch.setattr(sys, "stderr", stream)
        with cli._status(argparse.Namespace(command="predict", quiet=quiet), "importing TensorFlow"):
            during = stream.getvalue()
        assert (during == "lexiclass predict: importing TensorFlow...") == shown, during
        assert stream.getvalue() == (during + "\r\033[K" if shown else ""), stream.getvalue()
