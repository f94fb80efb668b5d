"""Predict every row of a file into another file, chunk by chunk, with flat memory.

Output columns, in order: the id (the ``id_column`` value, else ``row`` = 1-based row
number), every other input column unchanged, ``label``, one ``p_<class>`` per class, and
``empty`` (true for a blank or missing text: label and probabilities are then null and
the text never reaches the model). An input column whose name clashes with one of the
added columns is carried as ``input_<name>``.

A multi-label run (the predictor has ``thresholds``) writes ``labels`` instead of ``label``: the
label set the run's thresholds choose, most probable first, as `Predictor.predict` gives it: a
list in JSON lines, a ``list<string>`` in Parquet, a JSON list (``["cat", "dog"]``, ``[]`` for
none) in a CSV/TSV cell; null for an empty row. The ``p_<label>`` columns are each label's own
probability (a row does not sum to 1).

The first bad row stops the run with a `DataError` naming file and line; a file output
is written to a temporary file beside it and renamed only at the end, so on any error
neither a partial output nor the temporary file is left, and an existing output file is
unchanged. (JSON lines on stdout are streamed: rows of earlier chunks are already out.)
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lexiclass.atomic import default_file_mode
from lexiclass.data.row_stream import RowStream
from lexiclass.errors import DataError, LexiclassError
from lexiclass.models.thresholds import chosen_in_order
from lexiclass.progress import muted, progress

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
ROW_GROUP_ROWS = 65_536  # parquet row groups much smaller than this make slow, bloated files
MAX_CHARS = 1_000_000  # longest text scored by default: ~75x IMDB's longest review; tokenizing costs ~20x its size


def predict_file(predictor, input_path, output_path=None, text_column: str = "text", id_column: str | None = None,
                 chunk_rows: int = 2048, stdout=None, input_format: str | None = None, encoding: str = "utf-8",
                 encoding_errors: str = "strict", max_chars: int = MAX_CHARS) -> dict:
    """Predict each row of ``input_path`` (``-``: stdin) into ``output_path`` (None or ``-``: JSON lines on ``stdout``).

    ``encoding`` / ``encoding_errors`` decode a text input (see `lexiclass.data.row_stream.RowStream`).
    A text longer than ``max_chars`` characters stops the run with one line naming its row (nothing is written).

    Returns ``{"rows", "empty_rows", "seconds", "rows_per_second", "input", "output",
    "columns", "renamed"}``; ``renamed`` maps clashing input columns to their output names.
    """
    started = time.perf_counter()
    if output_path is not None and str(output_path) == "-":
        output_path = None
    refuse_same_file(input_path, output_path)
    output_format = "jsonl" if output_path is None else output_format_of(output_path)
    labels = [str(name) for name in predictor.label_names]
    rows = empty_rows = 0
    with RowStream(input_path, text_column, id_column, input_format, chunk_rows, encoding=encoding,
                   encoding_errors=encoding_errors) as stream:
        layout = OutputLayout(stream, id_column, labels, getattr(predictor, "thresholds", None))
        with _output(output_path, output_format, stdout, layout) as writer, \
                progress(total=stream.progress_total, desc=f"predicting {stream.name}", unit=stream.progress_unit,
                         unit_scale=stream.progress_unit == "B") as bar:
            for chunk in stream:
                _check_lengths(chunk.texts, max_chars, stream.name, rows)
                table, empty = layout.table(chunk, *_predict(predictor, chunk.texts, len(labels)))
                writer.write(table)
                rows, empty_rows = rows + len(chunk), empty_rows + empty
                bar.update(chunk.position - bar.n)
                bar.set_postfix(rows=rows, refresh=False)
    seconds = time.perf_counter() - started
    return {"rows": rows, "empty_rows": empty_rows, "seconds": round(seconds, 3),
            "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
            "input": str(input_path), "output": None if output_path is None else str(output_path),
            "columns": layout.names, "renamed": layout.renamed}


def _check_lengths(texts, max_chars: int, source: str, rows_before: int) -> None:
    """`DataError` naming the first text over ``max_chars``: memory grows with a text's length, without bound."""
    for i, text in enumerate(texts):
        if text is not None and len(text) > max_chars:
            raise DataError(f"{source}, row {rows_before + i + 1}: a text of {len(text):,} characters is longer than "
                            f"--max-chars {max_chars:,}; raise --max-chars to score it")


def output_format_of(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise LexiclassError(f"{path}: unsupported output type {suffix or '(no suffix)'!r} "
                             "(use .csv, .tsv, .jsonl or .parquet, or no output for JSON lines on stdout)")
    return OUTPUT_FORMATS[suffix]


def refuse_same_file(input_path, output_path) -> None:
    """`LexiclassError` if ``output_path`` is a folder or would overwrite ``input_path``."""
    if output_path is None:
        return
    if os.path.isdir(output_path):
        raise LexiclassError(f"{output_path}: is a folder; give an output file name")
    if str(input_path) == "-":
        return
    same = os.path.abspath(input_path) == os.path.abspath(output_path)
    if not same and os.path.exists(input_path) and os.path.exists(output_path):
        same = os.path.samefile(input_path, output_path)  # links to one file
    if same:
        raise LexiclassError(f"{output_path}: the output would overwrite the input; choose another output file")


def _predict(predictor, texts, n_classes):
    """(empty flags, probabilities) for a chunk; blank and missing texts never reach the model."""
    empty = np.fromiter((t is None or not t.strip() for t in texts), dtype=bool, count=len(texts))
    probs = np.zeros((len(texts), n_classes))
    keep = np.flatnonzero(~empty)
    if keep.size:
        with muted():  # the file's bar already covers every chunk
            found = np.asarray(predictor.predict_proba([texts[i] for i in keep]))
        if found.shape != (keep.size, n_classes):
            raise LexiclassError(f"the model returned probabilities of shape {found.shape} "
                                 f"for {keep.size} texts and {n_classes} classes")
        probs[keep] = found
    return empty, probs


class OutputLayout:
    """The output column names, and how to build one chunk's output table from its input and predictions."""

    def __init__(self, stream: RowStream, id_column: str | None, labels: list[str], thresholds: dict | None = None):
        self.id_column = id_column
        self.id_name = id_column or "row"
        self.labels = labels
        self.thresholds = thresholds  # a multi-label run's: a "labels" column of label sets instead of "label"
        self.decided = "label" if thresholds is None else "labels"
        self.prob_names = [f"p_{label}" for label in labels]
        added = [self.id_name, self.decided, *self.prob_names, "empty"]
        if added.count(self.id_name) > 1:
            raise LexiclassError(f"--id-column {id_column!r} clashes with an output column; the output adds "
                                 f"{', '.join(added[1:])}")
        taken = set(added) | set(stream.columns)
        self.carried, self.renamed = [], {}  # (output name, input name); clashing input name -> output name
        for name in stream.columns:
            if name == id_column:
                continue
            out = name
            if name in added:
                while out in taken:
                    out = f"input_{out}"
                taken.add(out)
                self.renamed[name] = out
            self.carried.append((out, name))
        self.names = [self.id_name, *(out for out, _ in self.carried), self.decided, *self.prob_names, "empty"]
        self.known_types = self._known_types(stream)
        # Columns that hold only strings (all of a CSV's): the CSV writer needs no conversion for them.
        self.text_columns = set()
        if stream.format in ("csv", "tsv", "txt"):
            self.text_columns = {out for out, _ in self.carried} | ({id_column} if id_column else set())

    def _known_types(self, stream) -> dict:
        """Parquet types of the columns known before any row is read (the rest come from the first chunk)."""
        import pyarrow as pa

        decided = pa.string() if self.thresholds is None else pa.list_(pa.string())
        types = {self.decided: decided, "empty": pa.bool_(), **{name: pa.float64() for name in self.prob_names}}
        if stream.arrow_schema is not None:
            inputs = {name: stream.arrow_schema.field(name).type for name in stream.columns}
        elif stream.format in ("csv", "tsv", "txt"):
            inputs = {name: pa.string() for name in stream.columns}
        else:
            inputs = {}
        types.update({out: inputs[name] for out, name in self.carried if name in inputs})
        if self.id_column is None:
            types["row"] = pa.int64()
        elif self.id_column in inputs:
            types[self.id_column] = inputs[self.id_column]
        return types

    def table(self, chunk, empty, probs):
        """({column name: values}, number of empty rows) for one chunk."""
        table = {self.id_name: chunk.ids}
        for out, name in self.carried:
            table[out] = chunk.columns[name]
        table[self.decided] = self._decisions(empty, probs)
        empty_at = np.flatnonzero(empty).tolist()
        for j, name in enumerate(self.prob_names):
            column = probs[:, j].tolist()
            for i in empty_at:
                column[i] = None
            table[name] = column
        table["empty"] = empty.tolist()
        return table, len(empty_at)

    def _decisions(self, empty, probs) -> list:
        """Per row the most probable class, or (multi-label) the chosen labels, most probable first; None if empty."""
        if self.thresholds is None:
            best = probs.argmax(axis=1)
            return [None if e else self.labels[k] for e, k in zip(empty.tolist(), best.tolist())]
        chosen = chosen_in_order(probs, self.thresholds)  # as `Predictor.predict` orders a label set
        return [None if e else [self.labels[k] for k in ids] for e, ids in zip(empty.tolist(), chosen)]


# -- output writers: write(table) per chunk, close() at the end ---------------------------------------


def _as_list(values) -> list:
    return values.to_pylist() if hasattr(values, "to_pylist") else values


def _cell(value):
    """A CSV cell: booleans as true/false, nested JSON values as JSON, null as an empty cell."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


class CsvWriter:
    def __init__(self, stream, delimiter: str, names: list[str], plain: set):
        self.writer = csv.writer(stream, delimiter=delimiter, lineterminator="\n")
        self.writer.writerow(names)
        self.plain = plain  # columns the csv module can write as they are (strings and floats)

    def write(self, table: dict) -> None:
        columns = [_as_list(values) if name in self.plain else [_cell(v) for v in _as_list(values)]
                   for name, values in table.items()]
        self.writer.writerows(zip(*columns))

    def close(self) -> None:
        pass


class JsonlWriter:
    def __init__(self, stream):
        self.stream = stream

    def write(self, table: dict) -> None:
        names = list(table)
        columns = [_as_list(values) for values in table.values()]
        self.stream.write("".join(json.dumps(dict(zip(names, row)), ensure_ascii=False, default=str) + "\n"
                                  for row in zip(*columns)))
        self.stream.flush()

    def close(self) -> None:
        pass


class ParquetWriter:
    """Chunks buffered into row groups of about `ROW_GROUP_ROWS`; the schema is fixed by the first chunk."""

    def __init__(self, path, layout: OutputLayout, source: str):
        self.path, self.layout, self.source = path, layout, source
        self.schema, self.writer, self.buffer, self.buffered = None, None, [], 0

    def write(self, table: dict) -> None:
        import pyarrow as pa

        if self.schema is None:
            self.schema = pa.schema([(name, self._type(name, values)) for name, values in table.items()])
        arrays = [self._array(name, values, self.schema.field(name).type) for name, values in table.items()]
        self.buffer.append(pa.record_batch(arrays, schema=self.schema))
        self.buffered += self.buffer[-1].num_rows
        if self.buffered >= ROW_GROUP_ROWS:
            self._flush()

    def _type(self, name, values):
        import pyarrow as pa

        if name in self.layout.known_types:
            return self.layout.known_types[name]
        if isinstance(values, pa.Array):
            return values.type
        values = _as_list(values)
        try:
            inferred = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            kinds = sorted({type(v).__name__ for v in values if v is not None})
            raise DataError(f"{self.source}: column {name!r} mixes value types ({', '.join(kinds)}), which a parquet "
                            "column cannot hold; make its values one type, or write .jsonl or .csv") from exc
        # A column that is all null in the first chunk: text is the likeliest type of its later values.
        return pa.string() if pa.types.is_null(inferred) else inferred

    def _array(self, name, values, type_):
        import pyarrow as pa

        if isinstance(values, pa.Array):
            return values if values.type == type_ else values.cast(type_)
        try:
            return pa.array(values, type=type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            bad = next((v for v in values if not _fits(v, type_)), None)
            raise DataError(f"{self.source}: column {name!r} holds {bad!r} ({type(bad).__name__}) but its parquet "
                            f"type is {type_}, set by the first rows; make its values one type, or write "
                            ".jsonl or .csv") from exc

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema)
        if self.buffer:
            self.writer.write_table(pa.Table.from_batches(self.buffer), row_group_size=max(self.buffered, 1))
        self.buffer, self.buffered = [], 0

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def close(self) -> None:
        import pyarrow as pa

        if self.schema is None:  # no rows: the columns whose type is not known yet become strings
            self.schema = pa.schema([(name, self.layout.known_types.get(name, pa.string()))
                                     for name in self.layout.names])
        self._flush()
        self.writer.close()


def _fits(value, type_) -> bool:
    import pyarrow as pa

    try:
        pa.array([value], type=type_)
        return True
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False


def _text_writer(stream, output_format: str, layout: OutputLayout):
    if output_format == "jsonl":
        return JsonlWriter(stream)
    plain = {"label", *layout.prob_names, *layout.text_columns}
    return CsvWriter(stream, "," if output_format == "csv" else "\t", layout.names, plain)


@contextmanager
def _output(output_path, output_format: str, stdout, layout: OutputLayout):
    """A writer; for a file, one on a temporary file beside it that is renamed over it only on success."""
    if output_path is None:
        writer = _text_writer(stdout if stdout is not None else sys.stdout, "jsonl", layout)
        yield writer
        writer.close()
        return
    path = Path(output_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LexiclassError(f"cannot write {output_path}: {exc.strerror or exc}") from exc
    handle = writer = None
    try:
        if output_format == "parquet":
            os.close(fd)
            writer = ParquetWriter(tmp, layout, str(output_path))
        else:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
            writer = _text_writer(handle, output_format, layout)
        yield writer
        writer.close()
        if handle is not None:
            handle.close()
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if hasattr(writer, "abort"):
            writer.abort()
        raise
    finally:
        if handle is not None and not handle.closed:
            handle.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
