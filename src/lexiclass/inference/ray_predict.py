"""Score many files on a Ray cluster (or a local Ray on this machine): `predict_files_ray`.

Needs the optional extra: ``pip install 'lexiclass[ray]'``. Without it `require_ray`
(`lexiclass.ray_session`, shared with ``tune``) raises a one-line `LexiclassError` saying so.

The pipeline, per call::

    input files ──Ray Data read tasks (lexiclass' RowStream, one task per file)──► (file, row, text) blocks
        ──map_batches(_PredictActor, concurrency=workers)──► (file, row, empty, probabilities)
        ──driver: per file, in row order──► one Ray write task per file ──► OUTPUT_DIR/<input name>.<format>

- Rows are parsed by the same `RowStream` as the local engine (`predict_file`), so row
  numbers, blank lines, CSV strings (ids like ``007`` stay text) and every `DataError`
  are the local engine's. Ray's own CSV/JSON readers are not used because they infer
  column types and skip blank lines, which would change ids and row numbers.
- Each actor loads the run once (in ``__init__``), not per batch. The run folder (or an ONNX
  export folder: the actors then predict under ONNX Runtime, without TensorFlow) is shipped
  through Ray's object store (packed once by the driver, unpacked once per
  actor into a temporary folder), so workers need not see the driver's disk for it.
- Only the probabilities travel back to the driver (a few floats per row). The output
  file of each input is written by a Ray task that reads the input again and writes
  through `predict_file` itself, replaying the cluster's probabilities: the output's
  columns, types, ids, order and ``empty`` flags are therefore exactly the local
  engine's. Inputs and the output folder must be at the same path on every node
  (shared storage) when joining a cluster.
- A multi-label run's thresholds.json is read once by the driver and handed to the write
  tasks, so their ``labels`` column (label sets) is decided by the local engine's own code.
"""

from __future__ import annotations

import glob
import inspect
import io
import os
import shutil
import tarfile
import tempfile
import time
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lexiclass import run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.models.onnx_export import read_export_info
from lexiclass.ray_session import RaySession, limit_threads, require_ray, reraise_user_error

OUTPUT_SUFFIXES = {"parquet": ".parquet", "csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl"}
READ_CPUS = 0.5  # a read or write task; the predictor actors take one CPU each
WRITE_CPUS = 0.5


# -- shipping the run folder -------------------------------------------------------------------------


def pack_run(run_dir) -> bytes:
    """The run folder (or ONNX export folder) as an uncompressed tar (model files compress little), for the object
    store. An export is checked here, on the driver, so a foreign or old one is one line before Ray starts."""
    run_dir = Path(run_dir)
    if rd.is_export(run_dir):
        read_export_info(run_dir)
    elif not (run_dir / rd.RUN_FILE).is_file() or not run_dir.is_dir():
        raise LexiclassError(f"{run_dir}: not a lexiclass run folder (no run.json)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(run_dir), arcname="run")
    return buffer.getvalue()


def unpack_run(payload: bytes) -> Path:
    """Unpack a `pack_run` payload into a new temporary folder; return the run folder inside it."""
    folder = Path(tempfile.mkdtemp(prefix="lexiclass-run-"))
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r") as tar:
        tar.extractall(folder, filter="data")
    return folder / "run"


def _crc(texts) -> np.ndarray:
    return np.fromiter((zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in texts), dtype=np.int64,
                       count=len(texts))


# -- the three stages --------------------------------------------------------------------------------


def _read_file(batch, **reading):
    """Ray Data read stage: one input file -> blocks of (``__file``, ``__row``, ``__text``); ``reading``
    holds `RowStream`'s options (text and id column, format, chunk rows, encoding)."""
    import pyarrow as pa

    from lexiclass.data.row_stream import RowStream

    for index, path in zip(batch.column("file").to_pylist(), batch.column("path").to_pylist()):
        done = 0
        with RowStream(path, **reading) as stream:
            for chunk in stream:
                n = len(chunk)
                yield pa.table({"__file": pa.array(np.full(n, index, dtype=np.int32)),
                                "__row": pa.array(np.arange(done, done + n, dtype=np.int64)),
                                "__text": pa.array(chunk.texts, type=pa.large_string())})
                done += n


class _PredictActor:
    """Ray Data ``map_batches`` class: loads the run once per actor, then scores batches of texts."""

    def __init__(self, run, cpus: float = 1):
        import ray

        from lexiclass.progress import configure

        configure(enabled=False)
        payload = ray.get(run) if isinstance(run, ray.ObjectRef) else run
        self.folder = unpack_run(payload).parent
        limit_threads(cpus, tensorflow=not rd.is_export(self.folder / "run"))  # an export runs on ONNX Runtime
        import lexiclass

        self.predictor = lexiclass.load(self.folder / "run")
        self.n = len(self.predictor.label_names)

    def __call__(self, batch):
        import pyarrow as pa

        from lexiclass.inference.predict_files import _predict

        texts = batch.column("__text").to_pylist()
        empty, probs = _predict(self.predictor, texts, self.n)  # the local engine's own rule for blanks
        columns = {"__file": batch.column("__file"), "__row": batch.column("__row"),
                   "__empty": pa.array(empty),
                   "__crc": pa.array(_crc([t if t is not None else "" for t in texts]))}
        for j in range(self.n):
            columns[f"__p{j}"] = pa.array(probs[:, j].astype(np.float64))
        return pa.table(columns)

    def __del__(self):
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)


class _Replay:
    """A stand-in predictor for `predict_file`: hands back the cluster's probabilities, in row order,
    and checks that each text is the one the cluster scored (CRC32)."""

    def __init__(self, label_names, probs, crcs, source, thresholds=None):
        self.label_names, self.probs, self.crcs, self.source = list(label_names), probs, crcs, source
        self.thresholds = thresholds  # a multi-label run's: predict_file then writes label sets
        self.at = 0

    def predict_proba(self, texts, batch_size=None):
        n = len(texts)
        if self.at + n > len(self.probs) or not np.array_equal(_crc(texts), self.crcs[self.at:self.at + n]):
            raise LexiclassError(f"{self.source}: the file changed while it was being scored; run again")
        found = self.probs[self.at:self.at + n]
        self.at += n
        return found

    def finish(self) -> None:
        if self.at != len(self.probs):
            raise LexiclassError(f"{self.source}: the file changed while it was being scored; run again")


def _write_file(label_names, path, output, reading, probs, crcs, thresholds=None):
    """Ray task: the output file for one input, through the local engine with replayed probabilities."""
    from lexiclass.inference.predict_files import predict_file
    from lexiclass.progress import configure

    configure(enabled=False)
    replay = _Replay(label_names, probs, crcs, path, thresholds)
    info = predict_file(replay, path, output, **reading)
    replay.finish()
    return {key: info[key] for key in ("input", "output", "rows", "empty_rows")}


@contextmanager
def _quiet_ray_data():
    """Ray Data's own log lines (execution plans, "finished in", the progress-bar notice) off while we
    run: our progress bar reports the rows; its warnings and errors still show, but for the notice that a
    small input leaves some of the --workers actors idle (a pool sized to the input scored ~5% slower)."""
    import logging

    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
            yield
    finally:
        logger.setLevel(level)


# -- the entry point ---------------------------------------------------------------------------------


def run_thresholds(run_dir, width: int) -> dict | None:
    """A multi-label run's thresholds.json (checked), None for a single-label run: read once by the driver."""
    from lexiclass.models.thresholds import read_run_thresholds

    config = rd.read_json(Path(run_dir) / rd.CONFIG_FILE)
    if not (isinstance(config, dict) and config.get("multi_label")):
        return None
    return read_run_thresholds(run_dir, width)


def expand_inputs(inputs) -> list[str]:
    """Paths from a path, a glob, or a list of them; sorted within each glob; refuses what matches nothing."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise LexiclassError("no input given")
    paths = []
    for item in items:
        item = str(item)
        if glob.has_magic(item):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not found:
                raise LexiclassError(f"--input {item}: no file matches")
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise LexiclassError(f"--input {item}: no such file")
    unique = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    return unique


def output_paths(paths: list[str], output_dir, output_format: str) -> list[Path]:
    """``OUTPUT_DIR/<input file name without suffix>.<format>``; two inputs with one name are refused."""
    if output_format not in OUTPUT_SUFFIXES:
        raise LexiclassError(f"--output-format {output_format!r}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise LexiclassError(f"--output {output_dir}: is a file; the ray engine writes a folder of outputs")
    outputs, seen = [], {}
    for path in paths:
        out = (output_dir / (Path(path).stem + OUTPUT_SUFFIXES[output_format])).absolute()
        if out in seen:
            raise LexiclassError(f"inputs {seen[out]} and {path} would both be written to {out}; "
                                 "score them into different output folders")
        if os.path.abspath(out) == os.path.abspath(path):
            raise LexiclassError(f"{out}: the output would overwrite the input; choose another output folder")
        seen[out] = path
        outputs.append(out)
    return outputs


def predict_files_ray(run_dir, inputs, output_dir, *, output_format: str = "parquet", text_column: str = "text",
                      id_column: str | None = None, input_format: str | None = None, address: str | None = None,
                      workers: int | None = None, chunk_rows: int = 2048, encoding: str = "utf-8",
                      encoding_errors: str = "strict") -> dict:
    """Score every row of ``inputs`` (a path, a glob or a list) with the run at ``run_dir`` on Ray, writing
    ``output_dir/<input name>.<output_format>`` per input, each exactly as `predict_file` would.

    ``address``: None starts a local Ray on this machine (``workers`` predictor actors, default one per
    CPU); ``"auto"`` or ``host:port`` joins a running cluster (``workers`` default: its CPUs less one).
    Returns ``{"engine", "rows", "empty_rows", "seconds", "rows_per_second", "workers", "files": [...],
    "ray_startup_seconds", "address"}``.
    """
    from lexiclass.data.row_stream import RowStream
    from lexiclass.progress import progress
    from lexiclass.run_dir import read_labels

    started = time.perf_counter()
    ray = require_ray()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise LexiclassError(f"--workers must be a whole number >= 1, got {workers!r}")
    if chunk_rows < 1:
        raise LexiclassError(f"chunk rows must be >= 1, got {chunk_rows}")
    paths = expand_inputs(inputs)
    outputs = output_paths(paths, output_dir, output_format)
    reading = dict(text_column=text_column, id_column=id_column, input_format=input_format, chunk_rows=chunk_rows,
                   encoding=encoding, encoding_errors=encoding_errors)
    for path in paths:  # columns, formats and the encoding checked here, in one line each, before Ray starts
        with RowStream(path, **reading):
            pass
    payload = pack_run(run_dir)
    labels = read_labels(run_dir)
    thresholds = run_thresholds(run_dir, len(labels))  # multi-label runs: the write tasks decide label sets
    n = len(labels)
    local_cpus = (workers or os.cpu_count() or 1) + 1  # one CPU beyond the actors for read and write tasks
    with RaySession(address, local_cpus) as session:
        cpus = session["cluster_cpus"]
        if workers is None:
            workers = max(1, int(cpus) - 1) if address else (os.cpu_count() or 1)
        # One CPU is kept for the read and write tasks; the actors share the rest (at most one CPU each).
        actor_cpus = round(max(0.1, min(1.0, (cpus - READ_CPUS - WRITE_CPUS) / workers)), 3)
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        try:
            result = _run(ray, payload, (labels, thresholds), paths, outputs, reading, workers, actor_cpus, progress)
        except Exception as exc:  # noqa: BLE001  Ray wraps the user's DataError in its own exception types
            reraise_user_error(exc)
    rows = sum(f["rows"] for f in result)
    seconds = time.perf_counter() - started
    return {"engine": "ray", "rows": rows, "empty_rows": sum(f["empty_rows"] for f in result),
            "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds, 3) if seconds > 0 else None,
            "workers": workers, "address": address or "local", "ray_startup_seconds": session["startup_seconds"],
            "classes": n, "files": result}


def _takes_extra_remote_args(method) -> bool:
    """Whether ``method`` still accepts Ray options as extra keyword arguments (deprecated in Ray 2.5x)."""
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(method).parameters.values())


def _run(ray, payload, run_labels, paths, outputs, reading, workers, actor_cpus, progress) -> list[dict]:
    """``run_labels``: (label names, the run's thresholds or None)."""
    from ray.data import DataContext

    labels, thresholds = run_labels

    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # blocks come back in file and row order
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    n, chunk_rows = len(labels), reading["chunk_rows"]
    run_ref = ray.put(payload)
    files = ray.data.from_items([{"file": i, "path": p} for i, p in enumerate(paths)],
                                override_num_blocks=len(paths))
    texts = files.map_batches(_read_file, batch_size=1, batch_format="pyarrow", num_cpus=READ_CPUS,
                              fn_kwargs=reading)
    if "target_num_rows_per_block" in inspect.signature(texts.repartition).parameters:
        # A read task's chunks arrive merged into large blocks, and an actor takes a whole block: cut
        # them back to chunk_rows (streaming, order kept) so one big file is spread over every actor.
        texts = texts.repartition(target_num_rows_per_block=chunk_rows)
    # No actor restarts where Ray still takes them as an extra argument: with restarts, Ray logs an E-level
    # line on every command (its actors' arguments live in the object store); an actor that dies fails the
    # command in one line, and running it again is the remedy either way.
    no_restarts = {"max_restarts": 0} if _takes_extra_remote_args(texts.map_batches) else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        scored = texts.map_batches(_PredictActor, batch_size=chunk_rows, batch_format="pyarrow", num_cpus=actor_cpus,
                                   compute=ray.data.ActorPoolStrategy(size=workers),
                                   fn_constructor_kwargs={"run": run_ref, "cpus": actor_cpus}, **no_restarts)
    write = ray.remote(num_cpus=WRITE_CPUS)(_write_file)
    pending, parts, current = [], [], 0

    def finish(upto: int) -> None:
        """Submit the write task of every file before ``upto`` (files without rows included)."""
        nonlocal parts, current
        while current < upto:
            mine = parts if parts else []
            rows = np.concatenate([p[0] for p in mine]) if mine else np.zeros(0, dtype=np.int64)
            if not np.array_equal(rows, np.arange(len(rows))):
                raise LexiclassError(f"{paths[current]}: rows came back out of order from Ray; run again")
            empty = np.concatenate([p[1] for p in mine]) if mine else np.zeros(0, dtype=bool)
            crcs = np.concatenate([p[2] for p in mine]) if mine else np.zeros(0, dtype=np.int64)
            probs = np.concatenate([p[3] for p in mine]) if mine else np.zeros((0, n))
            keep = ~empty
            pending.append(write.remote(labels, paths[current], str(outputs[current]), reading, probs[keep],
                                        crcs[keep], thresholds))
            parts, current = [], current + 1

    with progress(desc=f"scoring {len(paths)} file(s) on Ray", unit="row") as bar, _quiet_ray_data():
        for batch in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
            file_ids = batch.column("__file").to_numpy()
            starts = np.flatnonzero(np.diff(file_ids)) + 1
            for lo, hi in zip([0, *starts], [*starts, len(file_ids)]):
                index = int(file_ids[lo])
                if index != current:
                    finish(index)
                piece = batch.slice(lo, hi - lo)
                probs = np.column_stack([piece.column(f"__p{j}").to_numpy() for j in range(n)]) if n else \
                    np.zeros((hi - lo, 0))
                parts.append((piece.column("__row").to_numpy(), piece.column("__empty").to_numpy(zero_copy_only=False),
                              piece.column("__crc").to_numpy(), probs))
            bar.update(len(file_ids))
        finish(len(paths))
    return ray.get(pending)
