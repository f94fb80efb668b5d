"""Writing and reading what a scikit-learn-style model saves, with one-line errors naming the file and the key.

Shared by the n-gram families (nbsvm, nbsvm-ensemble, nbsvm-docvec, nbsvm-dvcosine, tfidf), so each writes its
arrays and checks its header the same way.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from lexiclass.atomic import write_bytes
from lexiclass.errors import LexiclassError


def write_npz(path: Path, **arrays) -> None:
    """``arrays`` as one compressed ``.npz`` file (no pickle), written atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def read_json(path: Path):
    """The JSON value in a saved model's file; a missing or unreadable file is one `LexiclassError` line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LexiclassError(f"{path} is missing: is {path.parent} a saved NBSVM model?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise LexiclassError(f"cannot read {path}: {exc}") from exc


def read_meta(path: Path, format_name: str, what: str, versions) -> dict:
    """A saved model's JSON header, checked to be ``format_name`` in one of ``versions``; one-line errors."""
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise LexiclassError(f"{path}: not a lexiclass {what} (a JSON {type(meta).__name__}, not an object)")
    if meta.get("format") != format_name:
        raise LexiclassError(f"{path}: not a lexiclass {what} (format {meta.get('format')!r})")
    if meta.get("version") not in versions:
        raise LexiclassError(f"{path}: format version {meta.get('version')!r} is not supported "
                             f"(this lexiclass reads versions {', '.join(map(str, versions))})")
    return meta


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
