"""`lexiclass evaluate`: a finished run scored again from its saved files, on its own test split or another's."""

from __future__ import annotations

from pathlib import Path

from lexiclass import run_dir as rd
from lexiclass.data import load_dataset
from lexiclass.inference.predictor import Predictor
from lexiclass.training.metrics import score_test_split


def evaluate(run_dir, dataset: str | None = None, test_dataset: str | None = None, imdb_archive=None) -> dict:
    """Score a finished run on its own dataset's test split (or another dataset's); compare with the stored metrics."""
    predictor = Predictor.from_run_dir(run_dir)
    config = predictor.config
    if imdb_archive:
        config = config.updated({"imdb_archive": str(imdb_archive)})
    data = load_dataset(config, dataset=dataset, test_dataset=test_dataset)
    metrics = score_test_split(predictor, predictor.label_names, data)
    # The stored accuracy is the run's own test split's; another dataset has nothing to compare with.
    stored = None if dataset else rd.read_json(Path(run_dir) / rd.METRICS_FILE).get("accuracy")
    metrics["stored_accuracy"] = stored
    return metrics
