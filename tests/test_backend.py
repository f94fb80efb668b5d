"""Keras backends: choosing one, and run folders that train on one backend and load on the others.

Keras fixes its backend when it is imported, and this test process runs on TensorFlow, so
JAX and PyTorch work runs in subprocesses (`tests.backend_worker`), with TensorFlow made
unimportable there: the text -> ids -> batches path must not need it.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras  # noqa: F401  (this process runs on TensorFlow from here on)
import numpy as np
import pytest

from lexiclass.backend import BACKENDS, jit_compile, requested, select
from lexiclass.cli import main
from lexiclass.errors import ConfigError
from lexiclass.inference.explain import token_importance
from lexiclass.inference.predictor import Predictor
from tests.backend_worker import PROBES
from tests.conftest import write_csv

REPO = Path(__file__).resolve().parents[1]
OTHER_BACKENDS = [b for b in ("jax", "torch") if importlib.util.find_spec(b)]
MISSING = [b for b in ("jax", "torch") if b not in OTHER_BACKENDS]
needs_other_backends = pytest.mark.skipif(bool(MISSING), reason=f"pip install 'lexiclass[{','.join(MISSING)}]'")


def run_worker(backend: str, out: Path, *args: str, timeout: int = 900) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "tests.backend_worker", backend, str(out), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{backend} worker failed:\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text())


def test_select_names_the_backends_and_refuses_a_switch_after_keras_started():
    assert requested() == "tensorflow" == select(None) == select("tensorflow")  # this process
    with pytest.raises(ConfigError, match="unknown backend 'theano'; choose one of tensorflow, jax, torch"):
        select("theano")
    with pytest.raises(ConfigError, match="already runs on tensorflow.*KERAS_BACKEND=jax or --backend jax"):
        select("jax")
    assert BACKENDS == ("tensorflow", "jax", "torch")


def test_tensorflow_compiles_with_xla_only_when_asked():
    assert jit_compile(True) is True and jit_compile(False) is False


def test_cli_backend_flag_is_offered_and_a_switch_is_one_line(tiny_run, capsys):
    run = tiny_run("bow")
    capsys.readouterr()  # training's progress lines
    assert main(["predict", "--backend", "jax", str(run), "a text"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lexiclass predict: error: Keras already runs on tensorflow in this process; the backend is "
                   "chosen before Keras is imported (KERAS_BACKEND=jax or --backend jax)"]
    assert os.environ.get("KERAS_BACKEND") in (None, "tensorflow")  # main() put the environment back
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--backend {tensorflow,jax,torch}" in capsys.readouterr().out


@pytest.mark.slow  # ~70 s; the default suite trains and explains on JAX and PyTorch in tests/test_support_matrix.py
@needs_other_backends
def test_runs_from_jax_and_torch_need_no_tensorflow_and_predict_the_same_on_every_backend(tmp_path):
    data = write_csv(tmp_path, n=200)
    # float32, pinned: runs are compared across backends within 1e-5, and auto picks bfloat16 only on tensorflow
    settings = json.dumps({"dataset": str(data), "epochs": 2, "precision": "float32"})
    models = ["positional-transformer", "bow"]
    jax = run_worker("jax", tmp_path / "jax.json", "--no-tensorflow", "--runs", str(tmp_path), "--settings",
                     settings, "--train", *models)
    jax_runs = [str(tmp_path / f"jax-{m}") for m in models]
    torch = run_worker("torch", tmp_path / "torch.json", "--no-tensorflow", "--runs", str(tmp_path), "--settings",
                       settings, "--train", *models, "--load", *jax_runs)
    assert jax["backend"] == "jax" and torch["backend"] == "torch"
    assert not jax["tensorflow_imported"] and not torch["tensorflow_imported"]
    own = {**jax["runs"], **{k: v for k, v in torch["runs"].items() if k.startswith("torch-")}}
    assert sorted(own) == sorted(f"{b}-{m}" for b in ("jax", "torch") for m in models)
    for name, result in own.items():
        assert result["trained_on"] == name.split("-")[0]
        probs = np.array(result["probabilities"])  # (probes, 2) on the backend it was trained on
        assert probs.shape == (len(PROBES), 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-6)
        labels = ["neg", "pos"]
        assert result["served_labels"] == [labels[i] for i in probs[:2].argmax(axis=1)]
        here = Predictor.from_run_dir(tmp_path / name)  # TensorFlow, this process
        np.testing.assert_allclose(here.predict_proba(PROBES), probs, atol=1e-5, err_msg=name)
        tokens, scores = token_importance(here, PROBES[0])
        assert [list(tokens), list(scores)][0] == result["importance"][0]
        np.testing.assert_allclose(scores, result["importance"][1], atol=1e-5)
    for name in (Path(r).name for r in jax_runs):  # JAX's runs, loaded by PyTorch
        np.testing.assert_allclose(torch["runs"][name]["probabilities"], jax["runs"][name]["probabilities"],
                                   atol=1e-5, err_msg=name)


# --- slow: every backend, the full layer and model tests, and real reviews ------------

@pytest.mark.slow
@needs_other_backends
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_layer_model_and_text_tests_pass_on_the_backend(backend):
    """The default run covers TensorFlow; the same test files run here on JAX and PyTorch."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                           "tests/layers", "tests/models/test_models.py", "tests/text"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{backend}:\n{proc.stdout[-5000:]}"
    assert " passed" in proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@needs_other_backends
def test_imdb_positional_transformer_on_each_backend_loads_on_the_other_two(shared_imdb_archive, tmp_path):
    """One epoch on 2,000 IMDB reviews per backend (the model's default size); every run then predicts the same
    probabilities on all three backends."""
    settings = json.dumps({"dataset": "imdb", "imdb_archive": shared_imdb_archive, "limit": 2000, "epochs": 1,
                           "max_tokens": 20000, "sequence_length": 600, "embed_dim": 256, "dense_dim": 32,
                           "num_heads": 2, "batch_size": 32, "learning_rate": 1e-3, "bucket_multiple": 8,
                           "precision": "float32"})  # compared across backends: float32's exactness, as above
    common = ["--runs", str(tmp_path), "--settings", settings]
    run = {b: str(tmp_path / f"{b}-positional-transformer") for b in BACKENDS}
    results = {"tensorflow": run_worker("tensorflow", tmp_path / "tf.json", *common, "--train",
                                        "positional-transformer")}
    results["jax"] = run_worker("jax", tmp_path / "jax.json", *common, "--train", "positional-transformer",
                                "--load", run["tensorflow"])
    results["torch"] = run_worker("torch", tmp_path / "torch.json", *common, "--train", "positional-transformer",
                                  "--load", run["tensorflow"], run["jax"])
    again = {"tensorflow": run_worker("tensorflow", tmp_path / "tf2.json", "--load", run["jax"], run["torch"]),
             "jax": run_worker("jax", tmp_path / "jax2.json", "--load", run["torch"])}
    for trained_on in BACKENDS:
        name = Path(run[trained_on]).name
        own = np.array(results[trained_on]["runs"][name]["probabilities"])
        assert results[trained_on]["runs"][name]["trained_on"] == trained_on
        for loaded_on in BACKENDS:
            if loaded_on == trained_on:
                continue
            found = [r["runs"][name] for r in (results[loaded_on], again.get(loaded_on, {"runs": {}}))
                     if name in r["runs"]]
            assert len(found) == 1, (name, loaded_on)
            np.testing.assert_allclose(found[0]["probabilities"], own, atol=1e-5,
                                       err_msg=f"{trained_on} run on {loaded_on}")
