"""`Predictor`: a finished run directory as raw text in, label names and probabilities out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lexiclass import run_dir as rd


class Predictor:
    """Holds a run's model, vectorizer, config and label names. Build it with `from_run_dir`."""

    def __init__(self, model, vectorizer, config, label_names, info=None, run_dir=None):
        self.model = model
        self.vectorizer = vectorizer
        self.config = config
        self.label_names = list(label_names)
        self.info = info or {}
        self.run_dir = run_dir

    @classmethod
    def from_files(cls, run_dir, config, label_names, info=None) -> "Predictor":
        """Load the model (and vectorizer) files of ``run_dir``; Keras models with plain `load_model`."""
        from lexiclass.models.registry import get_model_spec
        from lexiclass.text.vectorizer import Vectorizer

        run_dir = Path(run_dir)
        spec = get_model_spec(config.model)
        if spec.inputs == "text":
            return cls(spec.load(run_dir / rd.MODEL_DIR), None, config, label_names, info, run_dir)
        import keras

        import lexiclass.layers  # noqa: F401  registers the custom layers for load_model

        model = keras.models.load_model(run_dir / rd.MODEL_FILE)
        return cls(model, Vectorizer.load(run_dir), config, label_names, info, run_dir)

    @classmethod
    def from_run_dir(cls, run_dir) -> "Predictor":
        from lexiclass.config import TrainConfig

        run_dir = Path(run_dir)
        info = rd.require_complete(run_dir)
        config = TrainConfig.from_dict(rd.read_json(run_dir / rd.CONFIG_FILE), source=str(run_dir / rd.CONFIG_FILE))
        return cls.from_files(run_dir, config, rd.read_json(run_dir / rd.LABELS_FILE), info)

    @property
    def input_kind(self) -> str:
        from lexiclass.models.registry import get_model_spec

        return get_model_spec(self.config.model).inputs

    def predict_proba(self, texts) -> np.ndarray:
        """(len(texts), num_classes) probabilities in input order."""
        from lexiclass.text.pipeline import predict_probabilities

        if isinstance(texts, str):
            raise TypeError("predict_proba() takes a list of texts, not one string")
        texts = list(texts)
        if self.input_kind == "text":
            probs = self.model.predict_proba(texts) if texts else np.zeros((0, len(self.label_names)))
        else:
            probs = predict_probabilities(self.model, self.vectorizer, texts, self.config, self.input_kind)
        return probs.reshape(len(texts), len(self.label_names))

    def predict(self, texts) -> list[dict]:
        """Per text: ``{"label": name, "probabilities": {name: p, ...}}``."""
        return format_predictions(self.label_names, self.predict_proba(texts))


def format_predictions(label_names: list[str], probs: np.ndarray) -> list[dict]:
    """(n, classes) probabilities -> per row ``{"label": name, "probabilities": {name: p}}`` (CLI, Python, HTTP)."""
    return [{"label": label_names[int(row.argmax())],
             "probabilities": {name: float(p) for name, p in zip(label_names, row)}}
            for row in probs]
