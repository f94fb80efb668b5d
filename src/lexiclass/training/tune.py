"""Hyper-parameter search: `tune` runs trials of `train` over a search space, picks the best on
validation, and trains the best settings once more into a complete run folder.

The space file (TOML) maps `TrainConfig` settings to their candidates::

    # a list: these choices
    ngrams = [1, 2, 3]
    bow_mode = ["multi_hot", "tf_idf"]
    # a table: numbers from min to max (both inclusive), evenly or, with log = true, on a log scale;
    # (whole numbers for an integer setting)
    learning_rate = {min = 1e-4, max = 1e-2, log = true}
    hidden_units = {min = 8, max = 64}

(The settings may also sit under a ``[space]`` table.) Every key and value is checked
when the file is read, with a one-line error naming the key. Settings that are each
valid but impossible together (e.g. ``char_min_n`` above ``char_ngrams``) make that
trial fail; a failed trial is reported in the table and the others go on.

The trials are drawn before any runs, from ``seed``: the whole grid when every setting is
a list and the grid has at most ``trials`` points, else ``trials`` random draws (distinct
grid points when every setting is a list). So ``engine="ray"`` (trials in parallel on Ray
Tune, as resources allow) and ``engine="local"`` (one after another in this process,
without Ray) run exactly the same trials.

Each trial trains with ``refit_on_val`` off on the training split and is scored on the
validation split only: its dataset's test split *is* the validation split, so the test
texts never reach a trial. The best trial (highest validation accuracy; the earlier trial
on a tie) is trained again with the base settings' ``refit_on_val`` on the full dataset
into ``out/best`` by `train`, exactly like ``lexiclass train``; only it is scored on test.

``out`` then holds ``best/`` (the run), ``trials.csv`` and ``trials.md`` (every trial:
its settings, validation accuracy, seconds, status, error) and ``tune.json`` (summary).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import itertools
import math
import os
import shutil
import tempfile
import time
import tomllib
import typing
from pathlib import Path

import numpy as np

from lexiclass import atomic
from lexiclass.config import CHOICES, MODEL_NAMES, TrainConfig, _base_type, _check_range, coerce
from lexiclass.errors import ConfigError, LexiclassError, first_line
from lexiclass.ray_session import RaySession, limit_threads, require_ray, reraise_user_error

ENGINES = ("ray", "local")
# Settings that change which texts are in which split: a space holding one loads the data per trial.
DATA_KEYS = {"dataset", "test_dataset", "val_dataset", "imdb_archive", "text_column", "label_column", "encoding",
             "encoding_errors", "val_fraction", "test_fraction", "split_seed", "limit", "multi_label",
             "label_separator"}
BEST_DIR, TABLE_CSV, TABLE_MD, SUMMARY = "best", "trials.csv", "trials.md", "tune.json"


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched setting: ``choices``, or numbers in [low, high] (``log``: log-uniform; ``integer``)."""

    name: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        kind = "integers" if self.integer else "numbers"
        return f"{kind} in [{self.low}, {self.high}]" + (" (log scale)" if self.log else "")

    def sample(self, rng: np.random.Generator):
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.integer:
            if self.log:
                value = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
                return int(min(self.high, max(self.low, math.floor(value))))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


# -- the space file ------------------------------------------------------------------------------------


def read_space(space, source: str | None = None) -> list[Dimension]:
    """A space from a TOML file path or a dict (see the module docstring); raises `ConfigError` naming the key."""
    if isinstance(space, (str, os.PathLike)):
        path = Path(space)
        source = source or str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read space file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"space file {path} is not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"space file {path}: {' '.join(str(exc).split())[:200]}") from None
    elif isinstance(space, dict):
        data, source = space, source or "space"
    else:
        raise ConfigError(f"a search space is a TOML file or a dict, got {type(space).__name__}")
    if set(data) == {"space"} and isinstance(data["space"], dict):
        data = data["space"]
    if not data:
        raise ConfigError(f"{source}: no settings to search; map settings to lists or {{min, max}} tables")
    hints = typing.get_type_hints(TrainConfig)
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    dims = []
    for key, spec in data.items():
        name = key.replace("-", "_")
        where = f"{source}: {key}"
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown setting {key!r}{hint}")
        if isinstance(spec, list):
            dims.append(Dimension(name, choices=_choices(spec, hints[name], fields[name], where)))
        elif isinstance(spec, dict):
            dims.append(_range(name, spec, hints[name], fields[name], where))
        else:
            raise ConfigError(f"{where}: give a list of choices or a table {{min = ..., max = ...}}, "
                              f"got {spec!r}")
    return dims


def _checked(value, hint, field, where):
    value = coerce(value, hint, where)
    allowed = MODEL_NAMES if field.name == "model" else CHOICES.get(field.name)
    if allowed is not None and value not in allowed:  # refused before any trial runs, not as a failed trial
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
    try:
        _check_range(field, value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return value


def _choices(spec: list, hint, field, where) -> tuple:
    if not spec:
        raise ConfigError(f"{where}: the list of choices is empty")
    values = []
    for value in spec:
        if isinstance(value, (list, dict)):
            raise ConfigError(f"{where}: a choice must be a single value, got {value!r}")
        value = _checked(value, hint, field, where)
        if value not in values:
            values.append(value)
    return tuple(values)


def _range(name, spec: dict, hint, field, where) -> Dimension:
    base, _ = _base_type(hint)
    extra = sorted(set(spec) - {"min", "max", "log"})
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r} in its table (use min, max and log)")
    if base not in (int, float):
        raise ConfigError(f"{where}: a {{min, max}} range needs a numeric setting; give a list of choices")
    for bound in ("min", "max"):
        if bound not in spec:
            raise ConfigError(f"{where}: the range needs {bound}")
        if isinstance(spec[bound], bool) or not isinstance(spec[bound], (int, float)):
            raise ConfigError(f"{where}: {bound} must be a number, got {spec[bound]!r}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    low, high = (_checked(spec[bound], hint, field, where) for bound in ("min", "max"))
    if low > high:
        raise ConfigError(f"{where}: min {low} is larger than max {high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs min > 0, got {low}")
    return Dimension(name, low=low, high=high, log=log, integer=base is int)


def draw_trials(dims: list[Dimension], trials: int, seed: int = 0) -> list[dict]:
    """The trials' settings: the whole grid if every setting is a list and it fits in ``trials``, else
    ``trials`` seeded random draws (distinct grid points when every setting is a list)."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise LexiclassError(f"--trials must be a whole number >= 1, got {trials!r}")
    rng = np.random.default_rng(seed)
    if all(d.choices is not None for d in dims):
        size = math.prod(len(d.choices) for d in dims)
        if size <= trials:
            return [dict(zip((d.name for d in dims), point)) for point in itertools.product(*(d.choices for d in dims))]
        if size <= 1_000_000:
            grid = list(itertools.product(*(d.choices for d in dims)))
            picks = rng.choice(size, size=trials, replace=False)
            return [dict(zip((d.name for d in dims), grid[int(i)])) for i in picks]
    return [{d.name: d.sample(rng) for d in dims} for _ in range(trials)]


# -- one trial ---------------------------------------------------------------------------------------


def validation_as_test(data):
    """The dataset a trial sees: its test split replaced by the validation split (the test texts are not in it)."""
    from lexiclass.data.dataset import TextDataset

    return TextDataset(data.train_texts, data.train_labels, data.val_texts, data.val_labels,
                       list(data.val_texts), data.val_labels.copy(), data.label_names, data.source)


def run_trial(index: int, settings: dict, base: TrainConfig, data=None, threads: int | None = None) -> dict:
    """Train one trial in a temporary folder (removed after) and return its table row; never raises
    for a failed trial: its ``status`` is ``error`` and ``error`` holds the first line of the message."""
    from lexiclass.progress import configure, enabled
    from lexiclass.training.fit import train

    if threads:
        limit_threads(threads)
    row = {"trial": index, **settings, "status": "ok", "val_accuracy": None, "best_epoch": None, "seconds": None,
           "error": ""}
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix=f"lexiclass-trial-{index:03d}-"))
    was = enabled()
    configure(enabled=False)
    try:
        config = base.updated({**settings, "refit_on_val": False}, source=f"trial {index}")
        if data is None:
            from lexiclass.data import load_dataset

            data = load_dataset(config)
        info = train(config, folder / "run", dataset=validation_as_test(data), verbose=0)
        row["val_accuracy"] = float(info["test_accuracy"])  # the test split of a trial is the validation split
        if "test_micro_f1" in info:  # multi-label: trials are ranked by micro-F1 (val_accuracy is subset accuracy)
            row["val_micro_f1"] = float(info["test_micro_f1"])
        row["best_epoch"] = info.get("best_epoch")
    except Exception as exc:  # noqa: BLE001  a failed trial is reported, the search goes on
        row["status"] = "error"
        row["error"] = f"{type(exc).__name__}: {first_line(exc, 300)}"
    finally:
        configure(enabled=was)
        shutil.rmtree(folder, ignore_errors=True)
        row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def _ray_trainable(params, settings=None, base=None, data=None, threads=None):
    from ray import tune as ray_tune  # deferred: Ray is an optional extra, seconds to import

    index = params["trial"]
    report = getattr(ray_tune, "report", None)
    if report is None:  # Ray before tune.report: Ray Train's reports to Tune
        from ray.train import report
    report(run_trial(index, settings[index], base, data, threads))


# -- the search --------------------------------------------------------------------------------------


def tune(config: TrainConfig, space, trials: int, out, *, engine: str = "ray", address: str | None = None,
         workers: int | None = None, cpus_per_trial: int = 1, seed: int = 0, overwrite: bool = False,
         dataset=None) -> dict:
    """Search ``space`` (a TOML path or dict) around ``config`` with ``trials`` trials; write ``out``.

    ``engine``: ``"ray"`` (Ray Tune; ``address`` None starts a local Ray with ``workers`` x
    ``cpus_per_trial`` CPUs, default the machine's cores; ``"auto"`` or ``host:port`` joins a cluster; at most
    ``workers`` trials at once, default as resources allow) or ``"local"`` (sequential, no Ray).
    ``dataset``: a `TextDataset` to use instead of loading ``config.dataset`` (tests).
    Returns the ``tune.json`` summary: ``best`` (trial row), ``best_run`` (its run.json), ``trials``.
    """
    from lexiclass.progress import progress
    from lexiclass.training.fit import absolute_sources, train

    started = time.perf_counter()
    if engine not in ENGINES:
        raise LexiclassError(f"--engine {engine!r}: use one of {', '.join(ENGINES)}")
    for name, value in (("--workers", workers), ("--cpus-per-trial", cpus_per_trial)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise LexiclassError(f"{name} must be a whole number >= 1, got {value!r}")
    dims = read_space(space)
    drawn = draw_trials(dims, trials, seed)
    if engine == "ray":
        require_ray("--engine ray")
    out = Path(out).absolute()
    _prepare_out(out, overwrite)
    config = config.validate()
    if dataset is None:
        config = absolute_sources(config)  # trials on other machines and the saved run find the data
    if dataset is None and not any(d.name in DATA_KEYS for d in dims):
        from lexiclass.data import load_dataset

        dataset = load_dataset(config)
    shared = dataset  # None only when data settings are searched: then each trial loads its own split

    ray_info = {}
    if engine == "local":
        rows = []
        with progress(total=len(drawn), desc="tuning (local)", unit="trial") as bar:
            for index, settings in enumerate(drawn):
                rows.append(run_trial(index, settings, config, shared))
                bar.update(1)
    else:
        rows, ray_info = _tune_on_ray(drawn, config, shared, address, workers, cpus_per_trial)

    score = "val_micro_f1" if any(row.get("val_micro_f1") is not None for row in rows) else "val_accuracy"
    ok = [row for row in rows if row["status"] == "ok" and row.get(score) is not None]
    best = max(ok, key=lambda row: (row[score], -row["trial"])) if ok else None
    names = [d.name for d in dims]
    _write_tables(out, rows, names, best, score)
    summary = {"engine": engine, "trials": len(rows), "failed": len(rows) - len(ok), "seed": seed,
               "space": {d.name: d.describe() for d in dims}, "best": best, "best_run": None, "ranked_by": score,
               "search_seconds": round(time.perf_counter() - started, 3), **ray_info}
    if best is None:
        atomic.write_json(out / SUMMARY, summary)
        first = next((row["error"] for row in rows if row["error"]), "no result")
        raise LexiclassError(f"all {len(rows)} trials failed (see {out / TABLE_MD}); the first: {first}")
    best_config = config.updated({name: best[name] for name in names}, source=f"best trial {best['trial']}")
    info = train(best_config, out / BEST_DIR, dataset=dataset, overwrite=True, verbose=0)
    summary["best_run"] = {key: info.get(key) for key in ("model", "run_id", "test_accuracy", "best_epoch",
                                                          "monitor", "best_value", "data_sizes")}
    if "test_micro_f1" in info:
        summary["best_run"]["test_micro_f1"] = info["test_micro_f1"]
    summary["seconds"] = round(time.perf_counter() - started, 3)
    atomic.write_json(out / SUMMARY, summary)
    return summary


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise LexiclassError(f"--out {out} is a file; give a folder for the search")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise LexiclassError(f"{out} is not empty: choose another --out, or --overwrite to replace a "
                                 "previous search there")
        if not (out / SUMMARY).is_file():
            raise LexiclassError(f"--overwrite: {out} is not a lexiclass search (no {SUMMARY}); it was left as it "
                                 "is: remove it yourself or choose another --out")
        for name in (TABLE_CSV, TABLE_MD, SUMMARY):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _tune_on_ray(drawn, config, data, address, workers, cpus_per_trial) -> tuple[list[dict], dict]:
    from ray import tune as ray_tune  # deferred: Ray is an optional extra, seconds to import

    # A local Ray: room for `workers` trials, else the machine's cores (at least one trial's worth).
    local_cpus = workers * cpus_per_trial if workers else max(os.cpu_count() or 1, cpus_per_trial)
    storage = Path(tempfile.mkdtemp(prefix="lexiclass-tune-"))
    try:
        with RaySession(address, local_cpus) as session:
            trainable = ray_tune.with_parameters(_ray_trainable, settings=drawn, base=config, data=data,
                                                 threads=cpus_per_trial)
            trainable = ray_tune.with_resources(trainable, {"cpu": cpus_per_trial})
            tuner = ray_tune.Tuner(
                trainable,
                param_space={"trial": ray_tune.grid_search(list(range(len(drawn))))},
                tune_config=ray_tune.TuneConfig(max_concurrent_trials=workers, reuse_actors=True),
                run_config=ray_tune.RunConfig(name="lexiclass-tune", storage_path=str(storage), verbose=0,
                                              failure_config=ray_tune.FailureConfig(max_failures=0)),
            )
            quiet = os.environ.get("RAY_AIR_NEW_OUTPUT")
            os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # with verbose=0, no experiment box on stdout
            try:
                grid = tuner.fit()
            except Exception as exc:  # noqa: BLE001
                reraise_user_error(exc)
            finally:
                if quiet is None:
                    os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
                else:
                    os.environ["RAY_AIR_NEW_OUTPUT"] = quiet
            rows = {}
            for result in grid:
                index = result.config["trial"]
                metrics = dict(result.metrics or {})
                if result.error is not None or metrics.get("status") not in ("ok", "error"):
                    # the trial's process died (out of memory, killed): Tune reports what it saw
                    error = result.error
                    rows[index] = {"trial": index, **drawn[index], "status": "error", "val_accuracy": None,
                                   "best_epoch": None, "seconds": metrics.get("time_total_s"),
                                   "error": f"{type(error).__name__}: {first_line(error, 300)}" if error else "no result"}
                else:
                    rows[index] = {key: metrics.get(key) for key in
                                   ["trial", *drawn[index], "status", "val_accuracy", "best_epoch", "seconds",
                                    "error"] + (["val_micro_f1"] if "val_micro_f1" in metrics else [])}
                    rows[index].update(drawn[index])  # keep the drawn values' types
        info = {"ray_startup_seconds": session["startup_seconds"], "ray_cluster_cpus": session["cluster_cpus"],
                "address": address or "local"}
        return [rows[i] for i in sorted(rows)], info
    finally:
        shutil.rmtree(storage, ignore_errors=True)


# -- the table -----------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _write_tables(out: Path, rows: list[dict], names: list[str], best: dict | None,
                  score: str = "val_accuracy") -> None:
    scores = ["val_micro_f1", "val_accuracy"] if score == "val_micro_f1" else ["val_accuracy"]
    columns = ["trial", *names, *scores, "seconds", "status", "best", "error"]
    table = [[_cell(row.get(c)) if c != "best" else ("yes" if best is not None and row is best else "")
              for c in columns] for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(table)
    atomic.write_text(out / TABLE_CSV, buffer.getvalue())

    def md(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in table]
    what = "validation micro-F1" if score == "val_micro_f1" else "validation accuracy"
    heading = f"Best: trial {best['trial']}, {what} {best[score]:.4f}\n\n" if best else "No trial finished.\n\n"
    atomic.write_text(out / TABLE_MD, heading + "\n".join(lines) + "\n")
