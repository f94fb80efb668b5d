"""`lexiclass evaluate`: a finished run scored again from its saved files, on its own test split or another's."""

from __future__ import annotations

from pathlib import Path

from lexiclass import run_dir as rd
from lexiclass.data import load_dataset
from lexiclass.data.labels import label_vocabulary
from lexiclass.data.user_files import read_records
from lexiclass.errors import LexiclassError
from lexiclass.inference.predictor import Predictor
from lexiclass.training.metrics import score_test_split


def evaluate(run_dir, dataset: str | None = None, test_dataset: str | None = None, imdb_archive=None) -> dict:
    """Score a finished run on its own dataset's test split (or another dataset's); compare with the stored metrics."""
    predictor = Predictor.load(run_dir)
    config = predictor.config
    if imdb_archive:
        config = config.updated({"imdb_archive": str(imdb_archive)})
    if dataset and dataset != "imdb":
        _check_classes(dataset, config, predictor.label_names)
    data = load_dataset(config, dataset=dataset, test_dataset=test_dataset)
    metrics = score_test_split(predictor, predictor.label_names, data, thresholds=predictor.thresholds)
    # The stored accuracy is the run's own test split's; another dataset has nothing to compare with.
    stored = None if dataset else rd.read_json(Path(run_dir) / rd.METRICS_FILE).get("accuracy")
    metrics["stored_accuracy"] = stored
    return metrics


def _check_classes(dataset, config, label_names: list[str]) -> None:
    """Another dataset's classes must be among the run's: said before its split asks for examples per class."""
    records = read_records(dataset, text_column=config.text_column, label_column=config.label_column,
                           encoding=config.encoding, errors=config.encoding_errors, multi_label=config.multi_label,
                           label_separator=config.label_separator)
    unknown = [name for name in label_vocabulary(records.labels, dataset) if name not in label_names]
    if unknown:
        raise LexiclassError(f"{dataset}: its classes {unknown} are not among the run's {label_names}; evaluate "
                             "scores data labelled with the run's classes")
