"""Seeded, stratified splits: the book's 20%-of-each-class validation split and test fractions."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that ``fraction`` of each class goes to the second part.

    Within each class the indices are shuffled with ``np.random.default_rng(seed)``,
    so the same labels, fraction and seed always give the same split.
    A class of two or more examples keeps at least one and holds out at least one
    (when ``fraction > 0``). Returns ``(keep_idx, held_out_idx)``, both sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_held = int(round(len(idx) * fraction))
        if fraction > 0 and len(idx) >= 2:
            n_held = min(len(idx) - 1, max(1, n_held))  # a class of 2+ examples reaches both parts
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def shuffled_file_split(names: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """The book's recipe for one class folder: sort names, shuffle with ``seed``, hold out the first ``fraction``.

    Sorting first makes the result independent of the order the file system lists files in.
    """
    names = sorted(names)
    order = np.random.default_rng(seed).permutation(len(names))
    shuffled = [names[i] for i in order]
    n_held = int(len(names) * fraction)
    return shuffled[n_held:], shuffled[:n_held]
