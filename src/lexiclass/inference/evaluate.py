"""Test-set metrics of a run: computed at the end of training and reproduced later from the saved files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lexiclass import atomic, run_dir as rd
from lexiclass.errors import LexiclassError


def evaluate_run_files(run_dir, data, config) -> dict:
    """Reload the saved model (``model.keras`` with `keras.models.load_model`), score ``data``'s test split,
    write metrics.json.

    Training calls this on the reloaded best model, so the stored numbers are what a
    later `evaluate` of the same run on the same data reproduces exactly.
    """
    from lexiclass.inference.predictor import Predictor

    predictor = Predictor.from_files(run_dir, config, data.label_names)
    metrics = test_metrics(predictor, data)
    atomic.write_json(Path(run_dir) / rd.METRICS_FILE, metrics)
    return metrics


def test_metrics(predictor, data, chunk: int = 1024) -> dict:
    """Metrics of ``predictor`` on ``data``'s test split, with progress.

    The dataset's classes must be among the run's; they are matched by name, so a test
    file with only some of the classes (or listing them in another order) scores correctly.
    """
    from lexiclass.progress import progress
    from lexiclass.training.metrics import classification_metrics

    run_ids = {name: i for i, name in enumerate(predictor.label_names)}
    unknown = [name for name in data.label_names if name not in run_ids]
    if unknown:
        raise LexiclassError(f"the dataset's classes {unknown} are not among the run's {predictor.label_names}")
    labels = np.asarray([run_ids[data.label_names[y]] for y in data.test_labels], dtype=np.int64)
    texts = data.test_texts
    parts = []
    with progress(total=len(texts), desc="scoring the test split", unit="text") as bar:
        for start in range(0, len(texts), chunk):
            parts.append(predictor.predict_proba(texts[start:start + chunk]))
            bar.update(len(parts[-1]))
    probabilities = np.concatenate(parts) if parts else np.zeros((0, len(run_ids)))
    return classification_metrics(labels, probabilities, predictor.label_names)


def evaluate(run_dir, dataset: str | None = None, test_dataset: str | None = None, imdb_archive=None) -> dict:
    """Score a finished run on its own dataset's test split (or another dataset's); compare with the stored metrics."""
    from lexiclass.data import load_dataset
    from lexiclass.inference.predictor import Predictor

    predictor = Predictor.from_run_dir(run_dir)
    config = predictor.config
    if imdb_archive:
        config = config.updated({"imdb_archive": str(imdb_archive)})
    data = load_dataset(config, dataset=dataset, test_dataset=test_dataset)
    metrics = test_metrics(predictor, data)
    # The stored accuracy is the run's own test split's; another dataset has nothing to compare with.
    stored = None if dataset else rd.read_json(Path(run_dir) / rd.METRICS_FILE).get("accuracy")
    metrics["stored_accuracy"] = stored
    return metrics
