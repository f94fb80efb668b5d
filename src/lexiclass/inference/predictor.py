"""`Predictor`: a finished run directory as raw text in, label names and probabilities out.

The calls follow scikit-learn and Hugging Face pipelines::

    predictor = lexiclass.load("runs/pt")
    predictor.predict("A wonderful film.")        # {"label": "pos", "probabilities": {"neg": .., "pos": ..}}
    predictor.predict(["A", "B"], top_k=1)        # [{...}, {...}], each with its most probable class only
    predictor.predict_proba(["A", "B"])           # (2, classes) array; predict_proba("A") -> (classes,)
    predictor.labels                              # class names, index = class id

A multi-label run gives every label its own probability and predicts the set of labels over their
thresholds (the run's thresholds.json): ``{"labels": ["joy", "love"], "probabilities": {...}}``.

Every text is checked before it reaches TensorFlow: a non-string, or a string that cannot
be encoded as UTF-8 (a lone surrogate, e.g. from undecodable bytes read with
``errors="surrogateescape"``), raises `LexiclassError` naming its index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from pathlib import Path
from typing import Any, overload

import numpy as np

from lexiclass import run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.models.onnx_export import OnnxTextClassifier, read_export_info
from lexiclass.models.thresholds import chosen_in_order, read_run_thresholds

Texts = str | Iterable[str]


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def text_problem(text: str) -> str | None:
    """What makes the string ``text`` unusable as model input, or None if it is fine.

    TensorFlow converts texts to UTF-8; a lone UTF-16 surrogate (U+D800 to U+DFFF, valid
    in a Python str and in JSON escapes, but not encodable) makes it fail for the whole batch.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}"
    return None


def check_texts(texts: Texts) -> tuple[list[str], bool]:
    """``(texts as a list, whether one bare string was given)``, or `LexiclassError` naming the bad item."""
    if isinstance(texts, str):
        texts, single = [texts], True
    elif texts is None or isinstance(texts, (bytes, bytearray, Mapping, Set)) or not isinstance(texts, Iterable):
        raise LexiclassError(f"texts must be a string or a list of strings, got {_type_name(texts)}")
    else:
        texts, single = list(texts), False
    for i, text in enumerate(texts):
        where = "text" if single else f"texts[{i}]"
        if not isinstance(text, str):
            hint = " (decode it to str first)" if isinstance(text, (bytes, bytearray)) else ""
            raise LexiclassError(f"{where} must be a string, got {_type_name(text)}{hint}")
        problem = text_problem(text)
        if problem:
            raise LexiclassError(f"{where} {problem}")
    return texts, single


def check_positive(name: str, value: Any) -> int:
    """``value`` as an int >= 1, or `LexiclassError` (bools are not counts)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise LexiclassError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


class Predictor:
    """A run's fitted `TextClassifier` with its config and label names. Build it with `from_run_dir`."""

    def __init__(self, classifier, config, label_names, info=None, run_dir=None, thresholds=None):
        self.classifier = classifier
        self.config = config
        self.label_names = list(label_names)
        self.info = info or {}
        self.run_dir = run_dir
        self.thresholds = thresholds  # multi-label runs: `lexiclass.models.thresholds` decisions; else None

    @property
    def multi_label(self) -> bool:
        """Whether each text gets a set of labels (independent probabilities) instead of one class."""
        return self.thresholds is not None

    @classmethod
    def from_files(cls, run_dir, config, label_names, info=None) -> "Predictor":
        """Load the run's model files, checked against its labels (Keras models with plain `load_model`)."""
        from lexiclass.models.registry import get_model_spec

        classifier = get_model_spec(config.model).load(Path(run_dir), config, len(label_names))
        thresholds = read_run_thresholds(run_dir, len(label_names)) if config.multi_label else None
        return cls(classifier, config, label_names, info, Path(run_dir), thresholds)

    @classmethod
    def from_run_dir(cls, run_dir) -> "Predictor":
        run_dir = Path(run_dir)
        info = rd.require_complete(run_dir)
        config = _read_config(run_dir)
        return cls.from_files(run_dir, config, rd.read_labels(run_dir), info)

    @classmethod
    def from_export_dir(cls, folder) -> "Predictor":
        """An ONNX export folder (``lexiclass export RUN --format onnx [--int8]``), predicting under ONNX Runtime
        (`lexiclass.models.onnx_export`); ``info`` is its export.json."""
        folder = Path(folder)
        info = read_export_info(folder)
        config = _read_config(folder)
        labels = rd.read_labels(folder)
        classifier = OnnxTextClassifier.load_export(folder, config, len(labels))
        thresholds = read_run_thresholds(folder, len(labels)) if config.multi_label else None
        return cls(classifier, config, labels, info, folder, thresholds)

    @classmethod
    def load(cls, folder) -> "Predictor":
        """A run folder, or an ONNX export folder (export.json, no run.json): what `lexiclass.load` reads."""
        if rd.is_export(folder):
            return cls.from_export_dir(folder)
        return cls.from_run_dir(folder)

    @property
    def exported(self) -> bool:
        """Whether this is an export folder's network (ONNX Runtime), not the run's own Keras or n-gram model."""
        return isinstance(self.classifier, OnnxTextClassifier)

    # What explain, serve and export read of a Keras run: its network, vectorizer and kind of input.
    @property
    def model(self):
        """The Keras network of a Keras run; the classifier itself for the n-gram models."""
        return getattr(self.classifier, "network_", self.classifier)

    @property
    def vectorizer(self):
        return getattr(self.classifier, "vectorizer_", None)

    @property
    def input_kind(self) -> str:
        """``"sequence"`` (token ids) or ``"bow"`` (n-gram vectors) for Keras runs, ``"text"`` for the others."""
        return self.classifier.input_kind

    @property
    def labels(self) -> list[str]:
        """Class names; the index of a name is its class id (the column in `predict_proba`)."""
        return list(self.label_names)

    def warm_up(self) -> None:
        """Load ahead what predicting many texts at once needs (`TextClassifier.warm_up`)."""
        self.classifier.warm_up()

    def predict_proba(self, texts: Texts, batch_size: int | None = None) -> np.ndarray:
        """(len(texts), classes) probabilities in input order; one string gives (classes,).

        ``batch_size``: texts per model call (default: the run's training batch size; the
        n-gram models take at least ``TEXT_BATCH`` per call, which spreads their per-call
        costs and lets them use their threads).
        """
        texts, single = check_texts(texts)
        batch_size = self.config.batch_size if batch_size is None else check_positive("batch_size", batch_size)
        if texts:
            probs = self.classifier.predict_proba_in_batches(texts, batch_size)
        else:
            probs = np.zeros((0, len(self.label_names)))
        probs = probs.reshape(len(texts), len(self.label_names))
        return probs[0] if single else probs

    @overload
    def predict(self, texts: str, batch_size: int | None = None, top_k: int | None = None) -> dict: ...

    @overload
    def predict(self, texts: Iterable[str], batch_size: int | None = None, top_k: int | None = None) -> list[dict]: ...

    def predict(self, texts: Texts, batch_size: int | None = None, top_k: int | None = None) -> dict | list[dict]:
        """Per text ``{"label": name, "probabilities": {name: p, ...}}``; one string gives one dict.
        Multi-label runs: ``{"labels": [names over their thresholds, most probable first], "probabilities": ...}``.

        ``top_k``: keep only the k most probable classes in "probabilities", highest first
        (default: every class, in label order).
        """
        if top_k is not None:
            top_k = check_positive("top_k", top_k)
        probs = self.predict_proba(texts, batch_size=batch_size)
        if probs.ndim == 1:
            return format_predictions(self.label_names, probs[None, :], top_k, self.thresholds)[0]
        return format_predictions(self.label_names, probs, top_k, self.thresholds)


def _read_config(folder: Path):
    """The `TrainConfig` in a run or export folder's config.json, checked; one line naming the file if not."""
    from lexiclass.config import TrainConfig

    return TrainConfig.from_dict(rd.read_json(folder / rd.CONFIG_FILE), source=str(folder / rd.CONFIG_FILE))


def format_predictions(label_names: list[str], probs: np.ndarray, top_k: int | None = None,
                       thresholds: dict | None = None) -> list[dict]:
    """(n, classes) probabilities -> per row ``{"label": name, "probabilities": {name: p}}`` (CLI, Python, HTTP);
    with a multi-label run's ``thresholds``, ``{"labels": [chosen names, most probable first], ...}``.

    With ``top_k``, "probabilities" holds the k most probable classes, highest first.
    """
    if thresholds is not None:
        return _label_sets(label_names, probs, top_k, thresholds)
    if top_k is None:
        return [{"label": label_names[int(row.argmax())],
                 "probabilities": {name: float(p) for name, p in zip(label_names, row)}}
                for row in probs]
    out = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:top_k]  # ties keep label order, like argmax
        out.append({"label": label_names[int(best[0])],
                    "probabilities": {label_names[int(i)]: float(row[i]) for i in best}})
    return out


def _label_sets(label_names: list[str], probs: np.ndarray, top_k: int | None, thresholds: dict) -> list[dict]:
    """Multi-label rows: the labels ``decide`` chooses, most probable first, and the probabilities."""
    out = []
    for row, ids in zip(probs, chosen_in_order(probs, thresholds)):
        shown = np.argsort(-row, kind="stable")[:top_k] if top_k is not None else range(len(label_names))
        out.append({"labels": [label_names[i] for i in ids],
                    "probabilities": {label_names[int(i)]: float(row[i]) for i in shown}})
    return out
