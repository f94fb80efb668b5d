"""Test-set metrics of a run: computed at the end of training and reproduced later from the saved files."""

from __future__ import annotations

from pathlib import Path

from lexiclass import atomic, run_dir as rd


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


def test_metrics(predictor, data) -> dict:
    from lexiclass.training.metrics import classification_metrics

    if list(data.label_names) != list(predictor.label_names):
        raise ValueError(f"dataset labels {data.label_names} differ from the run's {predictor.label_names}")
    probabilities = predictor.predict_proba(data.test_texts)
    return classification_metrics(data.test_labels, probabilities, predictor.label_names)


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
    stored = rd.read_json(Path(run_dir) / rd.METRICS_FILE)
    metrics["stored_accuracy"] = stored.get("accuracy")
    return metrics
