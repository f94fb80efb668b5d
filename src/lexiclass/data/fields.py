"""A user's file read as text, and its text and label fields checked: every problem is a `DataError`
whose one line names the file and, where it applies, the line, the field and the value, and says
what would be accepted. The readers in `lexiclass.data.user_files` build on these.

Multi-label data keeps each text's labels as a tuple of label strings (empty: a text with no label),
so a reader's `Records` hold either all strings (one class per text) or all tuples.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import NamedTuple

from lexiclass.errors import DataError

DECODE_ERRORS = ("strict", "replace", "ignore", "backslashreplace")
MAGIC = {b"\x1f\x8b": "a gzip archive", b"PK\x03\x04": "a zip archive (or .xlsx)", b"%PDF": "a PDF file",
         b"\x89PNG": "a PNG image", b"SQLite format 3": "an SQLite database"}


class Records(NamedTuple):
    """What a reader found: texts, label strings (or tuples of them: multi-label), and where each came from
    (a line number or a file path)."""

    texts: list
    labels: list
    locations: list


def where(path, location) -> str:
    """``"file, line 3"`` for a line number, the location itself otherwise (a file path, ``"file, item 2"``)."""
    return f"{path}, line {location}" if isinstance(location, int) else str(location)


def short_repr(value, limit: int = 60) -> str:
    """``repr(value)`` of at most ``limit`` characters, for one-line error messages."""
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
        raise DataError(f"{where}: field {field!r} must be text, got {type(value).__name__} {short_repr(value)}")
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
                        f" got {type(value).__name__} {short_repr(value)}")
    value = str(value).strip()
    if not value:
        raise DataError(f"{where}: field {field!r} is empty")
    bad = _bad_character(value)
    if bad:
        raise DataError(f"{where}: field {field!r} has {bad}")
    return value


# --- label sets (multi-label data) -----------------------------------------------------------------------


def check_label_set(value, where: str, field: str) -> tuple:
    """A JSON list of labels as a tuple without repeats (first spelling and order kept); each element must be
    a label `check_label` accepts, so a nested list or an object is refused by its position."""
    labels = (check_label(item, where, f"{field}[{i}]") for i, item in enumerate(value))
    return tuple(dict.fromkeys(labels))


def split_labels(value: str, separator: str, where: str, field: str) -> tuple:
    """A delimited label field (``"a|b"``) as a tuple: parts stripped, empty parts dropped, repeats collapsed.
    An empty field is the empty set, a text with no label."""
    parts = [part for part in value.split(separator) if part.strip()]
    return tuple(dict.fromkeys(check_label(part, where, field) for part in parts))


def is_multi_label(records: Records) -> bool:
    """Whether a reader gave label sets (tuples) rather than one label string per text."""
    return any(isinstance(label, tuple) for label in records.labels)


def as_label_sets(records: Records) -> Records:
    """``records`` with every single label ``"a"`` turned into the one-label set ``("a",)``."""
    labels = [label if isinstance(label, tuple) else (label,) for label in records.labels]
    return Records(records.texts, labels, records.locations)
