"""A user's own labelled text: a class-per-subfolder tree, CSV/TSV with a header, or JSON Lines.

Every problem is reported as a `DataError` whose one-line message names the file, and
where it applies the line, the field and the value, and says what would be accepted.

Labels are strings as written (a JSON integer ``7`` is the label ``"7"``). When every
label of the training data is an integer such as ``"2"`` or ``"-1"``, classes are
ordered by value (1, 2, 10); otherwise alphabetically. Two spellings of one integer
in the training data (``"01"`` and ``"1"``) are refused as ambiguous; in a separate
test file, ``"01"`` maps to the training class ``"1"`` when all training labels are
integers.
"""

from __future__ import annotations

import codecs
import collections
import csv
import io
import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lexiclass.data.dataset import TextDataset
from lexiclass.data.splits import stratified_split
from lexiclass.errors import DataError
from lexiclass.progress import enabled as progress_enabled
from lexiclass.progress import progress

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
DECODE_ERRORS = ("strict", "replace", "ignore", "backslashreplace")
INTEGER = re.compile(r"[+-]?[0-9]+")
CSV_FIELD_LIMIT = 2**31 - 1  # the largest value csv.field_size_limit accepts on every platform
PROGRESS_MIN_FILES = 500  # smaller class-folder trees are read without a progress line
MAGIC = {b"\x1f\x8b": "a gzip archive", b"PK\x03\x04": "a zip archive (or .xlsx)", b"%PDF": "a PDF file",
         b"\x89PNG": "a PNG image", b"SQLite format 3": "an SQLite database"}


class Records(NamedTuple):
    """What a reader found: texts, label strings, and where each came from (a line number or a file path)."""

    texts: list
    labels: list
    locations: list


def where(path, location) -> str:
    """``"file, line 3"`` for a line number, the location itself otherwise (a file path, ``"file, item 2"``)."""
    return f"{path}, line {location}" if isinstance(location, int) else str(location)


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- encodings -------------------------------------------------------------------------------------------


def check_encoding(encoding: str, errors: str = "strict") -> str:
    """Validate an encoding and error handler; return the codec to decode with (utf-8 accepts a BOM)."""
    if not isinstance(encoding, str) or not encoding.strip():
        raise DataError(f"encoding must be a codec name such as utf-8 or latin-1, got {encoding!r}")
    try:
        info = codecs.lookup(encoding)
    except (LookupError, ValueError, TypeError):
        raise DataError(f"unknown encoding {encoding!r} (use a codec name such as utf-8, latin-1, cp1252 or utf-16)"
                        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise DataError(f"encoding {encoding!r} is not a text encoding (use e.g. utf-8, latin-1, cp1252 or utf-16)")
    if errors == "surrogateescape":
        raise DataError("encoding_errors 'surrogateescape' turns undecodable bytes into lone surrogates a model"
                        f" cannot take (use one of: {', '.join(DECODE_ERRORS)})")
    if errors not in DECODE_ERRORS:
        raise DataError(f"unknown encoding_errors {errors!r} (use one of: {', '.join(DECODE_ERRORS)})")
    return "utf-8-sig" if info.name == "utf-8" else encoding


def _binary_hint(data: bytes) -> str:
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return f" (it looks like {kind}, not text)"
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return f" (it starts with a {codec} byte-order mark: pass --encoding {codec})"
    return " (pass --encoding, e.g. latin-1, or --encoding-errors replace)"


def read_text(path: Path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """Read a whole file, turning decode and OS errors into messages that name file, line and byte.

    A UTF-8 byte-order mark is dropped; a NUL character (binary data) is refused.
    """
    codec = check_encoding(encoding, errors)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode(codec, errors=errors)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: bytes not valid {encoding} at byte offset {exc.start}"
                        + _binary_hint(data)) from exc
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise DataError(f"{path}, line {line}: NUL character at character {nul + 1} of the file: a binary file"
                        " or UTF-16 text (pass --encoding utf-16 for UTF-16)")
    return text


# --- fields -------------------------------------------------------------------------------------------------


def _bad_character(value: str) -> str | None:
    """Describe the first character a model cannot take (NUL, lone surrogate), or None."""
    nul = value.find("\x00")
    if nul >= 0:
        return f"a NUL character (U+0000) at character {nul + 1}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"a lone surrogate U+{ord(value[exc.start]):04X} at character {exc.start + 1}"
                " (not a Unicode character: fix the \\u escape)")
    return None


def check_text(value, where: str, field: str) -> str:
    """A non-blank string without NUL or lone surrogates, else a `DataError` naming ``where`` and ``field``."""
    if not isinstance(value, str):
        raise DataError(f"{where}: field {field!r} must be text, got {type(value).__name__} {_short(value)}")
    if not value.strip():
        raise DataError(f"{where}: field {field!r} is empty")
    bad = _bad_character(value)
    if bad:
        raise DataError(f"{where}: field {field!r} has {bad}")
    return value


def check_label(value, where: str, field: str) -> str:
    """A label as a stripped string: strings and integers are accepted (``7`` becomes ``"7"``)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: field {field!r} must be a string or integer label,"
                        f" got {type(value).__name__} {_short(value)}")
    value = str(value).strip()
    if not value:
        raise DataError(f"{where}: field {field!r} is empty")
    bad = _bad_character(value)
    if bad:
        raise DataError(f"{where}: field {field!r} has {bad}")
    return value


_check_text, _check_label = check_text, check_label  # former private names


def _check_columns(text_column, label_column) -> None:
    for option, name in (("text_column", text_column), ("label_column", label_column)):
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{option} must be a non-empty column or field name, got {name!r}")
    if text_column == label_column:
        raise DataError(f"text_column and label_column are both {text_column!r}: they must be different")


# --- CSV / TSV -------------------------------------------------------------------------------------------


def _raise_csv_field_limit(size: int) -> None:
    """Let the csv module read a field as long as the whole file (the default limit is 131,072 characters)."""
    needed = min(CSV_FIELD_LIMIT, size + 1)
    if csv.field_size_limit() < needed:
        csv.field_size_limit(needed)


def _column_index(header: list[str], column: str, path) -> int:
    found = [i for i, name in enumerate(header) if name == column]
    if len(found) > 1:
        raise DataError(f"{path}, line 1: column {column!r} appears {len(found)} times in the header"
                        " (rename the duplicates)")
    if not found:
        near = [name for name in header if name.strip().casefold() == column.strip().casefold()]
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise DataError(f"{path}, line 1: no column {column!r} in the header"
                        f" (columns: {', '.join(header) or 'none'}){hint}")
    return found[0]


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "end of data" in text:
        return "a quoted field starts here and its closing quote is missing"
    if "expected after" in text:
        return (f"bad quoting ({text}): a field that starts with a quote must end with one;"
                ' a quote inside a quoted field is written ""')
    return f"not readable as CSV ({text})"


def read_table(path: Path, text_column: str, label_column: str, encoding: str = "utf-8",
               errors: str = "strict") -> Records:
    """Rows of a CSV/TSV file with a header (standard quoting, strict), as `Records` with line numbers."""
    content = read_text(path, encoding, errors)
    if not content.strip():
        raise DataError(f"{path} is empty (expected a header line with columns {text_column!r} and {label_column!r})")
    _raise_csv_field_limit(len(content))
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=TABLE_SUFFIXES[path.suffix.lower()], strict=True)
    rows = _csv_rows(reader, path)
    _, header = next(rows)
    text_i, label_i = _column_index(header, text_column, path), _column_index(header, label_column, path)
    records = Records([], [], [])
    for line, row in rows:
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} field{'s' * (len(row) != 1)},"
                            f" the header has {len(header)}")
        records.texts.append(check_text(row[text_i], f"{path}, line {line}", text_column))
        records.labels.append(check_label(row[label_i], f"{path}, line {line}", label_column))
        records.locations.append(line)
    if not records.texts:
        raise DataError(f"{path} has a header but no rows")
    return records


def _csv_rows(reader, path):
    """(line where the record starts, cells) for each record, with csv errors as `DataError`."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}, line {start}: {_csv_problem(exc)}") from exc
        yield start, row


# --- JSON Lines / JSON array -------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    record = dict(pairs)
    if len(record) != len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(key)
    return record


def _first_clause(exc: Exception) -> str:
    return str(exc).split(";")[0].splitlines()[0][:120]


def parse_json(text: str, location: str):
    """``json.loads(text)``, or one `DataError` line naming ``location``: bad syntax, a repeated field, an integer
    of thousands of digits, nesting deeper than Python recurses."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise DataError(f"{location}: field {exc.args[0]!r} appears twice in one object") from None
    except json.JSONDecodeError as exc:
        hint = " (JSON Lines needs one whole object per line)" if text.strip() in ("{", "[") else ""
        raise DataError(f"{location}: not valid JSON ({exc.msg} at column {exc.colno}){hint}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of 5,000 digits, or nesting 100,000 deep
        raise DataError(f"{location}: JSON value not accepted ({_first_clause(exc)})") from None


def _json_lines(content: str, path):
    for number, line in enumerate(content.split("\n"), start=1):  # not splitlines(): U+2028 is valid in JSON
        if line.strip():
            yield number, parse_json(line, f"{path}, line {number}")


def _json_array(content: str, path):
    try:
        items = json.loads(content, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except _DuplicateKey as exc:
        raise DataError(f"{path}: field {exc.args[0]!r} appears twice in one object") from None
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{path}: JSON value not accepted ({_first_clause(exc)})") from None
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a JSON array of objects, got {type(items).__name__}")
    for number, item in enumerate(items, start=1):
        yield f"{path}, item {number}", item


def read_jsonl(path: Path, text_column: str, label_column: str, encoding: str = "utf-8",
               errors: str = "strict") -> Records:
    """Objects of a JSON Lines file (blank lines skipped), or of a ``.json`` file holding one array."""
    content = read_text(path, encoding, errors)
    if not content.strip():
        raise DataError(f"{path} is empty (expected one JSON object per line)")
    if path.suffix.lower() == ".json" and content.lstrip().startswith("["):
        items = _json_array(content, path)
    else:
        items = _json_lines(content, path)
    records = Records([], [], [])
    for location, record in items:
        at = where(path, location)
        if not isinstance(record, dict):
            raise DataError(f"{at}: expected a JSON object with fields {text_column!r} and {label_column!r},"
                            f" got {type(record).__name__}")
        for field in (text_column, label_column):
            if field not in record:
                raise DataError(f"{at}: no field {field!r} (fields: {', '.join(map(str, record)) or 'none'})")
        records.texts.append(check_text(record[text_column], at, text_column))
        records.labels.append(check_label(record[label_column], at, label_column))
        records.locations.append(location)
    return records


# --- class folders -----------------------------------------------------------------------------------


def _visible(folder: Path) -> list[Path]:
    try:
        return sorted(folder / name for name in os.listdir(folder) if not name.startswith("."))
    except OSError as exc:
        raise DataError(f"cannot list {folder}: {exc.strerror or exc}") from exc


def _example_file(path: Path) -> Path:
    """``path`` if it is (a link to) a regular file; a `DataError` for links that lead nowhere, folders, FIFOs..."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror or exc}; a broken symbolic link or a link loop?)"
                        ) from exc
    if stat.S_ISDIR(mode):
        raise DataError(f"{path} is a folder inside class folder {path.parent.name!r}: a class folder holds"
                        " one file per example (nested folders are not read)")
    if not stat.S_ISREG(mode):
        raise DataError(f"{path} is not a regular file (a FIFO, socket or device): remove it")
    return path


def read_class_folders(root: Path, encoding: str = "utf-8", errors: str = "strict") -> Records:
    """Files under ``root/<class>/``, one example each, as `Records`; hidden files and folders are skipped."""
    check_encoding(encoding, errors)
    classes = [p for p in _visible(root) if p.is_dir()]
    if not classes:
        raise DataError(f"{root}: no class subfolders (expected {root}/<class name>/<file>)")
    files = []
    for folder in classes:
        if _bad_character(folder.name):
            raise DataError(f"class folder {folder}: the name is not valid UTF-8 or holds a NUL; rename the folder")
        label = folder.name
        examples = [_example_file(p) for p in _visible(folder)]
        if not examples:
            raise DataError(f"class folder {folder} is empty: add example files or remove the folder")
        files.extend((path, label) for path in examples)
    records = Records([], [], [])
    quiet = not progress_enabled() or len(files) < PROGRESS_MIN_FILES
    for path, label in progress(files, total=len(files), desc=f"reading {root.name}", unit="file", disable=quiet):
        records.texts.append(check_text(read_text(path, encoding, errors), str(path), "text"))
        records.labels.append(label)
        records.locations.append(str(path))
    return records


# --- any source -----------------------------------------------------------------------------------------


def read_records(path: str | os.PathLike, text_column: str = "text", label_column: str = "label",
                 encoding: str = "utf-8", errors: str = "strict") -> Records:
    """Read any supported source as `Records`."""
    path = Path(path)
    _check_columns(text_column, label_column)
    check_encoding(encoding, errors)
    if not path.exists():
        raise DataError(f"{path} does not exist" + (" (or is a broken symbolic link)" if path.is_symlink() else ""))
    if path.is_dir():
        records = read_class_folders(path, encoding, errors)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        records = read_table(path, text_column, label_column, encoding, errors)
    elif path.suffix.lower() in JSONL_SUFFIXES:
        records = read_jsonl(path, text_column, label_column, encoding, errors)
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .tsv, .jsonl, .json or a folder)")
    if not records.texts:
        raise DataError(f"{path}: no examples found")
    return records


def read_labelled(path: str | os.PathLike, text_column: str = "text", label_column: str = "label",
                  encoding: str = "utf-8", errors: str = "strict"):
    """Read any supported source as (texts, label strings)."""
    records = read_records(path, text_column, label_column, encoding, errors)
    return records.texts, records.labels


# --- labels ----------------------------------------------------------------------------------------------


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
        raise DataError(f"{path}: only one class ({_short(names[0]) if names else 'none'});"
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
            raise DataError(f"{at}: label {_short(value)} does not occur in the training data (labels: {shown})")
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
        raise DataError(f"class {_short(name)} has a single example ({at}): each class needs at least {need},"
                        f" {why}; add examples or remove the class{swapped}")
    raise DataError(f"{path}: class {_short(name)} has only {counts[name]} examples: each class needs at least"
                    f" {need}, {why}; add examples or remove the class{swapped}")


# --- the dataset -----------------------------------------------------------------------------------------


def check_fraction(name: str, value, advice: str = "") -> float:
    """A split fraction strictly between 0 and 1, else a `DataError` naming the setting and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise DataError(f"{name} must be a number greater than 0 and less than 1 (e.g. 0.2), got {value!r}{advice}")
    return float(value)


def load_user_dataset(path: str | os.PathLike, test_path: str | os.PathLike | None = None,
                      text_column: str = "text", label_column: str = "label", encoding: str = "utf-8",
                      encoding_errors: str = "strict", val_fraction: float = 0.2, test_fraction: float = 0.2,
                      seed: int = 1337) -> TextDataset:
    """Load a user's labelled text as a `TextDataset`.

    A folder that holds ``train/`` and ``test/`` uses them as the two splits;
    otherwise ``test_path`` gives the test split, or a seeded stratified
    ``test_fraction`` of ``path`` is held out. The validation split is a seeded
    stratified ``val_fraction`` of the remaining training data. Every class must
    reach training, validation and (when held out here) test; a class missing from a
    separate test file only gives a warning.
    """
    path = Path(path)
    check_fraction("val_fraction", val_fraction)
    if test_path is None and path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        path, test_path = path / "train", path / "test"
    if test_path is None:
        check_fraction("test_fraction", test_fraction, " (or give a separate test file with --test-dataset)")
    kw = dict(text_column=text_column, label_column=label_column, encoding=encoding, errors=encoding_errors)
    records = read_records(path, **kw)
    names = label_vocabulary(records.labels, path)
    _check_class_sizes(records, names, path, 2 if test_path is not None else 3, test_path)
    texts, labels = records.texts, encode_labels(records.labels, names, path)
    if test_path is not None:
        test = read_records(test_path, **kw)
        test_texts, test_labels = test.texts, encode_labels(test.labels, names, test_path, test.locations)
    else:
        keep, held = stratified_split(labels, test_fraction, seed)
        test_texts, test_labels = [texts[i] for i in held], labels[held]
        texts, labels = [texts[i] for i in keep], labels[keep]
    keep, held = stratified_split(labels, val_fraction, seed + 1)
    data = TextDataset(
        [texts[i] for i in keep], labels[keep], [texts[i] for i in held], labels[held],
        test_texts, test_labels, label_names=list(names), source=str(path),
    )
    data.check_splits(test_file=test_path is not None)
    if test_path is not None:
        _warn_missing_test_classes(data, test_path)
    return data


def _warn_missing_test_classes(data: TextDataset, test_path) -> None:
    missing = [name for name, n in data.class_counts("test").items() if n == 0]
    if missing:
        warnings.warn(f"{test_path}: no test example of class(es) {', '.join(map(_short, missing[:10]))};"
                      " their test metrics are undefined", stacklevel=3)
