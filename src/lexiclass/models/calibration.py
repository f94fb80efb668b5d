"""Probabilities that mean what they say: expected calibration error, and temperature scaling.

An n-gram model fitted to separate its training texts says 0.99999 for texts it gets right 80% of
the time. Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") divides
every log-probability by one number T fitted on the validation split, p_k ∝ p_k^(1/T): T > 1 softens,
T < 1 sharpens, and the most probable class never changes, so accuracy is untouched.

    calibration = fit_temperature(validation_probabilities, validation_labels)   # {"temperature": T, ...}
    scaled(probabilities, calibration["temperature"])                             # what the run predicts

`lexiclass.models.classifier.TemperatureScaled` applies it to any model.
"""

from __future__ import annotations

import numpy as np

from lexiclass.models.checks import softmax

CALIBRATION_BINS = 15  # equal-width confidence bins, as in Guo et al. 2017
TEMPERATURE_RANGE = (0.05, 20.0)  # a fit at either end means the validation split says little
MIN_TEXTS = 100  # fewer validation texts than this leave the probabilities as the model gives them


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """How far the predicted class's probability is from how often it is right: the mean over texts of
    |accuracy - confidence| within each confidence bin, weighted by the bin's size (0 = calibrated)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)  # (n,)
    correct = probabilities.argmax(axis=1) == labels  # (n,)
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # bin of each text; 1.0 goes in the last
    error = 0.0
    for b in np.unique(which):
        members = which == b
        error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(n, K) probabilities with every log-probability divided by ``temperature``, rows summing to 1."""
    log_p = np.log(np.maximum(np.asarray(probabilities, dtype=np.float64), np.finfo(np.float64).tiny))
    return softmax(log_p / temperature)


def _nll(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = scaled(probabilities, temperature)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(p, np.finfo(np.float64).tiny))))


def why_not_calibrate(probabilities: np.ndarray, labels: np.ndarray) -> str | None:
    """Why these validation predictions cannot choose a temperature, or None. With no mistake at all the
    likelihood keeps rising as T falls to 0: it would make every prediction certain, from too little evidence."""
    if len(labels) < MIN_TEXTS:
        return f"{len(labels)} validation texts, fewer than {MIN_TEXTS}"
    if (probabilities.argmax(axis=1) == labels).all():
        return "no validation text is misclassified, so nothing says how sure to be"
    return None


def fit_temperature(probabilities, labels) -> dict:
    """The temperature that minimises the negative log-likelihood of ``labels`` (one number, bounded search
    over log T), with the validation NLL and ECE before and after: what calibration.json records.
    Temperature 1 (no change), with the reason, when `why_not_calibrate` finds one."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if reason := why_not_calibrate(probabilities, labels):
        return {"method": "none", "temperature": 1.0, "fitted_on": "validation", "texts": int(len(labels)),
                "reason": reason}
    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])
    from scipy.optimize import minimize_scalar  # deferred: only fitting needs it; prediction's start-up stays short

    found = minimize_scalar(lambda log_t: _nll(probabilities, labels, float(np.exp(log_t))), bounds=(low, high),
                            method="bounded", options={"xatol": 1e-4})
    temperature = float(np.exp(found.x))
    after = scaled(probabilities, temperature)
    return {"method": "temperature", "temperature": temperature, "fitted_on": "validation",
            "texts": int(len(labels)), "nll_before": _nll(probabilities, labels, 1.0),
            "nll_after": _nll(probabilities, labels, temperature),
            "ece_before": expected_calibration_error(labels, probabilities),
            "ece_after": expected_calibration_error(labels, after)}
