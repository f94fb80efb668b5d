"""`TextDataset`: texts and integer labels (or, multi-label, 0/1 label matrices) for train / validation / test,
plus label names."""

from __future__ import annotations

import dataclasses

import numpy as np

from lexiclass.errors import DataError

SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
ADVICE = {
    "train": "add examples",
    "val": "add examples or use a larger val_fraction (--val-fraction)",
    "test": "add examples, use a larger test_fraction (--test-fraction) or give a test file (--test-dataset)",
}


@dataclasses.dataclass
class TextDataset:
    """Labelled text, already split.

    Labels are integers ``0 .. len(label_names) - 1``; ``label_names[i]`` is the name
    of class ``i`` as it appeared in the source (folder name, CSV value, ...).
    Multi-label data (`multi_label`) has instead a uint8 matrix (texts, labels) per split:
    column ``j`` is 1 where the text carries ``label_names[j]``; a row may be all zeros.
    """

    train_texts: list[str]
    train_labels: np.ndarray
    val_texts: list[str]
    val_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    label_names: list[str]
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def multi_label(self) -> bool:
        """Whether each text carries a set of labels (2-D label matrices) rather than one class."""
        return np.ndim(self.train_labels) == 2

    @property
    def _kinds(self) -> str:
        return "label(s)" if self.multi_label else "class(es)"

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train_texts),
            "val": len(self.val_texts),
            "test": len(self.test_texts),
        }

    def class_counts(self, split: str = "train") -> dict[str, int]:
        """Texts of each class in ``split`` (multi-label: texts carrying each label)."""
        labels = np.asarray(getattr(self, f"{split}_labels"))
        if self.multi_label:
            counts = labels.sum(axis=0, dtype=np.int64) if labels.size else np.zeros(self.num_classes, np.int64)
        else:
            counts = np.bincount(labels.astype(np.int64), minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.label_names, counts)}

    def label_cardinality(self, split: str = "train") -> float:
        """Mean number of labels per text in ``split`` (1.0 for single-label data, 0.0 for an empty split)."""
        labels = np.asarray(getattr(self, f"{split}_labels"))
        if len(labels) == 0:
            return 0.0
        return float(labels.sum(axis=1).mean()) if self.multi_label else 1.0

    def check_splits(self, test_file: bool = False) -> "TextDataset":
        """Refuse a dataset a model cannot be trained and scored on: an empty split, or a class without
        training example. Returns ``self``; raises `DataError` naming the split, the sizes and what to change."""
        sizes = self.sizes()
        shown = ", ".join(f"{SPLIT_NAMES[k]} {v:,}" for k, v in sizes.items())
        for split in ("train", "val", "test"):
            if sizes[split] == 0:
                advice = "give a test file with examples" if split == "test" and test_file else ADVICE[split]
                raise DataError(f"{self.source or 'dataset'}: the {SPLIT_NAMES[split]} split is empty"
                                f" ({shown} examples): {advice}")
        missing = [name for name, n in self.class_counts("train").items() if n == 0]
        if missing:
            raise DataError(f"{self.source or 'dataset'}: {self._kinds} {', '.join(map(repr, missing[:10]))} have no"
                            f" training example ({shown} examples): add examples of them")
        return self

    def limit(self, n: int | None, seed: int = 0) -> "TextDataset":
        """A copy with at most ``n`` train and test examples and ``n // 4`` validation examples (a seeded
        random sample, original order kept), for quick tries. ``None`` means no limit; ``n`` must be >= 1."""
        if n is None:
            return self
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise DataError(f"limit must be a whole number of examples >= 1 (or None for no limit), got {n!r}")
        rng = np.random.default_rng(seed)

        def take(texts, labels, k):
            if len(texts) <= k:
                return texts, labels
            idx = np.sort(rng.permutation(len(texts))[:k])
            return [texts[i] for i in idx], labels[idx]

        tr = take(self.train_texts, self.train_labels, n)
        va = take(self.val_texts, self.val_labels, max(1, n // 4))
        te = take(self.test_texts, self.test_labels, n)
        limited = TextDataset(*tr, *va, *te, label_names=self.label_names, source=self.source)
        missing = [name for name, c in limited.class_counts("train").items() if c == 0]
        if missing and self.class_counts("train")[missing[0]] > 0:
            raise DataError(f"limit {n} leaves {self._kinds} {', '.join(map(repr, missing[:10]))} without a training"
                            " example: use a larger limit")
        return limited
