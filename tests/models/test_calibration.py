"""Temperature scaling: finds the temperature that made probabilities over-confident, never moves the
predicted class, and is what a calibrated n-gram run predicts from then on."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lexiclass
from lexiclass.errors import ConfigError, LexiclassError
from lexiclass.models.calibration import expected_calibration_error, fit_temperature, scaled
from lexiclass.models.checks import softmax
from lexiclass.models.classifier import TemperatureScaled


def overconfident(n=4000, classes=3, sharpen=3.0, seed=0):
    """Labels drawn from softmax(logits), probabilities from softmax(sharpen * logits): T = sharpen undoes it."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, classes))
    truth = softmax(logits)
    labels = np.array([rng.choice(classes, p=row) for row in truth])
    return softmax(sharpen * logits), labels


def test_the_fitted_temperature_undoes_over_confidence():
    probabilities, labels = overconfident()
    found = fit_temperature(probabilities, labels)
    assert found["temperature"] == pytest.approx(3.0, rel=0.1)
    assert found["nll_after"] < found["nll_before"] and found["ece_after"] < found["ece_before"] / 2
    after = scaled(probabilities, found["temperature"])
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(after.argmax(axis=1), probabilities.argmax(axis=1))  # accuracy untouched
    assert expected_calibration_error(labels, after) == pytest.approx(found["ece_after"])


def test_calibrated_probabilities_are_left_alone():
    probabilities, labels = overconfident(sharpen=1.0)
    assert fit_temperature(probabilities, labels)["temperature"] == pytest.approx(1.0, rel=0.1)


def test_scaling_survives_probabilities_of_zero_and_one():
    after = scaled(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), 4.0)
    assert np.isfinite(after).all() and (after.argmax(axis=1)[:2] == [0, 1]).all()
    np.testing.assert_allclose(after[2], [0.5, 0.5])


class Fixed:
    """A stand-in model that always says the same over-confident thing."""

    needs_keras, input_kind, classes_ = False, "text", np.arange(2)

    def predict_proba(self, texts):
        return np.tile([0.999, 0.001], (len(texts), 1))

    def predict_proba_in_batches(self, texts, batch_size):
        return self.predict_proba(texts)


def test_a_scaled_model_keeps_its_base_and_softens_it():
    model = TemperatureScaled(Fixed(), 2.0)
    p = model.predict_proba(["a", "b"])
    np.testing.assert_allclose(p[:, 0], np.sqrt(0.999) / (np.sqrt(0.999) + np.sqrt(0.001)))
    np.testing.assert_array_equal(model.predict_proba_in_batches(["a"], 8), p[:1])
    assert model.needs_keras is False and list(model.classes_) == [0, 1]


def noisy_dataset(noise=0.15, seed=0):
    """Cue-word texts with a share of labels flipped: a model cannot be right about all of them."""
    from lexiclass.data.dataset import TextDataset
    from tests.conftest import make_texts

    rng = np.random.default_rng(seed)
    splits = []
    for n, offset in ((400, 0), (200, 1), (100, 2)):
        texts, labels = make_texts(n, ["neg", "pos"], seed + offset)
        flip = rng.random(n) < noise
        splits += [texts, np.where(flip, 1 - labels, labels).astype(np.int32)]
    return TextDataset(*splits, label_names=["neg", "pos"], source="generated")


def test_an_ngram_run_stores_its_temperature_and_predicts_with_it(tmp_path):
    from lexiclass.training.fit import train
    from tests.conftest import tiny_config

    train(tiny_config("nbsvm"), tmp_path / "run", dataset=noisy_dataset(), verbose=0)
    calibration = json.loads((tmp_path / "run" / "calibration.json").read_text())
    assert calibration["method"] == "temperature" and calibration["texts"] == 200
    assert calibration["ece_after"] <= calibration["ece_before"]
    predictor = lexiclass.load(tmp_path / "run")
    assert isinstance(predictor.classifier, TemperatureScaled)
    assert predictor.classifier.temperature == calibration["temperature"] != 1.0
    texts = ["a good great film", "bad awful boring"]
    np.testing.assert_allclose(predictor.predict_proba(texts),
                               scaled(predictor.classifier.base.predict_proba(texts), calibration["temperature"]))


def test_too_little_validation_evidence_leaves_the_probabilities_alone(tiny_run):
    calibration = json.loads((tiny_run("nbsvm") / "calibration.json").read_text())
    assert calibration == {"method": "none", "temperature": 1.0, "fitted_on": "validation", "texts": 60,
                           "reason": "60 validation texts, fewer than 100"}
    probabilities, labels = overconfident(n=500)
    right = probabilities.argmax(axis=1)  # every prediction right: T would fall to its lower bound
    assert fit_temperature(probabilities, right)["reason"] == ("no validation text is misclassified, so nothing "
                                                              "says how sure to be")


def test_keras_runs_are_not_calibrated_and_refuse_to_be(tiny_run, tmp_path):
    from lexiclass.training.fit import train
    from tests.conftest import make_dataset, tiny_config

    assert not (tiny_run("bow") / "calibration.json").exists()
    with pytest.raises(ConfigError, match=r"^calibration = 'temperature' is for the n-gram models; bow is a Keras"):
        train(tiny_config("bow", calibration="temperature"), tmp_path / "out", dataset=make_dataset(), verbose=0)
    assert not (tmp_path / "out").exists()


def test_a_damaged_calibration_file_is_one_line(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run("nbsvm"), run)
    (run / "calibration.json").write_text('{"temperature": -1}')
    with pytest.raises(LexiclassError, match=r"calibration.json: 'temperature' must be a positive number, got '-1'"):
        lexiclass.load(run)
