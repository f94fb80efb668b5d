"""What the scikit-learn-style models (nbsvm, nbsvm-ensemble, nbsvm-docvec, nbsvm-dvcosine, tfidf) check and
compute alike: their inputs, whether they are fitted, and probabilities from scores; one-line errors."""

from __future__ import annotations

import numpy as np

from lexiclass.errors import DataError, LexiclassError


def check_texts(texts, what: str = "texts") -> list[str]:
    """``texts`` as a non-empty list of strings; a `DataError` naming ``what`` (and the index) otherwise."""
    if isinstance(texts, str):
        raise DataError(f"{what}: expected a list of strings, got a single string")
    try:
        texts = list(texts)
    except TypeError:
        raise DataError(f"{what}: expected a list of strings, got {type(texts).__name__}") from None
    if not texts:
        raise DataError(f"{what}: the list is empty")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"{what}[{i}]: expected a string, got {type(text).__name__}")
    return texts


def check_labels(labels, n_texts: int) -> tuple[np.ndarray, int]:
    """(int64 class ids, K): one id per text, every class 0..K-1 present, K >= 2; a `DataError` otherwise.
    Multi-label data, an (n, L) 0/1 matrix, gives (the matrix as uint8, L): every label needs an example."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and len(labels) == n_texts:
        return check_label_matrix(labels)
    if labels.ndim != 1 or len(labels) != n_texts:
        raise DataError(f"labels: expected {n_texts} labels (one per text), got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise DataError(f"labels: expected integer class ids 0..K-1, got dtype {labels.dtype}")
    if labels.min() < 0:
        raise DataError(f"labels: class ids must be >= 0, got {int(labels.min())}")
    num_classes = int(labels.max()) + 1
    if num_classes < 2:
        raise DataError("labels: only one class (0) is present; a classifier needs at least two")
    counts = np.bincount(labels, minlength=num_classes)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        raise DataError(f"labels: class ids must be 0..K-1 with every class present; "
                        f"no example of class {', '.join(map(str, missing))}")
    return labels.astype(np.int64), num_classes


def check_label_matrix(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """(n, L) multi-label targets: 0/1 values, L >= 2, every label on at least one text."""
    if labels.shape[1] < 2:
        raise DataError(f"labels: a multi-label matrix needs at least two label columns, got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise DataError("labels: a multi-label matrix holds only 0 and 1")
    missing = np.flatnonzero(labels.sum(axis=0) == 0)
    if len(missing):
        raise DataError(f"labels: no text carries label column {', '.join(map(str, missing[:10]))}; every label "
                        "needs a training example")
    everywhere = np.flatnonzero(labels.sum(axis=0) == len(labels))
    if len(everywhere):
        raise DataError(f"labels: every training text carries label column {', '.join(map(str, everywhere[:10]))}; "
                        "a label on every text tells nothing apart: remove it, or add texts without it")
    return labels.astype(np.uint8), labels.shape[1]


def is_multi_label(labels) -> bool:
    """Whether ``labels`` are multi-label targets: an (n, L) matrix, not one class id per text."""
    return np.ndim(labels) == 2


def check_fitted(model, attribute: str) -> None:
    """Raise unless ``model`` has the learned ``attribute`` (set by ``fit`` or ``load``)."""
    if not hasattr(model, attribute):
        raise LexiclassError(f"this {type(model).__name__} is not trained yet: call fit() or load() first")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) for any z without overflow (NumPy's, so prediction needs no SciPy)."""
    return np.exp(log_sigmoid(z))


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(1 / (1 + exp(-z))), exact for large |z| (-z for very negative z, not -inf)."""
    return -np.logaddexp(0.0, -z)


def softmax(scores: np.ndarray) -> np.ndarray:
    """(n, K) scores (log-probabilities up to a constant per row) -> (n, K) probabilities, each row summing
    to 1; the row's largest score is subtracted first, so no score overflows."""
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)
