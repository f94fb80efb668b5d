"""Multi-label decisions: the probability over which each label is predicted, chosen on validation.

A multi-label model gives one independent probability per label; a text carries every label
whose probability reaches that label's threshold. 0.5 is rarely best: rare labels get low
probabilities, so a threshold chosen on validation finds many more of them (GoEmotions' own
baseline gains 9 points of micro-F1 from one tuned threshold). Rules:

- ``global`` (the default): one threshold for every label, the one of highest validation micro-F1;
- ``per-label``: each label with at least `MIN_POSITIVES` validation examples gets the threshold of
  its own highest validation F1; rarer labels, whose F1 on a handful of examples would pick a
  threshold by chance, share the global one. It fits the validation split more closely: on
  GoEmotions (thresholds chosen on one half of its validation split, scored on the other, ten
  ways) it gave 1.5 (tfidf) and 2.0 (nbsvm-ensemble) points less micro-F1 than ``global``, and
  macro-F1 from 0.1 lower to 1.5 higher (docs/results.md);
- a number: that threshold for every label, nothing chosen.

When every training text has at least one label, a text whose probabilities all stay under their
thresholds still gets its most probable label (``at_least_one``): the data never showed a text without.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError

GRID = np.round(np.arange(0.02, 0.99, 0.01), 2)  # candidate thresholds
MIN_POSITIVES = 10  # validation examples a label needs for a threshold of its own (rule "per-label")
DEFAULT = 0.5  # the threshold when there is no validation split to choose on


def _f1(true_positive, predicted, actual):
    """F1 from counts (arrays broadcast); 0 where nothing was predicted or present."""
    denominator = predicted + actual
    return np.where(denominator > 0, 2 * true_positive / np.maximum(denominator, 1), 0.0)


def _middle_of_best(scores: np.ndarray) -> float:
    """The grid threshold in the middle of those tied for the best score (not the first: on separable data
    every threshold from 0.02 up scores the same, and the middle one leaves the widest margin)."""
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(GRID[best[len(best) // 2]])


def _top_label(probabilities: np.ndarray) -> np.ndarray:
    """(n, L) booleans: each text's most probable label (what ``at_least_one`` always keeps)."""
    top = np.zeros(probabilities.shape, dtype=bool)
    top[np.arange(len(probabilities)), probabilities.argmax(axis=1)] = True
    return top


def _global_threshold(probabilities: np.ndarray, labels: np.ndarray, kept: np.ndarray) -> float:
    """The grid threshold of highest micro-F1 over every label at once, the ``kept`` labels always chosen
    (scored under the rule `decide` applies)."""
    actual = labels.sum()
    scores = []
    for t in GRID:
        over = (probabilities >= t) | kept
        scores.append(_f1((over & labels).sum(), over.sum(), actual))
    return _middle_of_best(np.asarray(scores))


def _label_thresholds(probabilities: np.ndarray, labels: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(L,) the grid threshold of highest F1 for each label separately, the ``kept`` labels always chosen."""
    actual = labels.sum(axis=0)
    scores = np.empty((len(GRID), labels.shape[1]))  # (grid, L); one (n, L) comparison at a time
    for i, t in enumerate(GRID):
        over = (probabilities >= t) | kept
        scores[i] = _f1((over & labels).sum(axis=0), over.sum(axis=0), actual)
    return np.array([_middle_of_best(column) for column in scores.T])


def choose_thresholds(probabilities, labels, rule: str = "global", at_least_one: bool = False) -> dict:
    """The thresholds of ``rule`` ("global", "per-label" or a number as text) for validation ``probabilities``
    (n, L) and 0/1 ``labels`` (n, L); -> the dict `decide` takes (stored as the run's thresholds.json)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    width = probabilities.shape[1]
    if rule not in ("global", "per-label"):
        fixed = float(rule)
        return {"rule": "fixed", "global": fixed, "thresholds": [fixed] * width, "at_least_one": at_least_one}
    if not len(probabilities):
        return {"rule": rule, "global": DEFAULT, "thresholds": [DEFAULT] * width, "at_least_one": at_least_one,
                "reason": "no validation texts to choose on"}
    kept = _top_label(probabilities) if at_least_one else np.zeros(probabilities.shape, dtype=bool)
    shared = _global_threshold(probabilities, labels, kept)
    thresholds = np.full(width, shared)
    if rule == "per-label":
        own = labels.sum(axis=0) >= MIN_POSITIVES
        thresholds[own] = _label_thresholds(probabilities[:, own], labels[:, own], kept[:, own])
    return {"rule": rule, "global": shared, "thresholds": [float(t) for t in thresholds],
            "at_least_one": at_least_one, "min_positives": MIN_POSITIVES}


def micro_f1(chosen, labels) -> float:
    """Micro-averaged F1 of (n, L) boolean decisions against (n, L) 0/1 labels."""
    chosen, labels = np.asarray(chosen, dtype=bool), np.asarray(labels).astype(bool)
    return float(_f1((chosen & labels).sum(), chosen.sum(), labels.sum()))


def decide(probabilities, thresholds: dict) -> np.ndarray:
    """(n, L) booleans: the labels each text carries under ``thresholds`` (from `choose_thresholds`)."""
    probabilities = np.asarray(probabilities)
    chosen = probabilities >= np.asarray(thresholds["thresholds"])[None, :]
    if thresholds.get("at_least_one") and len(probabilities):
        chosen |= _top_label(probabilities)
    return chosen


def chosen_in_order(probabilities, thresholds: dict) -> list[list[int]]:
    """Per row of (n, L) ``probabilities``, the label ids `decide` chooses, most probable first (ties: label
    order, as argmax): what predict, its files, serve and explain report as a text's label set."""
    probabilities = np.asarray(probabilities)
    chosen = decide(probabilities, thresholds)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    return [[int(k) for k in row if keep[k]] for row, keep in zip(order.tolist(), chosen.tolist())]


def read_run_thresholds(run_folder, width: int) -> dict:
    """A multi-label run's thresholds.json, checked against its ``width`` labels; one line naming it if broken."""
    from lexiclass import run_dir as rd

    path = Path(run_folder) / rd.THRESHOLDS_FILE
    return check_thresholds(rd.read_json(path), width, path)


def check_thresholds(value, width: int, path) -> dict:
    """A thresholds.json read back: ``thresholds`` a list of ``width`` numbers in (0, 1); else one line naming
    ``path``."""
    values = value.get("thresholds") if isinstance(value, dict) else None
    if (not isinstance(values, list) or len(values) != width
            or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1 for t in values)):
        raise LexiclassError(f"{path}: 'thresholds' must be a list of {width} numbers between 0 and 1 (one per "
                             "label in labels.json); the run's files do not belong together")
    return value
