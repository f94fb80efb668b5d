"""A user's own labelled text: a class-per-subfolder tree, CSV/TSV with a header, JSON Lines (or a JSON
array), or fastText's ``__label__`` lines (`lexiclass.data.fasttext`).

Multi-label data (each text any number of labels, none included) comes from a JSON field holding a list
(``"labels": ["a", "b"]``), a CSV/TSV field split on ``label_separator`` (``"a|b"``), or fastText lines with
several ``__label__`` tokens; ``multi_label`` asks for it even when every text has one label. Class folders
give one label per text. Every problem is reported as a `DataError` whose one-line message names the file, and
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

from lexiclass.data.dataset import SPLIT_NAMES, TextDataset
from lexiclass.data.fasttext import FASTTEXT_SUFFIXES, read_fasttext
from lexiclass.data.fields import (Records, _bad_character, as_label_sets, check_encoding, check_label,
                                   check_label_set, check_text, is_multi_label, read_text, short_repr, split_labels,
                                   where)
from lexiclass.data.labels import _check_class_sizes, encode_label_sets, encode_labels, label_vocabulary
from lexiclass.data.splits import multilabel_split, stratified_split
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


def raise_csv_field_limit(size: int = CSV_FIELD_LIMIT) -> None:
    """Let the csv module read a field as long as the whole file, ``size`` characters (the default limit is
    131,072 characters; a stream of unknown length takes the largest limit)."""
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


def _table_label(value: str, at: str, field: str, separator: str | None, multi_label: bool):
    """A CSV/TSV label field: a label, or with ``separator`` (or ``multi_label``) a label set; empty: no label."""
    if separator is not None:
        return split_labels(value, separator, at, field)
    if multi_label:
        return (check_label(value, at, field),) if value.strip() else ()
    return check_label(value, at, field)


def read_table(path: Path, text_column: str, label_column: str, encoding: str = "utf-8",
               errors: str = "strict", multi_label: bool = False, label_separator: str | None = None) -> Records:
    """Rows of a CSV/TSV file with a header (standard quoting, strict), as `Records` with line numbers; label sets
    when ``label_separator`` is given (split on it) or ``multi_label`` asked."""
    content = read_text(path, encoding, errors)
    if not content.strip():
        raise DataError(f"{path} is empty (expected a header line with columns {text_column!r} and {label_column!r})")
    raise_csv_field_limit(len(content))
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
        records.labels.append(_table_label(row[label_i], f"{path}, line {line}", label_column, label_separator,
                                           multi_label))
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


def _json_label(record: dict, at: str, field: str, separator: str | None):
    """A JSON label: a list is a label set; a string is split on ``separator`` when one is given."""
    value = record[field]
    if isinstance(value, list):
        return check_label_set(value, at, field)
    if separator is not None and isinstance(value, str):
        return split_labels(value, separator, at, field)
    return check_label(value, at, field)


def read_jsonl(path: Path, text_column: str, label_column: str, encoding: str = "utf-8",
               errors: str = "strict", multi_label: bool = False, label_separator: str | None = None) -> Records:
    """Objects of a JSON Lines file (blank lines skipped), or of a ``.json`` file holding one array.

    A label field holding a list makes the file multi-label (a lone string is then a one-label set); with the
    default ``label_column`` a record without ``"label"`` may give its labels as ``"labels"`` (GoEmotions' name).
    """
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
        label_field = label_column
        if label_column == "label" and "label" not in record and "labels" in record:
            label_field = "labels"
        for field in (text_column, label_field):
            if field not in record:
                raise DataError(f"{at}: no field {field!r} (fields: {', '.join(map(str, record)) or 'none'})")
        records.texts.append(check_text(record[text_column], at, text_column))
        records.labels.append(_json_label(record, at, label_field, label_separator))
        records.locations.append(location)
    return as_label_sets(records) if multi_label or is_multi_label(records) else records


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
                 encoding: str = "utf-8", errors: str = "strict", multi_label: bool = False,
                 label_separator: str | None = None) -> Records:
    """Read any supported source as `Records`: label sets (tuples) when the source holds several labels per text,
    or ``multi_label`` or ``label_separator`` asks for them."""
    path = Path(path)
    _check_columns(text_column, label_column)
    check_encoding(encoding, errors)
    _check_separator(label_separator)
    multi_label = bool(multi_label) or label_separator is not None
    if not path.exists():
        raise DataError(f"{path} does not exist" + (" (or is a broken symbolic link)" if path.is_symlink() else ""))
    suffix = path.suffix.lower()
    if path.is_dir():
        if multi_label:
            raise DataError(f"{path}: class folders give each text one label (its folder), multi-label data is not"
                            " read from folders; use a .jsonl file with label lists, a .csv/.tsv file with"
                            " --label-separator or a fastText .txt file")
        records = read_class_folders(path, encoding, errors)
    elif suffix in TABLE_SUFFIXES:
        records = read_table(path, text_column, label_column, encoding, errors, multi_label, label_separator)
    elif suffix in JSONL_SUFFIXES:
        records = read_jsonl(path, text_column, label_column, encoding, errors, multi_label, label_separator)
    elif suffix in FASTTEXT_SUFFIXES:
        records = read_fasttext(path, encoding, errors, multi_label)
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .tsv, .jsonl, .json, a fastText"
                        " .txt or a folder)")
    if not records.texts:
        raise DataError(f"{path}: no examples found")
    return records


def read_labelled(path: str | os.PathLike, text_column: str = "text", label_column: str = "label",
                  encoding: str = "utf-8", errors: str = "strict"):
    """Read any supported source as (texts, label strings, or label tuples for multi-label data)."""
    records = read_records(path, text_column, label_column, encoding, errors)
    return records.texts, records.labels


def _check_separator(separator) -> None:
    if separator is not None and (not isinstance(separator, str) or not separator):
        raise DataError(f"label_separator must be a non-empty string such as '|' or ',', got {separator!r}")


# --- the dataset -----------------------------------------------------------------------------------------


def check_fraction(name: str, value, advice: str = "") -> float:
    """A split fraction strictly between 0 and 1, else a `DataError` naming the setting and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise DataError(f"{name} must be a number greater than 0 and less than 1 (e.g. 0.2), got {value!r}{advice}")
    return float(value)


def load_user_dataset(path: str | os.PathLike, test_path: str | os.PathLike | None = None,
                      text_column: str = "text", label_column: str = "label", encoding: str = "utf-8",
                      encoding_errors: str = "strict", val_fraction: float = 0.2, test_fraction: float = 0.2,
                      seed: int = 1337, val_path: str | os.PathLike | None = None, multi_label: bool = False,
                      label_separator: str | None = None) -> TextDataset:
    """Load a user's labelled text as a `TextDataset`.

    A folder that holds ``train/`` and ``test/`` uses them as the two splits;
    otherwise ``test_path`` gives the test split, or a seeded stratified
    ``test_fraction`` of ``path`` is held out. The validation split is ``val_path``, or a
    seeded stratified ``val_fraction`` of the remaining training data. Every class must
    reach training, validation and test where they are held out here; a class missing
    from a separate test or validation file only gives a warning.

    The data is multi-label (label matrices, `multilabel_split` for the held-out parts) when
    any of the files holds several labels per text, or ``multi_label`` or ``label_separator``
    asks for it; the label names then come from the training sets, as classes do.
    """
    path = Path(path)
    if val_path is None:
        check_fraction("val_fraction", val_fraction, " (or give a separate validation file with --val-dataset)")
    if test_path is None and path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        path, test_path = path / "train", path / "test"
    if test_path is None:
        check_fraction("test_fraction", test_fraction, " (or give a separate test file with --test-dataset)")
    kw = dict(text_column=text_column, label_column=label_column, encoding=encoding, errors=encoding_errors,
              multi_label=multi_label, label_separator=label_separator)
    records = read_records(path, **kw)
    files = {split: read_records(file, **kw) for split, file in (("test", test_path), ("val", val_path))
             if file is not None}
    multi = is_multi_label(records) or any(map(is_multi_label, files.values()))
    if multi:
        records, files = as_label_sets(records), {split: as_label_sets(r) for split, r in files.items()}
    names = label_vocabulary(records.labels, path)
    _check_class_sizes(records, names, path, test_path, val_path)
    encode, split_off = (encode_label_sets, multilabel_split) if multi else (encode_labels, stratified_split)
    texts, labels = records.texts, encode(records.labels, names, path)
    parts = {}
    for split, file, fraction, part_seed in (("test", test_path, test_fraction, seed),
                                             ("val", val_path, val_fraction, seed + 1)):
        if file is not None:
            parts[split] = files[split].texts, encode(files[split].labels, names, file, files[split].locations)
        else:
            keep, held = split_off(labels, fraction, part_seed)
            parts[split] = [texts[i] for i in held], labels[held]
            texts, labels = [texts[i] for i in keep], labels[keep]
    data = TextDataset(texts, labels, *parts["val"], *parts["test"], label_names=list(names), source=str(path))
    data.check_splits(test_file=test_path is not None)
    for split, file in (("test", test_path), ("val", val_path)):
        if file is not None:
            _warn_missing_classes(data, split, file)
    return data


def _warn_missing_classes(data: TextDataset, split: str, path) -> None:
    missing = [name for name, n in data.class_counts(split).items() if n == 0]
    if missing:
        kind, what = "label(s)" if data.multi_label else "class(es)", SPLIT_NAMES[split]
        warnings.warn(f"{path}: no {what} example of {kind} {', '.join(map(short_repr, missing[:10]))};"
                      f" their {what} metrics are undefined", stacklevel=3)
