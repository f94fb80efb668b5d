"""`--model auto`: try the cheap candidates within a time budget and keep the best on validation.

A user who picks a model by name on their own data can easily pick one that loses to a
two-second baseline (issue 14 measured `bow` and the Transformer below TF-IDF + logistic
regression on four datasets of other kinds). `auto` trains each candidate on the training
split only, scores it on the validation split only (macro-F1 when the classes are
imbalanced, accuracy otherwise; multi-label data: micro-F1 at thresholds chosen on validation, macro-F1
with ``class_weight = balanced``), and returns the winner's settings; `train` then fits the
winner as its own model would (n-gram models refit on train + validation) and records
every candidate in run.json. The test split plays no part in the choice.

Candidates run cheapest first, so a small ``time_budget`` still tries the baselines; a
candidate is not started once the budget is spent, nor when less of it is left than the
previous candidate took (the next one costs at least as much), so selection ends within the
budget plus about one candidate. Skipped candidates are listed with the reason. A candidate whose cost grows
with the amount of text (character n-grams with ``char_min_df`` 1) is skipped, and listed
with the reason, when the training texts are long.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from lexiclass.config import TrainConfig
from lexiclass.errors import LexiclassError
from lexiclass.models.classifier import validation_decisions
from lexiclass.models.registry import get_model_spec
from lexiclass.training.metrics import classification_metrics, multi_label_metrics

log = logging.getLogger(__name__)

# (model, settings): word and character TF-IDF (characters suit languages that pack meaning into
# one- and two-syllable pieces, such as Korean), the NBSVM ensemble with its IMDB character range and
# with short character n-grams, NBSVM over character 1-5-grams kept from their first occurrence (the
# best of a validation search on Korean, docs/results.md), and the book's bag of bigrams.
CANDIDATES = (
    ("tfidf", {"tfidf_analyzer": "word", "tfidf_min_n": 1, "tfidf_max_n": 2}),
    ("tfidf", {"tfidf_analyzer": "char", "tfidf_min_n": 1, "tfidf_max_n": 3}),
    ("nbsvm-ensemble", {}),
    ("nbsvm-ensemble", {"char_min_n": 1, "char_ngrams": 3}),
    ("nbsvm", {"nb_analyzer": "char", "char_min_n": 1, "char_ngrams": 5, "char_min_df": 1}),
    ("bow", {}),
)
IMBALANCE_RATIO = 1.5  # largest / smallest training class above this: select by macro-F1
# Character n-grams kept from their first occurrence (char_min_df 1) grow with the amount of training
# text: cheap on short reviews (Korean: 24,000 reviews, 0.85 M characters), millions of features on
# long ones (IMDB: 20,000 reviews, about 26 M characters). Such a candidate runs only below this.
RARE_CHAR_NGRAMS_MAX_CHARS = 5_000_000


def too_costly(settings: dict, data) -> str | None:
    """Why a candidate is not worth its cost on ``data``, or None."""
    if settings.get("char_min_df") == 1:
        chars = sum(len(text) for text in data.train_texts)
        if chars > RARE_CHAR_NGRAMS_MAX_CHARS:
            return (f"skipped: {chars:,} training characters, more than {RARE_CHAR_NGRAMS_MAX_CHARS:,} "
                    "for character n-grams with char_min_df 1")
    return None


def selection_metric(data, config: TrainConfig | None = None) -> str:
    if np.ndim(data.train_labels) == 2:  # multi-label: the metric of its decisions, not of one class
        return "macro_f1" if config is not None and config.class_weight == "balanced" else "micro_f1"
    counts = np.bincount(data.train_labels, minlength=data.num_classes)
    return "macro_f1" if counts.max() > IMBALANCE_RATIO * max(counts.min(), 1) else "accuracy"


def select_model(config: TrainConfig, data, candidates=CANDIDATES) -> tuple[TrainConfig, dict]:
    """(the winner's config, a record of every candidate) for ``config.model == "auto"``."""
    metric = selection_metric(data, config)
    started = time.perf_counter()
    rows = []
    last = 0.0  # seconds the last candidate took: candidates run cheapest first, so the next costs at least that
    for name, settings in candidates:
        row = {"model": name, "settings": settings, metric: None, "seconds": 0.0}
        left = config.time_budget - (time.perf_counter() - started)
        if left <= 0:
            rows.append({**row, "status": "skipped: time budget spent"})
            continue
        if last > left:
            rows.append({**row, "status": f"skipped: would overrun the time budget ({left:.0f} s left, the "
                                          f"previous candidate took {last:.0f} s)"})
            continue
        if reason := too_costly(settings, data):
            rows.append({**row, "status": reason})
            continue
        log.info("auto: trying %s %s", name, settings or "")
        candidate = config.updated({"model": name, **settings, "refit_on_val": False}, source="auto")
        begun = time.perf_counter()
        try:
            row[metric] = validation_score(candidate, data, metric)
            row["status"] = "ok"
        except LexiclassError as exc:  # e.g. no n-grams left on a tiny dataset: report it, try the others
            row["status"] = f"failed: {exc}"
        row["seconds"] = round(time.perf_counter() - begun, 1)
        last = row["seconds"]
        log.info("auto: %s validation %s = %s (%.0f s)", name, metric, row[metric], row["seconds"])
        rows.append(row)
    tried = [r for r in rows if r["status"] == "ok"]
    if not tried:
        raise LexiclassError(f"--model auto: no candidate could be trained ({rows[0]['status']})")
    best = max(tried, key=lambda r: r[metric])  # max keeps the first (cheapest) of equal scores
    reason = (f"highest validation {metric} ({best[metric]:.4f}) of {len(tried)} candidates tried"
              f"{'; classes are imbalanced' if metric == 'macro_f1' else ''}")
    record = {"metric": metric, "winner": {"model": best["model"], "settings": best["settings"]},
              "reason": reason, "candidates": rows, "seconds": round(time.perf_counter() - started, 1)}
    winner = config.updated({"model": best["model"], **best["settings"]}, source="auto")
    return winner, record


def validation_score(config: TrainConfig, data, metric: str = "accuracy") -> float:
    """Train ``config.model`` on the training split alone and score it on the validation split."""
    model = get_model_spec(config.model).create(config, data.num_classes)
    model.fit(data.train_texts, data.train_labels, validation=(data.val_texts, data.val_labels))
    probabilities = model.predict_proba(data.val_texts)
    if np.ndim(data.val_labels) == 2:  # thresholds chosen on validation, as `train` will choose them
        thresholds = validation_decisions(data, probabilities, config.threshold)["thresholds"]
        return float(multi_label_metrics(data.val_labels, probabilities, data.label_names, thresholds)[metric])
    return float(classification_metrics(data.val_labels, probabilities, data.label_names)[metric])
