"""Models by name: what each one takes as input, how many epochs by default, how to build it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lexiclass.config import MODEL_NAMES


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    inputs: str  # "sequence": token ids; "bow": n-gram vectors; "text": raw text (scikit-learn-style models)
    default_epochs: int
    build: Callable  # (config, num_classes, vocabulary) -> keras.Model, or an unfitted text classifier
    description: str
    load: Callable | None = None  # text classifiers: folder -> fitted classifier (Keras models use load_model)


def _lazy(module: str, function: str) -> Callable:
    # Import model code only when a model is built, so `lexiclass --help` stays fast.
    def build(*args, **kwargs):
        import importlib

        target = importlib.import_module(f"lexiclass.models.{module}")
        for name in function.split("."):  # "Class.method" works too
            target = getattr(target, name)
        return target(*args, **kwargs)

    return build


MODELS = {
    spec.name: spec
    for spec in (
        ModelSpec("bow", "bow", 10, _lazy("bow", "build_bow"),
                  "bag of n-grams (multi-hot or TF-IDF) -> Dense(16) -> Dropout -> classifier"),
        ModelSpec("bilstm", "sequence", 10, _lazy("bilstm", "build_bilstm"),
                  "Embedding(256, mask_zero) -> Bidirectional(LSTM(32)) -> Dropout -> classifier"),
        ModelSpec("glove-bilstm", "sequence", 10, _lazy("bilstm", "build_glove_bilstm"),
                  "frozen GloVe Embedding -> Bidirectional(LSTM(32)) -> Dropout -> classifier"),
        ModelSpec("transformer", "sequence", 20, _lazy("transformer", "build_transformer"),
                  "Embedding(256) -> TransformerEncoder -> masked max pool -> Dropout -> classifier"),
        ModelSpec("positional-transformer", "sequence", 20, _lazy("transformer", "build_positional_transformer"),
                  "PositionalEmbedding(600, 256) -> TransformerEncoder -> masked max pool -> Dropout -> classifier"),
        ModelSpec("nbsvm", "text", 1, _lazy("nbsvm", "NBSVMClassifier.from_config"),
                  "NB-scaled binary n-grams -> logistic regression (Wang and Manning 2012)",
                  load=_lazy("nbsvm", "NBSVMClassifier.load")),
        ModelSpec("tfidf", "text", 1, _lazy("tfidf", "TfidfClassifier.from_config"),
                  "TF-IDF word 1-2-grams (or --tfidf-analyzer char) -> logistic regression: the cheap baseline",
                  load=_lazy("tfidf", "TfidfClassifier.load")),
        ModelSpec("auto", "auto", 1, None,
                  "tries tfidf (words, characters), nbsvm-ensemble and bow within --time-budget; keeps the best "
                  "on validation"),
        ModelSpec("nbsvm-ensemble", "text", 1, _lazy("nbsvm", "NBSVMEnsembleClassifier.from_config"),
                  "average of a word 1-3-gram NBSVM and a character 3-6-gram NBSVM",
                  load=_lazy("nbsvm", "NBSVMEnsembleClassifier.load")),
        ModelSpec("nbsvm-docvec", "text", 1, _lazy("docvec", "NBSVMDocVecClassifier.from_config"),
                  "nbsvm-ensemble mixed with PV-DBOW document vectors (word 1-2-gram targets) learned on the "
                  "training texts plus, on IMDB, the 50,000 unlabelled reviews (needs gensim)",
                  load=_lazy("docvec", "NBSVMDocVecClassifier.load")),
        ModelSpec("nbsvm-dvcosine", "text", 1, _lazy("dvcosine", "NBSVMDVCosineClassifier.from_config"),
                  "nbsvm-ensemble mixed with document vectors trained with cosine similarity (word 1-3-gram "
                  "targets, Naive Bayes sub-sampling) on the training texts plus --unlabeled texts or, on IMDB, "
                  "the 50,000 unlabelled reviews: 93.0% IMDB test",
                  load=_lazy("dvcosine", "NBSVMDVCosineClassifier.load")),
    )
}
if tuple(MODELS) != MODEL_NAMES:  # one list of names for the config's check and this table
    raise ImportError(f"lexiclass.config.MODEL_NAMES {MODEL_NAMES} and the registry's models {tuple(MODELS)} differ")


def get_model_spec(name: str) -> ModelSpec:
    from lexiclass.errors import ConfigError

    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return MODELS[name]
