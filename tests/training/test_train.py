"""Tiny end-to-end runs: train -> run directory -> reload -> same test accuracy; resume after a kill."""

import csv
import json

import numpy as np
import pytest

import lexiclass
from lexiclass import run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.training.metrics import score_test_split
from lexiclass.models.registry import MODEL_NAMES, get_model_spec
from lexiclass.models import callbacks
from lexiclass.training.fit import train
from tests.conftest import make_dataset, tiny_config

EXPECTED_FILES = {"run.json", "config.json", "labels.json", "vocabulary.txt", "vectorizer.json", "model.keras",
                  "history.csv", "training_curves.png", "metrics.json", "confusion_matrix.png"}


# auto: tests/training/test_auto.py; glove-bilstm (~11 s) in the slow suite, and trained by the matrix subset
@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.slow) if m == "glove-bilstm" else m
                                  for m in MODEL_NAMES if m != "auto"])
def test_train_writes_a_complete_run_that_reloads_to_the_same_accuracy(tiny_run, name):
    run = tiny_run(name)
    keras_model = get_model_spec(name).needs_keras
    expected = EXPECTED_FILES if keras_model else EXPECTED_FILES - {"model.keras", "vocabulary.txt",
                                                                    "vectorizer.json"} | {"model"}
    assert expected <= {p.name for p in run.iterdir()}
    assert not (run / "checkpoints").exists() and not list(run.glob(".*tmp*"))
    info = json.loads((run / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    epochs = 2 if keras_model else 1  # an n-gram linear model is one fit, not epochs
    assert info["status"] == "complete" and info["epochs_run"] == epochs and 1 <= info["best_epoch"] <= epochs
    assert metrics["accuracy"] == info["test_accuracy"] > 0.75  # cue words make the task easy
    assert np.asarray(metrics["confusion_matrix"]).sum() == metrics["num_examples"] == 80
    predictor = lexiclass.load(run)
    assert score_test_split(predictor, predictor.label_names, make_dataset())["accuracy"] == metrics["accuracy"]
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == [str(e + 1) for e in range(epochs)] and "val_accuracy" in rows[0]
    assert (run / "training_curves.png").stat().st_size > 1000
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # no run plot stays open in pyplot's registry (a leak in long-lived processes)


def test_multi_class_run(tiny_run):
    run = tiny_run("transformer", classes=("neg", "pos", "mixed", "odd"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["labels"] == ["neg", "pos", "mixed", "odd"]
    assert np.asarray(metrics["confusion_matrix"]).shape == (4, 4)
    assert metrics["accuracy"] > 0.5
    probs = lexiclass.load(run).predict_proba(["great wonderful superb best", "weird bizarre surreal odd"])
    assert probs.shape == (2, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_training_is_seeded_and_reproducible(tmp_path):
    data = make_dataset()
    runs = [train(tiny_config("transformer"), tmp_path / f"r{i}", dataset=data, verbose=0) for i in range(2)]
    a, b = (json.loads((tmp_path / f"r{i}" / "metrics.json").read_text()) for i in range(2))
    assert a == b
    h = [(tmp_path / f"r{i}" / "history.csv").read_text().splitlines()[1].split(",")[:5] for i in range(2)]
    assert h[0] == h[1]
    assert runs[0]["test_accuracy"] == runs[1]["test_accuracy"]


@pytest.mark.slow  # default suite < 10 min; tests/training/test_resume_adversarial.py and the matrix's resume cells stay
def test_interrupted_run_resumes_without_losing_a_finished_epoch(tmp_path, monkeypatch):
    original = callbacks.RunCheckpoint.on_epoch_end

    def killed_after_epoch_2(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt  # like Ctrl-C right after the epoch's files are written

    monkeypatch.setattr(callbacks.RunCheckpoint, "on_epoch_end", killed_after_epoch_2)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config("positional-transformer", epochs=4), out, dataset=make_dataset(), verbose=0)
    assert not out.exists()  # an unfinished run stays beside --out until it is complete
    work = rd.partial_dir(out)
    state = json.loads((work / "checkpoints" / "state.json").read_text())
    assert state["epochs_done"] == 2 and (work / "checkpoints" / state["model"]).exists()
    with pytest.raises(LexiclassError, match="training did not finish.*--resume"):
        lexiclass.load(out)

    monkeypatch.setattr(callbacks.RunCheckpoint, "on_epoch_end", original)
    # A fresh process, as after a real kill: the checkpoint's custom layers must load there too.
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, '.'); from tests.conftest import make_dataset; "
            "from lexiclass.config import TrainConfig; from lexiclass.training.fit import train; "
            f"info = train(TrainConfig(model='bow'), {str(out)!r}, resume=True, dataset=make_dataset(), verbose=0); "
            "print(info['model'], info['epochs_run'])")  # the config comes from the run, not this TrainConfig
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["positional-transformer", "4"]
    history = (out / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2", "3", "4"]
    assert history[1:3] == [",".join(str(state["history"][i][k]) for k in history[0].split(",")) for i in range(2)]
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["epochs_run"] == 4
    assert lexiclass.load(out).predict(["great superb"])[0]["label"] == "pos"


def test_existing_run_is_not_overwritten_by_accident(tiny_run, tmp_path):
    run = tiny_run("bow")
    with pytest.raises(LexiclassError, match="is not empty.*--resume.*--overwrite"):
        train(tiny_config("bow"), run, dataset=make_dataset(), verbose=0)
    with pytest.raises(LexiclassError, match="already complete"):
        train(tiny_config("bow"), run, resume=True, dataset=make_dataset(), verbose=0)
    with pytest.raises(LexiclassError, match="no interrupted run for .*none"):
        train(tiny_config("bow"), tmp_path / "none", resume=True, dataset=make_dataset(), verbose=0)


def test_early_stopping_is_on_by_default(tmp_path):
    config = tiny_config("bow", epochs=30, learning_rate=0.05)  # no patience given: the default, 3
    info = train(config, tmp_path / "r", dataset=make_dataset(), verbose=0)
    assert config.early_stopping_patience == 3 and info["epochs_run"] <= info["best_epoch"] + 3 < 30
    off = train(tiny_config("bow", epochs=8, learning_rate=0.05, early_stopping_patience=0), tmp_path / "off",
                dataset=make_dataset(), verbose=0)
    assert off["epochs_run"] == 8  # 0 turns it off


def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path):
    config = tiny_config("bow", epochs=30, early_stopping_patience=1, learning_rate=0.05)
    info = train(config, tmp_path / "r", dataset=make_dataset(), verbose=0)
    assert info["epochs_run"] < 30
    history = list(csv.DictReader(open(tmp_path / "r" / "history.csv")))
    losses = [float(r["val_loss"]) for r in history]
    assert info["best_epoch"] == int(np.argmin(losses)) + 1


def test_loading_something_that_is_not_a_run(tmp_path):
    with pytest.raises(LexiclassError, match="does not exist"):
        lexiclass.load(tmp_path / "nothing")
    with pytest.raises(LexiclassError, match="run.json is missing"):
        lexiclass.load(tmp_path)


def test_run_files_get_normal_permissions(tiny_run):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    for name in ("model.keras", "config.json", "training_curves.png"):
        mode = stat.S_IMODE((tiny_run("bow") / name).stat().st_mode)
        assert mode == 0o666 & ~mask, f"{name} has mode {oct(mode)}"


def test_bfloat16_run_trains_saves_and_reloads(tiny_run):
    run = tiny_run("positional-transformer", precision="bfloat16")
    predictor = lexiclass.load(run)
    assert predictor.model.get_layer("transformer_encoder").compute_dtype == "bfloat16"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.75
    assert score_test_split(predictor, predictor.label_names, make_dataset())["accuracy"] == metrics["accuracy"]


def test_text_model_refits_on_train_and_validation(tmp_path, monkeypatch):
    from lexiclass.models import nbsvm_ensemble

    sizes = []
    original = nbsvm_ensemble.NBSVMEnsembleClassifier.fit
    monkeypatch.setattr(nbsvm_ensemble.NBSVMEnsembleClassifier, "fit",
                        lambda self, texts, labels: sizes.append(len(texts)) or original(self, texts, labels))
    data = make_dataset()
    info = train(tiny_config("nbsvm-ensemble"), tmp_path / "a", dataset=data, verbose=0)
    assert sizes == [240, 300] and info["refit_on_val"] is True
    assert 0.75 < info["best_value"] <= 1  # validation accuracy of the train-only fit
    sizes.clear()
    train(tiny_config("nbsvm-ensemble", refit_on_val=False), tmp_path / "b", dataset=data, verbose=0)
    assert sizes == [240]


def test_resume_after_early_stopping_had_decided_does_not_train_on(tmp_path, monkeypatch):
    original = callbacks.RunCheckpoint.on_epoch_end

    def killed_when_stale(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 - self.best_epoch >= 1:  # the moment EarlyStopping(patience=1) stops
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks.RunCheckpoint, "on_epoch_end", killed_when_stale)
    out = tmp_path / "run"
    config = tiny_config("bow", epochs=40, early_stopping_patience=1, learning_rate=0.05)
    with pytest.raises(KeyboardInterrupt):
        train(config, out, dataset=make_dataset(), verbose=0)
    done = json.loads((rd.partial_dir(out) / "checkpoints" / "state.json").read_text())["epochs_done"]
    monkeypatch.setattr(callbacks.RunCheckpoint, "on_epoch_end", original)
    info = train(config, out, resume=True, dataset=make_dataset(), verbose=0)
    assert info["epochs_run"] == done < 40


def test_bow_run_with_a_vocabulary_smaller_than_max_tokens_reloads(tmp_path):
    """The n-gram vectors are as wide as the vocabulary, which a small corpus leaves below max_tokens."""
    train(tiny_config("bow", max_tokens=50_000, epochs=1), tmp_path / "r", dataset=make_dataset(), verbose=0)
    predictor = lexiclass.load(tmp_path / "r")
    assert len(predictor.vectorizer.vocabulary) < 50_000
    assert predictor.predict_proba(["great film", "awful"]).shape == (2, 2)
