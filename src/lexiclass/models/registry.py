"""Models by name: how to create one, how many epochs by default, how to load a run's saved model.

Every entry makes a `lexiclass.models.classifier.TextClassifier`; commands never ask which family it is.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path

from lexiclass import run_dir as rd
from lexiclass.config import MODEL_NAMES
from lexiclass.errors import ConfigError, LexiclassError


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    default_epochs: int
    create: Callable | None  # (config, num_classes) -> an unfitted TextClassifier
    load: Callable | None  # (run folder, config, num_classes) -> the run's fitted TextClassifier, checked
    description: str
    needs_keras: bool = False  # training or predicting imports Keras and its backend (TensorFlow: ~7 s)
    multi_label: bool = True  # trains on texts with several labels each (one probability per label)


def _attribute(module: str, name: str):
    # Import model code only when a model is made, so `lexiclass --help` stays fast.
    target = importlib.import_module(f"lexiclass.models.{module}")
    for part in name.split("."):  # "Class.method" works too
        target = getattr(target, part)
    return target


def _keras(module: str, function: str, input_kind: str) -> dict:
    """A Keras family: the network ``module.function(config, num_classes, vocabulary)`` on ``input_kind`` inputs."""
    def create(config, num_classes):
        from lexiclass.models.keras_classifier import KerasTextClassifier

        return KerasTextClassifier(config, num_classes, network=_attribute(module, function), input_kind=input_kind,
                                   default_epochs=MODELS[config.model].default_epochs)

    def load(run_folder, config, num_classes):
        from lexiclass.models.keras_classifier import KerasTextClassifier

        return KerasTextClassifier.load_run(run_folder, config, num_classes)

    return {"create": create, "load": load, "needs_keras": True}


def calibrated(model, run_folder: Path):
    """``model`` at the temperature the run's calibration.json holds (runs without one: as it is)."""
    from lexiclass.models.classifier import TemperatureScaled

    path = run_folder / rd.CALIBRATION_FILE
    if not path.exists():
        return model
    temperature = rd.read_json(path).get("temperature")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < float("inf"):
        raise LexiclassError(f"{path}: 'temperature' must be a positive number, got {str(temperature)[:40]!r}")
    return TemperatureScaled(model, float(temperature))


def _ngram(module: str, cls: str) -> dict:
    """A model fitted in one call on raw texts (scikit-learn style), saved as a folder in the run."""
    def create(config, num_classes):
        return _attribute(module, cls).from_config(config)

    def load(run_folder, config, num_classes):
        from lexiclass.models.saved import load_text_model

        model = load_text_model(_attribute(module, cls).load, Path(run_folder) / rd.MODEL_DIR, num_classes)
        return calibrated(model, Path(run_folder))

    return {"create": create, "load": load}


MODELS = {
    spec.name: spec
    for spec in (
        ModelSpec("bow", 10, **_keras("bow", "build_bow", "bow"),
                  description="bag of n-grams (multi-hot or TF-IDF) -> Dense(16) -> Dropout -> classifier"),
        ModelSpec("bilstm", 10, **_keras("bilstm", "build_bilstm", "sequence"),
                  description="Embedding(256, mask_zero) -> Bidirectional(LSTM(32)) -> Dropout -> classifier"),
        ModelSpec("glove-bilstm", 10, **_keras("bilstm", "build_glove_bilstm", "sequence"),
                  description="frozen GloVe Embedding -> Bidirectional(LSTM(32)) -> Dropout -> classifier"),
        ModelSpec("transformer", 20, **_keras("transformer", "build_transformer", "sequence"),
                  description="Embedding(256) -> TransformerEncoder -> masked max pool -> Dropout -> classifier"),
        ModelSpec("positional-transformer", 20, **_keras("transformer", "build_positional_transformer", "sequence"),
                  description="PositionalEmbedding(600, 256) -> TransformerEncoder -> masked max pool -> Dropout -> classifier"),
        ModelSpec("nbsvm", 1, **_ngram("nbsvm", "NBSVMClassifier"),
                  description="NB-scaled binary n-grams -> logistic regression (Wang and Manning 2012)"),
        ModelSpec("tfidf", 1, **_ngram("tfidf", "TfidfClassifier"),
                  description="TF-IDF word 1-2-grams (or --tfidf-analyzer char) -> logistic regression: the cheap baseline"),
        ModelSpec("auto", 1, None, None, needs_keras=True,
                  description="tries tfidf (words, characters), nbsvm-ensemble and bow within --time-budget; keeps the best "
                  "on validation"),
        ModelSpec("nbsvm-ensemble", 1, **_ngram("nbsvm_ensemble", "NBSVMEnsembleClassifier"),
                  description="average of a word 1-3-gram NBSVM and a character 3-6-gram NBSVM"),
        ModelSpec("nbsvm-docvec", 1, **_ngram("docvec", "NBSVMDocVecClassifier"), multi_label=False,
                  description="nbsvm-ensemble mixed with PV-DBOW document vectors (word 1-2-gram targets) learned on the "
                  "training texts plus, on IMDB, the 50,000 unlabelled reviews (needs gensim)"),
        ModelSpec("nbsvm-dvcosine", 1, **_ngram("dvcosine", "NBSVMDVCosineClassifier"), multi_label=False,
                  description="nbsvm-ensemble mixed with document vectors trained with cosine similarity (word 1-3-gram "
                  "targets, Naive Bayes sub-sampling) on the training texts plus --unlabeled texts or, on IMDB, "
                  "the 50,000 unlabelled reviews: 93.0% IMDB test"),
    )
}
if tuple(MODELS) != MODEL_NAMES:  # one list of names for the config's check and this table
    raise ImportError(f"lexiclass.config.MODEL_NAMES {MODEL_NAMES} and the registry's models {tuple(MODELS)} differ")


def multi_label_models() -> list[str]:
    """The families that train on several labels per text."""
    return [name for name, spec in MODELS.items() if spec.multi_label]


def get_model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return MODELS[name]
