"""The run directory: every file a trained model needs later, each written atomically.

Layout::

    RUN_DIR/
      run.json              status ("running" | "complete"), model, epochs, timings, versions
      config.json           the resolved TrainConfig
      labels.json           class names, index = class id
      vocabulary.txt        vectorizer vocabulary (+ vectorizer.json, idf_weights.npy for TF-IDF)
      model.keras           the best model on validation (model/ for n-gram linear models)
      history.csv           per-epoch loss / accuracy, train and validation
      training_curves.png
      metrics.json          test accuracy, precision, recall, F1, confusion matrix
      confusion_matrix.png
      checkpoints/          last epoch's model and training state, for --resume

Every file is written with `lexiclass.atomic`, so a reader (or a run killed at any
moment) sees either the old complete file or the new one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lexiclass import atomic
from lexiclass.errors import LexiclassError, first_line

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
MODEL_FILE = "model.keras"
MODEL_DIR = "model"  # scikit-learn-style models (e.g. nbsvm) save a folder instead
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"
METRICS_FILE = "metrics.json"
CALIBRATION_FILE = "calibration.json"  # n-gram runs: the temperature fitted on validation
THRESHOLDS_FILE = "thresholds.json"  # multi-label runs: the probability over which each label is predicted
CONFUSION_FILE = "confusion_matrix.png"
PER_LABEL_FILE = "per_label.png"  # multi-label runs: precision, recall and F1 of every label
CHECKPOINT_DIR = "checkpoints"
LAST_MODEL_FILE = "last.keras"
STATE_FILE = "state.json"
EXPORT_FILE = "export.json"  # marks an export folder (`lexiclass export`), which is not a run folder
NOT_A_RUN = ("{folder} is an export of the run {run}, not a run folder: this needs the run folder (an ONNX export "
             "predicts, evaluates, explains and serves; see docs/export.md)")


PARTIAL_SUFFIX = ".partial"  # a run being trained lives in .NAME.partial beside NAME until complete
OLD_SUFFIX = ".replaced"  # the run that a finished --overwrite run replaces, for the instant of the swap


def partial_dir(run_dir) -> Path:
    """Where the run for ``run_dir`` is trained: a hidden sibling, renamed to ``run_dir`` when complete."""
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}{PARTIAL_SUFFIX}"


def replaced_dir(run_dir) -> Path:
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}{OLD_SUFFIX}"


def recover_swap(out) -> None:
    """Finish or undo a replacement of ``out`` that a kill interrupted between the two renames of `publish`."""
    out = Path(out)
    old, work = replaced_dir(out), partial_dir(out)
    if not old.exists():
        return
    if out.exists():
        shutil.rmtree(old)  # the new run is in place; only the old one's removal was missed
    elif work.is_dir() and is_run_dir(work) and read_json(work / RUN_FILE).get("status") == "complete":
        os.replace(work, out)
        shutil.rmtree(old)
    else:
        os.replace(old, out)


def publish(work, out) -> None:
    """Move the finished run from ``work`` to ``out``, replacing what was there (two renames; a kill
    between them is finished or undone by `recover_swap`)."""
    work, out = Path(work), Path(out)
    if work == out:
        return
    old = replaced_dir(out)
    if out.exists():
        os.replace(out, old)
    os.replace(work, out)
    shutil.rmtree(old, ignore_errors=True)


def write_history_csv(run_dir, history: list[dict]) -> None:
    """history.csv: one row per epoch, one column per value any epoch logged."""
    columns = []
    for row in history:
        columns += [k for k in row if k not in columns]
    lines = [",".join(columns)] + [",".join(str(row.get(c, "")) for c in columns) for row in history]
    atomic.write_text(Path(run_dir) / HISTORY_FILE, "\n".join(lines) + "\n")


def read_json(path, kind=dict):
    """The JSON value in ``path`` (of type ``kind``), or a one-line `LexiclassError` naming the file."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LexiclassError(f"{path} is missing: is {path.parent} a lexiclass run directory?") from None
    except IsADirectoryError:
        raise LexiclassError(f"{path} is a folder, expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise LexiclassError(f"{path} is damaged: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise LexiclassError(f"{path} is damaged: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, RecursionError, ValueError) as exc:
        raise LexiclassError(f"cannot read {path}: {first_line(exc, 200)}") from None
    if kind is not None and not isinstance(value, kind):
        raise LexiclassError(f"{path} is damaged: expected a JSON {'object' if kind is dict else 'array'}, "
                             f"got {type(value).__name__}")
    return value


def read_labels(run_dir) -> list[str]:
    """The run's class names: a JSON list of at least two distinct strings."""
    path = Path(run_dir) / LABELS_FILE
    names = read_json(path, kind=list)
    if len(names) < 2 or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise LexiclassError(f"{path} is damaged: expected a list of at least two distinct class names, "
                             f"got {str(names)[:80]}")
    return names


def is_export(path) -> bool:
    """True when ``path`` is an export folder (its export.json) and not a run folder (no run.json)."""
    return (Path(path) / EXPORT_FILE).is_file() and not (Path(path) / RUN_FILE).exists()


def is_run_dir(path) -> bool:
    """True when ``path`` holds a lexiclass run (a run.json with a status), finished or not."""
    try:
        info = json.loads((Path(path) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("status") in ("running", "complete")


def require_complete(run_dir) -> dict:
    """The run's ``run.json``, or a clear error if the directory is not a finished run."""
    run_dir = Path(run_dir)
    resume = f"continue it with: lexiclass train --resume --out {run_dir}"
    if not run_dir.exists():
        if partial_dir(run_dir).is_dir():
            raise LexiclassError(f"{run_dir}: training did not finish; {resume}")
        raise LexiclassError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise LexiclassError(f"{run_dir} is a file, expected a run directory")
    if is_export(run_dir):
        run = read_json(run_dir / EXPORT_FILE).get("run_dir")
        raise LexiclassError(NOT_A_RUN.format(folder=run_dir, run=run))
    info = read_json(run_dir / RUN_FILE)
    if info.get("status") != "complete":
        raise LexiclassError(f"{run_dir}: training did not finish (status {info.get('status')!r}); {resume}")
    return info
