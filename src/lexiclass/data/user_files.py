"""A user's own labelled text: a class-per-subfolder tree, CSV/TSV with a header, or JSON Lines.

Every problem is reported as a `DataError` whose one-line message names the file, and
where it applies the line, the field and the value, and says what would be accepted
(the checks of each field: `lexiclass.data.fields`). How label strings become classes:
`lexiclass.data.labels`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import warnings
from pathlib import Path

import numpy as np

from lexiclass.data.dataset import TextDataset
from lexiclass.data.fields import (Records, _bad_character, short_repr, check_encoding, check_label, check_text,
                                   read_text, where)
from lexiclass.data.labels import _check_class_sizes, encode_labels, label_vocabulary
from lexiclass.data.splits import stratified_split
from lexiclass.errors import DataError
from lexiclass.progress import enabled as progress_enabled
from lexiclass.progress import progress

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_FIELD_LIMIT = 2**31 - 1  # the largest value csv.field_size_limit accepts on every platform
PROGRESS_MIN_FILES = 500  # smaller class-folder trees are read without a progress line


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
        warnings.warn(f"{test_path}: no test example of class(es) {', '.join(map(short_repr, missing[:10]))};"
                      " their test metrics are undefined", stacklevel=3)
