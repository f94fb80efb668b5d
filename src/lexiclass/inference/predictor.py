"""`Predictor`: a finished run directory as raw text in, label names and probabilities out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lexiclass.training import run_dir as rd


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
    def from_run_dir(cls, run_dir) -> "Predictor":
        import keras

        import lexiclass.layers  # noqa: F401  registers the custom layers for load_model
        from lexiclass.config import TrainConfig
        from lexiclass.text.vectorizer import Vectorizer

        run_dir = Path(run_dir)
        info = rd.require_complete(run_dir)
        config = TrainConfig.from_dict(rd.read_json(run_dir / rd.CONFIG_FILE), source=str(run_dir / rd.CONFIG_FILE))
        model = keras.models.load_model(run_dir / rd.MODEL_FILE)
        return cls(model, Vectorizer.load(run_dir), config, rd.read_json(run_dir / rd.LABELS_FILE), info, run_dir)

    @property
    def input_kind(self) -> str:
        from lexiclass.models.registry import get_model_spec

        return get_model_spec(self.config.model).inputs

    def predict_proba(self, texts) -> np.ndarray:
        """(len(texts), num_classes) probabilities in input order."""
        from lexiclass.text.pipeline import predict_probabilities

        if isinstance(texts, str):
            raise TypeError("predict_proba() takes a list of texts, not one string")
        probs = predict_probabilities(self.model, self.vectorizer, texts, self.config, self.input_kind)
        return probs.reshape(len(texts), len(self.label_names))

    def predict(self, texts) -> list[dict]:
        """Per text: ``{"label": name, "probabilities": {name: p, ...}}``."""
        probs = self.predict_proba(texts)
        return [
            {"label": self.label_names[int(row.argmax())],
             "probabilities": {name: float(p) for name, p in zip(self.label_names, row)}}
            for row in probs
        ]
