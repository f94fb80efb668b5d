"""Rows of a text file in chunks, so that a file of any size is read with flat memory.

Formats (from the suffix, or ``input_format``):

- ``txt``: one text per line; every line is a row, blank lines included, so row N is line N;
- ``csv`` / ``tsv``: a header row, then records read by the csv module one at a time; an
  empty line is a record whose fields are all empty (kept, so rows stay aligned);
- ``jsonl``: one JSON object per line; a blank line is a row with every field null;
- ``parquet``: record batches from pyarrow's ``ParquetFile.iter_batches``.

``-`` reads stdin (one text per line unless ``input_format`` says otherwise).
Text is UTF-8 unless ``encoding`` names another codec that keeps ASCII bytes as they are
(latin-1, cp1252, cp949, euc-kr, ...): lines are split on the newline byte before they are
decoded, which UTF-16 and UTF-32 do not allow.
Every problem is a `DataError` that names the file and the line (or parquet row) and
field; the first bad row stops the stream.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lexiclass.data.fields import short_repr
from lexiclass.data.user_files import check_encoding, parse_json, raise_csv_field_limit
from lexiclass.errors import DataError

SUFFIX_FORMATS = {".txt": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                  ".json": "jsonl", ".parquet": "parquet"}
FORMATS = ("txt", "csv", "tsv", "jsonl", "parquet")
DELIMITERS = {"csv": ",", "tsv": "\t"}
BOM = b"\xef\xbb\xbf"
# A \uD800-\uDFFF escape in a JSON line; only such lines can decode to a lone surrogate.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Chunk:
    """Up to ``chunk_rows`` consecutive rows.

    ``texts[i]`` is a str, or None for a missing (null) text; ``ids`` are the id column's
    values or 1-based row numbers; ``columns`` maps every input column to its values (a
    pyarrow Array for parquet input, so types survive into parquet output, else a list).
    ``position`` is how far the stream has got, in `RowStream.progress_unit`.
    """

    texts: list
    ids: list
    columns: dict = field(default_factory=dict)
    position: int = 0

    def __len__(self) -> int:
        return len(self.texts)


def detect_format(path, input_format: str | None = None) -> str:
    """``input_format`` if given, else the format named by the suffix (``-`` is stdin: txt)."""
    if input_format is not None:
        if input_format not in FORMATS:
            raise DataError(f"unknown input format {input_format!r} (use one of: {', '.join(FORMATS)})")
        return input_format
    if str(path) == "-":
        return "txt"
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise DataError(f"{path}: unsupported input type {suffix or '(no suffix)'!r} "
                        f"(use .txt, .csv, .tsv, .jsonl or .parquet, or '-' for stdin)")
    return SUFFIX_FORMATS[suffix]


def _line_codec(encoding: str, errors: str, name: str) -> str:
    """The codec to decode each line with; refuses codecs whose lines cannot be split on b"\\n"."""
    codec = check_encoding(encoding, errors)
    if codec == "utf-8-sig":  # the stream drops a leading byte-order mark itself
        return "utf-8"
    if "\n\r,\t\"{}a".encode(codec, "strict") != b"\n\r,\t\"{}a":
        raise DataError(f"{name}: encoding {encoding!r} cannot be read line by line (a newline is not the byte"
                        " 0x0A in it); convert the file to UTF-8 first, e.g. iconv -f "
                        f"{encoding} -t utf-8")
    return codec


class RowStream:
    """Open an input file, check its columns, then iterate `Chunk`s; use as a context manager.

    After construction ``columns`` lists the input's columns (for txt: ``text``, the line itself),
    ``progress_total``/``progress_unit`` give a total for a progress bar (rows for
    parquet, bytes for other files, rows without a total for stdin).
    """

    def __init__(self, path, text_column: str = "text", id_column: str | None = None,
                 input_format: str | None = None, chunk_rows: int = 2048, stdin=None, encoding: str = "utf-8",
                 encoding_errors: str = "strict"):
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.format = detect_format(path, input_format)
        self.is_stdin = str(path) == "-"
        self.name = "<stdin>" if self.is_stdin else str(path)
        self.encoding, self.encoding_errors = _line_codec(encoding, encoding_errors, self.name), encoding_errors
        self.text_column, self.id_column, self.chunk_rows = text_column, id_column, chunk_rows
        self.columns: list[str] = ["text"] if self.format == "txt" else []  # a line is its text: outputs carry it
        self.arrow_schema = None
        self._file = None
        self._bytes = 0  # bytes read so far, for progress
        self._line = 0  # physical lines read so far, for messages
        if self.format == "txt" and id_column is not None:
            raise DataError(f"{self.name}: --id-column needs a table input (.csv, .tsv, .jsonl, .parquet), "
                            "a .txt row's id is its line number")
        try:
            self._open(path, stdin)
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------------

    def _open(self, path, stdin) -> None:
        if self.format == "parquet":
            self._open_parquet(path)
            return
        if self.is_stdin:
            self._file = stdin if stdin is not None else sys.stdin.buffer
            self.progress_total, self.progress_unit = None, "row"
        else:
            try:
                self._file = open(path, "rb")
                self.progress_total, self.progress_unit = os.fstat(self._file.fileno()).st_size, "B"
            except OSError as exc:
                raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
        self._lines = self._decoded_lines()
        if self.format in DELIMITERS:
            self._open_table()
        elif self.format == "jsonl":
            self._open_jsonl()

    def _open_parquet(self, path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.is_stdin:
            raise DataError("parquet cannot be read from stdin (it needs a seekable file)")
        try:
            self._file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read {path} as parquet: {exc}") from exc
        self.arrow_schema = self._file.schema_arrow
        self.columns = list(self.arrow_schema.names)
        self._check_header()
        text_type = self.arrow_schema.field(self.text_column).type
        if pa.types.is_dictionary(text_type):
            text_type = text_type.value_type
        if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)
                or pa.types.is_string_view(text_type) or pa.types.is_null(text_type)):
            raise DataError(f"{self.name}: column {self.text_column!r} has type {text_type}, expected strings")
        self.progress_total, self.progress_unit = self._file.metadata.num_rows, "row"

    def _open_table(self) -> None:
        raise_csv_field_limit()  # long reviews: the default limit is 131,072 characters
        self._reader = csv.reader(self._lines, delimiter=DELIMITERS[self.format])
        header = self._next_record()
        if header is None:
            raise DataError(f"{self.name}: empty file, expected a header row")
        self.columns = header
        self._check_header()

    def _open_jsonl(self) -> None:
        # The columns are the first object's fields; blank lines before it are rows already.
        self._pending = []
        for number, line in self._numbered_lines():
            record = self._parse_json(line, number)
            self._pending.append((number, record))
            if record is not None:
                self.columns = list(record)
                break

    def _check_header(self) -> None:
        seen = set()
        for name in self.columns:
            if name in seen:
                raise DataError(f"{self.name}, line 1: column {name!r} appears twice in the header")
            seen.add(name)
        for name in (self.text_column, self.id_column):
            if name is not None and name not in seen:
                raise DataError(f"{self.name}: no column {name!r} (columns: {', '.join(self.columns) or 'none'})")

    # -- lines ---------------------------------------------------------------------------

    def _decoded_lines(self):
        """Lines as str with their endings, decoded one by one so a bad byte names its line."""
        for raw in self._file:
            if self._line == 0 and self.encoding == "utf-8" and raw.startswith(BOM):
                raw = raw[len(BOM):]
                self._bytes += len(BOM)
            self._line += 1
            try:
                line = raw.decode(self.encoding, self.encoding_errors)
            except UnicodeDecodeError as exc:
                what = "UTF-8" if self.encoding == "utf-8" else self.encoding
                raise DataError(f"{self.name}, line {self._line}: bytes not valid {what} at byte offset "
                                f"{self._bytes + exc.start}") from exc
            self._bytes += len(raw)
            yield line

    def _numbered_lines(self):
        for line in self._lines:
            if line.endswith("\n"):
                line = line[:-2] if line.endswith("\r\n") else line[:-1]
            yield self._line, line

    def _next_record(self):
        try:
            return next(self._reader, None)
        except csv.Error as exc:
            raise DataError(f"{self.name}, line {self._line}: {exc}") from exc

    def _parse_json(self, line: str, number: int):
        """A JSON line's object, or None for a blank line."""
        if not line.strip():
            return None
        where = f"{self.name}, line {number}"
        record = parse_json(line, where)
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        if SURROGATE_ESCAPE.search(line):
            _reject_surrogates(record, where)
        return record

    # -- chunks --------------------------------------------------------------------------

    def __iter__(self):
        if self.format == "parquet":
            yield from self._parquet_chunks()
            return
        rows = {"txt": self._txt_rows, "csv": self._table_rows, "tsv": self._table_rows,
                "jsonl": self._jsonl_rows}[self.format]()
        count = 0
        texts, ids, values = [], [], []
        for text, row_id, row in rows:
            count += 1
            texts.append(text)
            ids.append(count if self.id_column is None else row_id)
            values.append(row)
            if len(texts) == self.chunk_rows:
                yield self._chunk(texts, ids, values, count)
                texts, ids, values = [], [], []
        if texts:
            yield self._chunk(texts, ids, values, count)

    def _chunk(self, texts, ids, values, count) -> Chunk:
        columns = {name: [row[i] for row in values] for i, name in enumerate(self.columns)}
        position = count if self.progress_unit == "row" else self._bytes
        return Chunk(texts, ids, columns, position)

    def _txt_rows(self):
        for _, line in self._numbered_lines():
            yield line, None, (line,)

    def _table_rows(self):
        width = len(self.columns)
        text_at = self.columns.index(self.text_column)
        id_at = None if self.id_column is None else self.columns.index(self.id_column)
        while (record := self._next_record()) is not None:
            if not record:
                record = [""] * width  # an empty line: a row whose fields are all empty
            elif len(record) != width:
                raise DataError(f"{self.name}, line {self._line}: {len(record)} fields, the header has {width}")
            yield record[text_at], None if id_at is None else record[id_at], record

    def _jsonl_rows(self):
        def records():
            yield from self._pending
            for number, line in self._numbered_lines():
                yield number, self._parse_json(line, number)

        known = set(self.columns)
        for number, record in records():
            if record is None:
                yield None, None, [None] * len(self.columns)
                continue
            where = f"{self.name}, line {number}"
            extra = [key for key in record if key not in known]
            if extra:
                # Output columns are fixed by the first object; dropping a field silently would lose data.
                raise DataError(f"{where}: field {extra[0]!r} is not in the first object's fields "
                                f"({', '.join(self.columns)})")
            for name in (self.text_column, self.id_column):
                if name is not None and name not in record:
                    raise DataError(f"{where}: no field {name!r} (fields: {', '.join(record) or 'none'})")
            text = record[self.text_column]
            if text is not None and not isinstance(text, str):
                raise DataError(f"{where}: field {self.text_column!r} must be text, got "
                                f"{type(text).__name__} {short_repr(text)}")
            yield text, record.get(self.id_column), [record.get(name) for name in self.columns]

    def _parquet_chunks(self):
        import pyarrow as pa

        count = 0
        try:
            batches = self._file.iter_batches(batch_size=self.chunk_rows)
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                columns = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
                texts = columns[self.text_column].to_pylist()
                ids = (list(range(count + 1, count + batch.num_rows + 1)) if self.id_column is None
                       else columns[self.id_column])
                count += batch.num_rows
                yield Chunk(texts, ids, columns, count)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{self.name}: cannot read parquet rows after row {count}: {exc}") from exc

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        if self._file is not None and not self.is_stdin:
            self._file.close()
        self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _reject_surrogates(value, where: str, path: str = "") -> None:
    """Raise if a string in a decoded JSON value holds a lone surrogate (it cannot be written as UTF-8)."""
    if isinstance(value, str):
        if SURROGATE.search(value):
            raise DataError(f"{where}: field {path or '(value)'!r} holds a lone UTF-16 surrogate "
                            f"({short_repr(value.encode('utf-8', 'backslashreplace').decode('ascii'))})")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_surrogates(key, where, path)
            _reject_surrogates(item, where, path or key)
    elif isinstance(value, list):
        for item in value:
            _reject_surrogates(item, where, path)
