"""Reading what a scikit-learn-style model saved, with one-line errors naming the file and the key.

Shared by the n-gram families (nbsvm, nbsvm-ensemble, tfidf), so each checks its header the same way.
"""

from __future__ import annotations

from pathlib import Path

from lexiclass.errors import LexiclassError


def saved_params(meta: dict, path: Path, estimator) -> dict:
    """The header's ``hyperparameters``, checked to be an object of ``estimator``'s own parameter names (a
    damaged or edited header is one line naming the file and the key, not a TypeError)."""
    params = meta.get("hyperparameters")
    if not isinstance(params, dict):
        raise LexiclassError(f"{path}: 'hyperparameters' must be an object of settings, got {type(params).__name__}")
    unknown = sorted(set(params) - set(estimator().get_params()))
    if unknown:
        raise LexiclassError(f"{path}: 'hyperparameters' has unknown settings {', '.join(map(repr, unknown))}")
    return params
