"""lexiclass: train, evaluate, explain and serve text classifiers on a plain CPU.

Data flows one way: ``data`` (load and split labelled text) -> ``text`` (vectorize
and batch) -> ``embeddings`` (GloVe) -> ``layers`` -> ``models`` -> ``training``
(fit, write a run directory) -> ``inference`` (predict, serve, explain).
"""

__version__ = "0.1.0"


def load(run_dir):
    """Load a finished run directory as a `Predictor` (raw text in, labels out)."""
    from lexiclass.inference.predictor import Predictor

    return Predictor.from_run_dir(run_dir)


__all__ = ["__version__", "load"]
