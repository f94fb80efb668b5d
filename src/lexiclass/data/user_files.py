"""A user's own labelled text: a class-per-subfolder tree, CSV/TSV with a header, or JSON Lines.

Every problem is reported as a `DataError` that names the file, and where it applies
the line and the field, so that a user can go and fix it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from lexiclass.data.dataset import TextDataset
from lexiclass.data.splits import stratified_split
from lexiclass.errors import DataError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


def read_text(path: Path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """Read a whole file, turning decode and OS errors into messages that name file, line and byte."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode(encoding, errors=errors)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: bytes not valid {encoding} at byte offset {exc.start}"
            " (pass --encoding, e.g. latin-1, or --encoding-errors replace)"
        ) from exc
    except LookupError as exc:
        raise DataError(f"unknown encoding {encoding!r}") from exc


def _check_text(value, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: field {field!r} must be text, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise DataError(f"{where}: field {field!r} is empty")
    return value


def _check_label(value, where: str, field: str):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: field {field!r} must be a string or integer label, got {value!r}")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise DataError(f"{where}: field {field!r} is empty")
    return value


def read_table(path: Path, text_column: str, label_column: str, encoding: str, errors: str):
    """Rows of a CSV/TSV file with a header, as (texts, labels)."""
    content = read_text(path, encoding, errors)
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=TABLE_SUFFIXES[path.suffix.lower()])
    header = reader.fieldnames or []
    for column in (text_column, label_column):
        if column not in header:
            raise DataError(f"{path}, line 1: no column {column!r} in the header (columns: {', '.join(header) or 'none'})")
    texts, labels = [], []
    for row in reader:
        where = f"{path}, line {reader.line_num}"
        if None in row:  # more cells than header columns
            raise DataError(f"{where}: {len(header) + len(row[None])} fields, the header has {len(header)}")
        texts.append(_check_text(row[text_column], where, text_column))
        labels.append(_check_label(row[label_column], where, label_column))
    return texts, labels


def read_jsonl(path: Path, text_column: str, label_column: str, encoding: str, errors: str):
    """Objects of a JSON Lines file (blank lines skipped), as (texts, labels)."""
    texts, labels = [], []
    for number, line in enumerate(read_text(path, encoding, errors).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        for field in (text_column, label_column):
            if field not in record:
                raise DataError(f"{where}: no field {field!r} (fields: {', '.join(record) or 'none'})")
        texts.append(_check_text(record[text_column], where, text_column))
        labels.append(_check_label(record[label_column], where, label_column))
    return texts, labels


def read_class_folders(root: Path, encoding: str, errors: str):
    """Files under ``root/<class>/``, as (texts, labels); hidden files are skipped."""
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class subfolders (expected {root}/<class name>/<file>)")
    texts, labels = [], []
    for folder in classes:
        for name in sorted(os.listdir(folder)):
            path = folder / name
            if name.startswith(".") or not path.is_file():
                continue
            texts.append(_check_text(read_text(path, encoding, errors), str(path), "text"))
            labels.append(folder.name)
    return texts, labels


def read_labelled(path: str | os.PathLike, text_column: str = "text", label_column: str = "label",
                  encoding: str = "utf-8", errors: str = "strict"):
    """Read any supported source as (texts, raw labels)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_dir():
        texts, labels = read_class_folders(path, encoding, errors)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        texts, labels = read_table(path, text_column, label_column, encoding, errors)
    elif path.suffix.lower() in JSONL_SUFFIXES:
        texts, labels = read_jsonl(path, text_column, label_column, encoding, errors)
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .tsv, .jsonl or a folder)")
    if not texts:
        raise DataError(f"{path}: no examples found")
    return texts, labels


def label_vocabulary(raw_labels, path) -> list:
    """Sorted distinct labels (integers numerically, strings alphabetically); at least two."""
    if len({type(v) for v in raw_labels}) > 1:
        # CSV gives strings, JSON may mix: compare integers by value, e.g. 1 and "1".
        raw_labels = [str(v) for v in raw_labels]
    distinct = sorted(set(raw_labels))
    if len(distinct) < 2:
        raise DataError(f"{path}: only one class ({distinct[0]!r}); a classifier needs at least two")
    return distinct


def encode_labels(raw_labels, names: list, path) -> np.ndarray:
    lookup = {str(name): i for i, name in enumerate(names)}
    out = np.empty(len(raw_labels), dtype=np.int32)
    for i, value in enumerate(raw_labels):
        if str(value) not in lookup:
            raise DataError(f"{path}: label {value!r} does not occur in the training data (labels: {names})")
        out[i] = lookup[str(value)]
    return out


def load_user_dataset(path: str | os.PathLike, test_path: str | os.PathLike | None = None,
                      text_column: str = "text", label_column: str = "label", encoding: str = "utf-8",
                      encoding_errors: str = "strict", val_fraction: float = 0.2, test_fraction: float = 0.2,
                      seed: int = 1337) -> TextDataset:
    """Load a user's labelled text as a `TextDataset`.

    A folder that holds ``train/`` and ``test/`` uses them as the two splits;
    otherwise ``test_path`` gives the test split, or a seeded stratified
    ``test_fraction`` of ``path`` is held out. The validation split is a seeded
    stratified ``val_fraction`` of the remaining training data.
    """
    path = Path(path)
    if test_path is None and path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        path, test_path = path / "train", path / "test"
    kw = dict(text_column=text_column, label_column=label_column, encoding=encoding, errors=encoding_errors)
    texts, raw = read_labelled(path, **kw)
    names = label_vocabulary(raw, path)
    labels = encode_labels(raw, names, path)
    if test_path is not None:
        test_texts, test_raw = read_labelled(test_path, **kw)
        test_labels = encode_labels(test_raw, names, test_path)
    else:
        keep, held = stratified_split(labels, test_fraction, seed)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in keep], labels[keep]
    keep, held = stratified_split(labels, val_fraction, seed + 1)
    return TextDataset(
        [texts[i] for i in keep], labels[keep], [texts[i] for i in held], labels[held],
        test_texts, test_labels, label_names=[str(n) for n in names], source=str(path),
    )
