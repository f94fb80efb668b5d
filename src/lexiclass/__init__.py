"""lexiclass: train, evaluate, explain and serve text classifiers on a plain CPU.

Data flows one way: ``data`` (load and split labelled text) -> ``text`` (vectorize
and batch) -> ``embeddings`` (GloVe) -> ``layers`` -> ``models`` -> ``training``
(fit, write a run directory) -> ``inference`` (predict, serve, explain).

Example::

    import lexiclass

    info = lexiclass.train(out="runs/bow", model="bow", dataset="reviews.csv", epochs=5)
    predictor = lexiclass.load("runs/bow")
    predictor.predict("A wonderful film.")  # {"label": ..., "probabilities": {...}}
"""

from __future__ import annotations

import os

import lexiclass.layers  # noqa: F401  registers the Keras layers (lazily: Keras is not imported here)
from lexiclass.config import TrainConfig

__version__ = "0.1.0"


def load(run_dir: str | os.PathLike):
    """Load a finished run directory, or an ONNX export of one (`lexiclass export --format onnx`), as a
    `Predictor` (raw text in, labels out)."""
    from lexiclass.inference.predictor import Predictor

    return Predictor.load(run_dir)


def train(config: TrainConfig | None = None, out: str | os.PathLike | None = None, *, resume: bool = False,
          overwrite: bool = False, **settings) -> dict:
    """Train a model and write a complete run directory at ``out``; return its ``run.json`` contents.
    The arguments come in the order of `lexiclass.training.fit.train`, which this calls.

    Args:
        config: a `TrainConfig` (default: the defaults); ``settings`` (any of its fields, e.g.
            ``model="bow"``, ``epochs=5``) are applied on top and checked like command-line flags.
        out: the run directory to create. It appears only when the run is complete.
        resume: continue an interrupted run for ``out`` with its saved settings.
        overwrite: replace an existing run in ``out`` once the new one is complete.
    """
    import warnings

    from lexiclass.training.fit import train as fit

    if isinstance(config, (str, os.PathLike)):  # the order before 0.2: train(out, config=None, **settings)
        warnings.warn("lexiclass.train(out, config) is deprecated: call lexiclass.train(config, out) or "
                      "lexiclass.train(out=..., **settings)", DeprecationWarning, stacklevel=2)
        config, out = (out if isinstance(out, TrainConfig) else None), config
    if out is None:
        raise TypeError("lexiclass.train() needs out=, the run directory to create")
    config = (config or TrainConfig()).updated(settings, source="train()") if settings else (config or TrainConfig())
    return fit(config, out, resume=resume, overwrite=overwrite)


__all__ = ["TrainConfig", "__version__", "load", "train"]
