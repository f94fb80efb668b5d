"""Class names from a user's label strings, and each example's class index.

Labels are strings as written (a JSON integer ``7`` is the label ``"7"``). When every
label of the training data is an integer such as ``"2"`` or ``"-1"``, classes are
ordered by value (1, 2, 10); otherwise alphabetically. Two spellings of one integer
in the training data (``"01"`` and ``"1"``) are refused as ambiguous; in a separate
test file, ``"01"`` maps to the training class ``"1"`` when all training labels are
integers.
"""

from __future__ import annotations

import collections
import re

import numpy as np

from lexiclass.data.fields import Records, short_repr, where
from lexiclass.errors import DataError

INTEGER = re.compile(r"[+-]?[0-9]+")


def _all_integers(labels) -> bool:
    return all(INTEGER.fullmatch(label) for label in labels)


def label_vocabulary(raw_labels, path) -> list[str]:
    """Sorted distinct labels: by value when all are integers (1, 2, 10), else alphabetically; at least two."""
    distinct = {str(v).strip() for v in raw_labels}
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


def encode_labels(raw_labels, names: list, path, locations=None) -> np.ndarray:
    """Class indices of ``raw_labels`` in ``names``; an integer label also matches by value (``"01"`` -> ``"1"``)."""
    lookup = {str(name): i for i, name in enumerate(names)}
    if _all_integers(lookup):
        lookup_by_value = {int(name): i for name, i in lookup.items()}
    else:
        lookup_by_value = {}
    out = np.empty(len(raw_labels), dtype=np.int32)
    for i, value in enumerate(raw_labels):
        key = str(value).strip()
        index = lookup.get(key)
        if index is None and lookup_by_value and INTEGER.fullmatch(key):
            index = lookup_by_value.get(int(key))
        if index is None:
            at = where(path, locations[i]) if locations is not None else str(path)
            shown = ", ".join(map(str, names[:10])) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
            raise DataError(f"{at}: label {short_repr(value)} does not occur in the training data (labels: {shown})")
        out[i] = index
    return out


def _check_class_sizes(records: Records, names: list[str], path, need: int, test_path) -> None:
    """Every class needs one example per split we make from ``path``: 3 (train/val/test) or 2 with a test file."""
    counts = collections.Counter(records.labels)
    why = ("one each for training, validation and test" if need == 3
           else f"one each for training and validation (the test split is {test_path})")
    small = [name for name in names if counts[name] < need]
    if not small:
        return
    name = small[0]
    swapped = (f"; {len(small)} of {len(names)} classes are this small: are text_column and label_column swapped?"
               if len(small) > 10 else "")
    if counts[name] == 1:
        at = where(path, records.locations[records.labels.index(name)])
        raise DataError(f"class {short_repr(name)} has a single example ({at}): each class needs at least {need},"
                        f" {why}; add examples or remove the class{swapped}")
    raise DataError(f"{path}: class {short_repr(name)} has only {counts[name]} examples: each class needs at least"
                    f" {need}, {why}; add examples or remove the class{swapped}")
