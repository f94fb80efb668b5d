"""`TextClassifier`: the one interface of every model family, Keras network or n-gram model.

Every command uses a model the same way, whatever its family (scikit-learn's estimator contract)::

    model = get_model_spec(name).create(config, num_classes)   # hyperparameters only, nothing learned
    model.fit(texts, labels, validation=(val_texts, val_labels))
    model.predict_proba(texts)                                  # (n, classes), each row sums to 1
    model.save_to_run(run_folder)
    model = get_model_spec(name).load(run_folder, config, num_classes)

Learned state ends in ``_`` (``classes_``); using an unfitted model raises `LexiclassError`.
`fit_run` is training inside a run folder (checkpoints, resume, history); models fitted in one call
inherit the version here: fit on the training split, score validation, refit on train + validation.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lexiclass import run_dir as rd
from lexiclass.errors import ConfigError, LexiclassError
from lexiclass.models.calibration import fit_temperature, scaled
from lexiclass.models.checks import is_multi_label
from lexiclass.models.thresholds import choose_thresholds, decide, micro_f1

log = logging.getLogger(__name__)

TEXT_BATCH = 1024  # texts per predict_proba call of an n-gram model: spreads its per-call costs over many texts


@dataclass(frozen=True)
class FitSession:
    """How `TextClassifier.fit_run` trains in a run folder.

    refit_on_val: after scoring validation, fit again on train + validation (models fitted in one call).
    calibrate: fit a temperature on the validation probabilities (see `lexiclass.models.calibration`).
    threshold: multi-label data: the rule of `lexiclass.models.thresholds.choose_thresholds`.
    state: the checkpoint state of an interrupted run to resume (Keras models), None for a new run.
    verbose: Keras' fit verbosity. callbacks: extra Keras callbacks. run_id: written into checkpoints.
    """

    refit_on_val: bool = False
    calibrate: bool = False
    threshold: str = "global"
    state: dict | None = None
    verbose: int = 0
    callbacks: tuple = field(default_factory=tuple)
    run_id: str = ""


class TextClassifier:
    """Raw texts in, class probabilities out. Subclasses implement `fit`, `predict_proba`, `save`, `load`.

    Hyperparameters follow scikit-learn's contract (``__init__`` stores its arguments under their own names;
    `get_params` / `set_params`) without importing scikit-learn: its import alone is most of an n-gram
    model's start-up, and prediction needs none of it.
    """

    needs_keras = False  # whether training or predicting imports Keras and its backend framework
    input_kind = "text"  # what the model takes: raw "text"; Keras networks "sequence" (token ids) or "bow"

    @classmethod
    def _param_names(cls) -> list[str]:
        """The arguments of ``__init__``: the model's hyperparameters."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict:
        """{name: value} of the hyperparameters; ``deep`` adds a nested model's as ``name__setting``."""
        params = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(params.items()):
                if isinstance(value, TextClassifier):
                    params.update({f"{name}__{key}": item for key, item in value.get_params().items()})
        return params

    def set_params(self, **params) -> "TextClassifier":
        """Set hyperparameters by name (``name__setting`` for a nested model's); returns the model."""
        names = self._param_names()
        for key, value in params.items():
            name, _, nested = key.partition("__")
            if name not in names:
                raise LexiclassError(f"{type(self).__name__} has no hyperparameter {name!r} "
                                     f"(it has {', '.join(names)})")
            if nested:
                getattr(self, name).set_params(**{nested: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = {k: v for k, v in self.get_params(deep=False).items() if not _same(v, defaults.get(k))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def fit(self, texts, labels, validation=None) -> "TextClassifier":
        raise NotImplementedError

    def predict_proba(self, texts) -> np.ndarray:
        raise NotImplementedError

    def predict(self, texts) -> np.ndarray:
        """The most probable class id of each text; multi-label models: (n, L) 0/1, each label at probability
        0.5 or more (a run decides with the thresholds it chose on validation: `lexiclass.load(run).predict`)."""
        probabilities = self.predict_proba(texts)
        if getattr(self, "multi_label_", False):
            return (probabilities >= 0.5).astype(np.uint8)
        return np.argmax(probabilities, axis=1)

    def save(self, directory) -> Path:
        raise NotImplementedError

    def predict_proba_in_batches(self, texts: list[str], batch_size: int) -> np.ndarray:
        """(len(texts), classes) for any number of texts, ``max(batch_size, TEXT_BATCH)`` per call."""
        step = max(batch_size, TEXT_BATCH)
        return np.concatenate([self.predict_proba(texts[i:i + step]) for i in range(0, len(texts), step)])

    def warm_up(self) -> None:
        """Load, ahead of the first large request, what predicting many texts needs and a few do not
        (a server calls it in the background once it answers). Default: nothing to load."""

    def refit(self, texts, labels) -> "TextClassifier":
        """Fit again, in place, on ``texts`` (a model may keep the parts it learned without labels)."""
        return self.fit(texts, labels)

    # --- inside a run folder -----------------------------------------------------------
    def model_path(self, run_folder) -> Path:
        """Where `save_to_run` puts the model in a run folder (its size goes into run.json)."""
        return Path(run_folder) / rd.MODEL_DIR

    def save_to_run(self, run_folder) -> None:
        """Save into the run folder's model folder, which appears whole or not at all."""
        final = self.model_path(run_folder)
        tmp = final.with_name(f".{final.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.save(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)

    def fit_run(self, data, folder: Path, session: FitSession) -> dict:
        """Fit on ``data``'s training split, score its validation split, and refit on both with
        ``session.refit_on_val`` (settings were chosen on validation; the final model may learn
        from every labelled text). Returns the run's training summary, its history included."""
        started = time.perf_counter()
        self.fit(data.train_texts, data.train_labels)
        val_probabilities = self.predict_proba(data.val_texts) if len(data.val_texts) else None
        if is_multi_label(data.train_labels):
            extra = validation_decisions(data, val_probabilities, session.threshold)
            monitor, score = "val_micro_f1", extra["thresholds"].get("val_micro_f1", float("nan"))
        else:
            extra = self._validation_calibration(data, val_probabilities, session)
            monitor = "val_accuracy"
            score = float(np.mean(val_probabilities.argmax(axis=1) == np.asarray(data.val_labels))) \
                if val_probabilities is not None else float("nan")
        log.info("fit on %d texts in %.0f s; validation %s %.4f", len(data.train_texts), time.perf_counter() - started,
                 monitor[4:].replace("_", " "), score)
        if session.refit_on_val and len(data.val_texts):
            self.refit(data.train_texts + data.val_texts, np.concatenate([data.train_labels, data.val_labels]))
        seconds = time.perf_counter() - started
        row = {"epoch": 1, monitor: score, "seconds": round(seconds, 3)}
        return {"best_epoch": 1, "epochs_run": 1, "monitor": monitor, "best_value": score,
                "refit_on_val": bool(session.refit_on_val), "history": [row], **extra,
                "seconds_per_epoch_median": seconds, "fit_seconds_this_session": seconds}

    @staticmethod
    def _validation_calibration(data, val_probabilities, session: FitSession) -> dict:
        """{"calibration": ...} fitted on validation when the session asks for it, else {}."""
        if not session.calibrate or val_probabilities is None:
            return {}
        calibration = fit_temperature(val_probabilities, data.val_labels)
        log.info("calibration: %s", calibration.get("reason") or f"temperature {calibration['temperature']:.3f}")
        return {"calibration": calibration}


class NetworkClassifier(TextClassifier):
    """A network behind the run's vectorizer: ``vectorizer_`` turns texts into token ids or n-gram vectors,
    ``network_`` (anything with ``predict_on_batch``: a Keras model, an ONNX Runtime session) gives their
    probabilities, in length-bucketed batches (`lexiclass.text.pipeline.predict_probabilities`).
    Subclasses set ``input_kind``, ``num_classes`` and ``config``, and say in ``unfitted`` how to get a network."""

    unfitted = "call fit() first"

    @property
    def multi_label_(self) -> bool:
        """Whether the network has one sigmoid per label (its run's config says so), as the n-gram models' flag."""
        return bool(getattr(self.config, "multi_label", False))

    def _check_fitted(self) -> None:
        if getattr(self, "network_", None) is None:
            raise LexiclassError(f"this {type(self).__name__} is not trained yet: {self.unfitted}")

    def predict_proba(self, texts, batch_size: int | None = None) -> np.ndarray:
        """(len(texts), classes), in input order; texts are batched by length (see `text.pipeline`)."""
        # Deferred: the sequence pipeline (batching, vectorizer, sub-words) is no part of an n-gram run's start-up.
        from lexiclass.text.pipeline import predict_probabilities

        self._check_fitted()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.num_classes))
        return predict_probabilities(self.network_, self.vectorizer_, texts, self.config, self.input_kind,
                                     batch_size)

    def predict_proba_in_batches(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.predict_proba(texts, batch_size=batch_size)


def validation_decisions(data, val_probabilities, rule: str) -> dict:
    """Multi-label: {"thresholds": ...} chosen by ``rule`` on the validation probabilities of a model fitted on
    the training split only, with the validation micro-F1 they give."""
    at_least_one = bool(np.asarray(data.train_labels).sum(axis=1).min() > 0)  # every training text has a label
    if val_probabilities is None:
        return {"thresholds": choose_thresholds(np.zeros((0, data.num_classes)), np.zeros((0, data.num_classes)),
                                                rule, at_least_one)}
    thresholds = choose_thresholds(val_probabilities, data.val_labels, rule, at_least_one)
    # Chosen on a model that never saw the validation texts; a refit on train + validation keeps them.
    thresholds["val_micro_f1"] = micro_f1(decide(val_probabilities, thresholds), data.val_labels)
    thresholds["chosen_on"] = "validation predictions of the model fitted on the training split"
    log.info("thresholds (%s): %s", thresholds["rule"], ", ".join(f"{t:.2f}" for t in thresholds["thresholds"]))
    return {"thresholds": thresholds}


def _same(value, default) -> bool:
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001  e.g. arrays: not a plain default
        return False


def class_weights(labels, num_classes: int, mode: str | None) -> dict[int, float] | None:
    """``balanced``: class k weighs n / (K * n_k), as scikit-learn's ``class_weight="balanced"``."""
    if mode != "balanced":
        return None
    if np.ndim(labels) == 2:
        raise ConfigError("class_weight = 'balanced' weighs classes of single-label data; a Keras network "
                          "cannot weigh the labels of multi-label data (use none, or an n-gram model)")
    counts = np.bincount(np.asarray(labels), minlength=num_classes)
    return {k: float(len(labels) / (num_classes * count)) for k, count in enumerate(counts) if count}


def sklearn_class_weight(config) -> str | None:
    """``TrainConfig.class_weight`` ("none" | "balanced") as scikit-learn takes it."""
    return "balanced" if getattr(config, "class_weight", "none") == "balanced" else None


class TemperatureScaled(TextClassifier):
    """``base``'s probabilities at ``temperature``; everything else is ``base``'s.

    Args:
        base: a fitted `TextClassifier`.
        temperature: > 0; 1 leaves the probabilities as they are.
    """

    def __init__(self, base: TextClassifier, temperature: float):
        self.base = base
        self.temperature = temperature

    @property
    def needs_keras(self) -> bool:
        return self.base.needs_keras

    @property
    def input_kind(self) -> str:
        return self.base.input_kind

    @property
    def classes_(self) -> np.ndarray:
        return self.base.classes_

    def fit(self, texts, labels, validation=None) -> "TemperatureScaled":
        self.base.fit(texts, labels, validation)
        return self

    def predict_proba(self, texts) -> np.ndarray:
        return scaled(self.base.predict_proba(texts), self.temperature)

    def predict_proba_in_batches(self, texts: list[str], batch_size: int) -> np.ndarray:
        return scaled(self.base.predict_proba_in_batches(texts, batch_size), self.temperature)

    def warm_up(self) -> None:
        self.base.warm_up()

    def save(self, directory):
        return self.base.save(directory)

    def model_path(self, run_folder):
        return self.base.model_path(run_folder)
