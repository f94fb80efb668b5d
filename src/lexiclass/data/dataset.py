"""`TextDataset`: texts and integer labels for train / validation / test, plus label names."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class TextDataset:
    """Labelled text, already split.

    Labels are integers ``0 .. len(label_names) - 1``; ``label_names[i]`` is the name
    of class ``i`` as it appeared in the source (folder name, CSV value, ...).
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

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train_texts),
            "val": len(self.val_texts),
            "test": len(self.test_texts),
        }

    def class_counts(self, split: str = "train") -> dict[str, int]:
        labels = getattr(self, f"{split}_labels")
        counts = np.bincount(labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.label_names, counts)}

    def limit(self, n: int | None, seed: int = 0) -> "TextDataset":
        """A copy with at most ``n`` train and test examples and ``n // 4`` validation examples (a seeded
        random sample, original order kept), for quick tries."""
        if not n:
            return self
        rng = np.random.default_rng(seed)

        def take(texts, labels, k):
            if len(texts) <= k:
                return texts, labels
            idx = np.sort(rng.permutation(len(texts))[:k])
            return [texts[i] for i in idx], labels[idx]

        tr = take(self.train_texts, self.train_labels, n)
        va = take(self.val_texts, self.val_labels, max(1, n // 4))
        te = take(self.test_texts, self.test_labels, n)
        return TextDataset(*tr, *va, *te, label_names=self.label_names, source=self.source)
