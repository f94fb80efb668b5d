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
from pathlib import Path

from lexiclass.errors import LexiclassError

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
MODEL_FILE = "model.keras"
MODEL_DIR = "model"  # scikit-learn-style models (e.g. nbsvm) save a folder instead
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"
METRICS_FILE = "metrics.json"
CONFUSION_FILE = "confusion_matrix.png"
CHECKPOINT_DIR = "checkpoints"
LAST_MODEL_FILE = "last.keras"
STATE_FILE = "state.json"


def read_json(path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LexiclassError(f"{path} is missing: is {Path(path).parent} a lexiclass run directory?") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise LexiclassError(f"cannot read {path}: {exc}") from exc


def require_complete(run_dir) -> dict:
    """The run's ``run.json``, or a clear error if the directory is not a finished run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LexiclassError(f"run directory {run_dir} does not exist")
    info = read_json(run_dir / RUN_FILE)
    if info.get("status") != "complete":
        raise LexiclassError(
            f"{run_dir}: training did not finish (status {info.get('status')!r}); "
            f"continue it with: lexiclass train --resume --out {run_dir}"
        )
    return info
