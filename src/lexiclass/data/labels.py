"""Class names from a user's label strings, and each example's class index.

Labels are strings as written (a JSON integer ``7`` is the label ``"7"``). When every
label of the training data is an integer such as ``"2"`` or ``"-1"``, classes are
ordered by value (1, 2, 10); otherwise alphabetically. Two spellings of one integer
in the training data (``"01"`` and ``"1"``) are refused as ambiguous; in a separate
test file, ``"01"`` maps to the training class ``"1"`` when all training labels are
integers.

Multi-label data (each text a tuple of labels) follows the same rules: its label names are the
distinct labels of all sets, ordered the same way, and `encode_label_sets` gives a 0/1 matrix with
column ``j`` for ``names[j]``.
"""

from __future__ import annotations

import collections
import warnings
import re

import numpy as np

from lexiclass.data.fields import Records, short_repr, where
from lexiclass.errors import DataError

INTEGER = re.compile(r"[+-]?[0-9]+")


def _all_integers(labels) -> bool:
    return all(INTEGER.fullmatch(label) for label in labels)


def _flat(raw_labels):
    """Every label of ``raw_labels``, the labels of a set (tuple) one by one."""
    for value in raw_labels:
        yield from value if isinstance(value, tuple) else (value,)


def label_vocabulary(raw_labels, path) -> list[str]:
    """Sorted distinct labels: by value when all are integers (1, 2, 10), else alphabetically; at least two.
    Label sets (tuples, multi-label data) contribute each of their labels."""
    distinct = {str(v).strip() for v in _flat(raw_labels)}
    if _all_integers(distinct):
        by_value = {}
        for label in sorted(distinct):
            other = by_value.setdefault(int(label), label)
            if other != label:
                raise DataError(f"{path}: labels {other!r} and {label!r} are the same number written two ways;"
                                " write each class label one way")
        names = [by_value[k] for k in sorted(by_value)]
    else:
        names = sorted(distinct)
    if len(names) < 2:
        raise DataError(f"{path}: only one class ({short_repr(names[0]) if names else 'none'});"
                        " a classifier needs at least two")
    return names


class _Lookup:
    """The class index of a label string in ``names``; an integer label also matches by value (``"01"`` -> ``"1"``)
    when every name is an integer. An unknown label is a `DataError` naming where it was found."""

    def __init__(self, names: list, path, locations=None):
        self.names, self.path, self.locations = names, path, locations
        self.lookup = {str(name): i for i, name in enumerate(names)}
        self.by_value = {int(name): i for name, i in self.lookup.items()} if _all_integers(self.lookup) else {}

    def __call__(self, value, row: int) -> int:
        key = str(value).strip()
        index = self.lookup.get(key)
        if index is None and self.by_value and INTEGER.fullmatch(key):
            index = self.by_value.get(int(key))
        if index is None:
            at = where(self.path, self.locations[row]) if self.locations is not None else str(self.path)
            names = self.names
            shown = ", ".join(map(str, names[:10])) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
            raise DataError(f"{at}: label {short_repr(value)} does not occur in the training data (labels: {shown})")
        return index


def encode_labels(raw_labels, names: list, path, locations=None) -> np.ndarray:
    """Class indices of ``raw_labels`` in ``names``; an integer label also matches by value (``"01"`` -> ``"1"``)."""
    index = _Lookup(names, path, locations)
    out = np.empty(len(raw_labels), dtype=np.int32)
    for i, value in enumerate(raw_labels):
        out[i] = index(value, i)
    return out


def encode_label_sets(raw_sets, names: list, path, locations=None) -> np.ndarray:
    """A uint8 indicator matrix (texts, labels) of label sets: row ``i`` has a 1 in column ``j`` when text ``i``
    carries ``names[j]``; an empty set is a row of zeros. Unknown labels are refused as by `encode_labels`."""
    index = _Lookup(names, path, locations)
    out = np.zeros((len(raw_sets), len(names)), dtype=np.uint8)
    for i, labels in enumerate(raw_sets):
        for value in labels if isinstance(labels, tuple) else (labels,):
            out[i, index(value, i)] = 1
    return out


def _check_class_sizes(records: Records, names: list[str], path, test_path=None, val_path=None) -> None:
    """Every class needs one example per split we make from ``path``: training, and validation and test unless
    a file gives them. Multi-label data only warns: rare labels go to training first (`multilabel_split`)."""
    need = 1 + (val_path is None) + (test_path is None)
    if need == 1:
        return  # every name occurs in the training file it was read from
    counts = collections.Counter(_flat(records.labels))
    kind = "label" if any(isinstance(label, tuple) for label in records.labels) else "class"
    if need == 3:
        why = "one each for training, validation and test"
    elif test_path is not None:
        why = f"one each for training and validation (the test split is {test_path})"
    else:
        why = f"one each for training and test (the validation split is {val_path})"
    small = [name for name in names if counts[name] < need]
    if not small:
        return
    name = small[0]
    plural = "labels" if kind == "label" else "classes"
    if kind == "label":  # many rare labels are normal in tagged text: learn them, say what cannot be scored
        shown = ", ".join(f"{short_repr(n)} ({counts[n]})" for n in small[:5]) + (", ..." if len(small) > 5 else "")
        warnings.warn(f"{path}: {len(small)} of {len(names)} labels have fewer than {need} examples ({shown}); "
                      "each is learned from training, and its validation or test scores may be undefined",
                      stacklevel=4)
        return
    swapped = (f"; {len(small)} of {len(names)} {plural} are this small: are text_column and label_column swapped?"
               if len(small) > 10 else "")
    if counts[name] == 1:
        first = next(i for i, label in enumerate(records.labels)
                     if label == name or (isinstance(label, tuple) and name in label))
        at = where(path, records.locations[first])
        raise DataError(f"{kind} {short_repr(name)} has a single example ({at}): each {kind} needs at least {need},"
                        f" {why}; add examples or remove the {kind}{swapped}")
    raise DataError(f"{path}: {kind} {short_repr(name)} has only {counts[name]} examples: each {kind} needs at"
                    f" least {need}, {why}; add examples or remove the {kind}{swapped}")
