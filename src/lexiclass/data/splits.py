"""Seeded, stratified splits: the book's 20%-of-each-class validation split and test fractions, and for
multi-label data (a 0/1 matrix of texts by labels) iterative stratification, so that rare labels reach
training and the held-out part in proportion rather than by luck."""

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


def multilabel_split(Y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows of a 0/1 label matrix ``Y`` (texts, labels) so that about ``fraction`` of each label's texts
    go to the second part, by iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011).

    Labels are taken rarest first: each of a label's still unplaced texts goes to the part that still wants the
    most texts of that label, ties to the part that wants the most texts overall, then by a seeded coin, so
    the rare labels, which a random split scatters worst, are placed while both parts still have room.
    A label of two or more texts is asked of both parts, and a last pass moves single texts so that every
    label reaches the first part and, where a move breaks no other label, the second. Texts without a label
    are split at random by ``fraction``. Same matrix, fraction and seed: same split. Returns
    ``(keep_idx, held_out_idx)``, both sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    Y = np.asarray(Y).astype(bool)
    if Y.ndim != 2:
        raise ValueError(f"a label matrix must be 2-D (texts, labels), got shape {Y.shape}")
    rng = np.random.default_rng(seed)
    held = np.zeros(len(Y), dtype=bool)
    labelled = Y.any(axis=1)
    if fraction > 0:
        _place_labelled(Y, fraction, rng, held)
        _cover_both_parts(Y, held)
        unlabelled = np.flatnonzero(~labelled)
        unlabelled = unlabelled[rng.permutation(len(unlabelled))]
        held[unlabelled[: int(round(len(unlabelled) * fraction))]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def _place_labelled(Y: np.ndarray, fraction: float, rng, held: np.ndarray) -> None:
    """Iterative stratification of the texts with at least one label; marks the held-out ones in ``held``."""
    counts = Y.sum(axis=0).astype(float)
    wanted = counts * fraction
    several = counts >= 2  # such a label is asked of both parts
    wanted[several] = np.minimum(counts[several] - 1, np.maximum(1.0, wanted[several]))
    wanted[counts == 1] = 0  # a label of one text is for training
    demand = np.stack([counts - wanted, wanted])  # (part, label): texts of each label each part still wants
    n_labelled = int(Y.any(axis=1).sum())
    total = np.array([n_labelled * (1 - fraction), n_labelled * fraction])  # texts each part still wants
    unplaced = Y.any(axis=1)
    while unplaced.any():
        left = Y[unplaced].sum(axis=0)
        label = int(np.argmin(np.where(left > 0, left, np.iinfo(left.dtype).max)))
        rows = np.flatnonzero(Y[:, label] & unplaced)
        for row in rows[rng.permutation(len(rows))]:
            want = demand[:, label]
            if want[0] != want[1]:
                part = int(np.argmax(want))
            elif total[0] != total[1]:
                part = int(np.argmax(total))
            else:
                part = int(rng.integers(2))
            held[row] = part == 1
            demand[part] -= Y[row]
            total[part] -= 1
        unplaced[rows] = False


def _cover_both_parts(Y: np.ndarray, held: np.ndarray) -> None:
    """Move texts so that every label has a text in the kept part (training needs one) and, where moves can do it
    without taking a label out of the kept part, every label of two or more texts one in the held part.
    Overlapping labels can make the second impossible (three labels on three texts, pairwise): then it is not."""
    counts = Y.sum(axis=0)
    for label in np.argsort(counts, kind="stable"):
        if counts[label] and not Y[~held, label].any():
            held_counts = Y[held].sum(axis=0)
            rows = np.flatnonzero(Y[:, label] & held)
            # the text whose move takes from the held part the fewest labels it has only there
            cost = [int((Y[row] & (held_counts == 1) & (counts >= 2)).sum()) for row in rows]
            held[rows[int(np.argmin(cost))]] = False
    for label in np.argsort(counts, kind="stable"):
        if counts[label] >= 2 and not Y[held, label].any():
            _hold_one(Y, held, label)


def _hold_one(Y: np.ndarray, held: np.ndarray, label: int) -> None:
    """Move a kept text of ``label`` to the held part. A label that text alone brings to the kept part gets a
    held text of it in exchange, one whose every label stays in the held part; texts with fewest labels first."""
    kept_counts, held_counts = Y[~held].sum(axis=0), Y[held].sum(axis=0)
    for row in sorted(np.flatnonzero(Y[:, label] & ~held), key=lambda r: (int(Y[r].sum()), r)):
        after = held_counts + Y[row]
        swaps = []
        for lost in np.flatnonzero(Y[row] & (kept_counts == 1)):
            if any(Y[s, lost] for s in swaps):
                continue
            options = [s for s in np.flatnonzero(Y[:, lost] & held) if s not in swaps and (after[Y[s]] >= 2).all()]
            if not options:
                break
            swap = min(options, key=lambda s: (int(Y[s].sum()), s))
            swaps.append(swap)
            after = after - Y[swap]
        else:
            held[row] = True
            held[swaps] = False
            return
