"""fastText's labelled-text format: one text per line, its labels first as ``__label__`` tokens.

``__label__sports __label__politics The vote on the stadium...`` is the text ``The vote on the stadium...``
with the labels ``sports`` and ``politics``. Blank lines are skipped; a line without a ``__label__`` token
or without text after its labels is a one-line `DataError` naming the file and line. A file where some line
has two or more labels (or ``multi_label`` asked) is multi-label data; else each line's label is its class.
"""

from __future__ import annotations

from pathlib import Path

from lexiclass.data.fields import Records, as_label_sets, check_label, check_text, read_text, short_repr, where
from lexiclass.errors import DataError

FASTTEXT_SUFFIXES = {".txt", ".ft", ".fasttext"}
PREFIX = "__label__"


def parse_line(line: str, at: str) -> tuple[tuple, str]:
    """(the labels, without repeats, the text) of one non-blank fastText line, each checked."""
    labels, rest = [], line.strip()
    while rest.startswith(PREFIX):
        parts = rest.split(None, 1)
        labels.append(check_label(parts[0][len(PREFIX):], at, PREFIX))
        rest = parts[1].lstrip() if len(parts) > 1 else ""
    if not labels:
        raise DataError(f"{at}: no {PREFIX} prefix at the start of the line, got {short_repr(line.strip())}"
                        f" (a fastText line is '{PREFIX}<label> ... text')")
    if not rest:
        raise DataError(f"{at}: no text after the label(s) {', '.join(map(short_repr, labels))}"
                        f" (a fastText line is '{PREFIX}<label> ... text')")
    return tuple(dict.fromkeys(labels)), check_text(rest, at, "text")


def read_fasttext(path: Path, encoding: str = "utf-8", errors: str = "strict", multi_label: bool = False) -> Records:
    """The labelled lines of a fastText file as `Records` with line numbers: label strings when every line has
    one label, label sets (tuples) when some line has several or ``multi_label`` is asked."""
    content = read_text(path, encoding, errors)
    if not content.strip():
        raise DataError(f"{path} is empty (expected lines such as '{PREFIX}<label> text')")
    records = Records([], [], [])
    for number, line in enumerate(content.split("\n"), start=1):  # line numbers as an editor counts them
        if line.strip():
            labels, text = parse_line(line, where(path, number))
            records.texts.append(text)
            records.labels.append(labels)
            records.locations.append(number)
    if multi_label or any(len(labels) > 1 for labels in records.labels):
        return as_label_sets(records)
    return Records(records.texts, [labels[0] for labels in records.labels], records.locations)
