"""TF-IDF + logistic regression: the strong, cheap baseline every text classifier should beat.

Word uni+bigrams (or character 1-3-grams, which suit languages such as Korean that pack
meaning into one- and two-syllable pieces), sublinear term frequency, L2-normalised rows,
and scikit-learn's multinomial logistic regression. `--model auto` trains it beside the
other cheap candidates and keeps whichever scores best on validation.

Persistence never uses pickle: the vocabulary is a JSON list (index = feature column), the
IDF weights and the linear model an ``.npz`` read with ``allow_pickle=False``, the
hyperparameters a JSON file; each file is written atomically and checked on load.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from lexiclass.atomic import write_json, write_text
from lexiclass.errors import LexiclassError, first_line
from lexiclass.models.checks import check_fitted, check_labels, check_texts, sigmoid, softmax
from lexiclass.models.classifier import TextClassifier, sklearn_class_weight
from lexiclass.models.persistence import saved_params, write_npz
from lexiclass.progress import progress
from lexiclass.run_dir import read_json

FORMAT, FORMAT_VERSION = "lexiclass-tfidf", 1
META_FILE, VOCAB_FILE, WEIGHTS_FILE = "tfidf.json", "vocabulary.json", "weights.npz"


class TfidfClassifier(TextClassifier):
    """TF-IDF n-grams -> logistic regression, any number of classes.

    Parameters (stored as given):
        analyzer: ``"word"`` (uni+bigrams of scikit-learn's word tokens) or ``"char"``
            (character n-grams inside word boundaries, ``char_wb``).
        min_n, max_n: the n-gram range.
        c: inverse L2 strength of the logistic regression.
        min_df: keep n-grams seen in at least this many training texts.
        class_weight: None or ``"balanced"`` (weights inverse to class frequency).
        max_features: keep at most this many n-grams (the most frequent).
    """

    def __init__(self, analyzer: str = "word", min_n: int = 1, max_n: int = 2, c: float = 10.0, min_df: int = 2,
                 class_weight: str | None = None, max_features: int | None = 2_000_000, max_iter: int = 1000):
        self.analyzer = analyzer
        self.min_n = min_n
        self.max_n = max_n
        self.c = c
        self.min_df = min_df
        self.class_weight = class_weight
        self.max_features = max_features
        self.max_iter = max_iter

    @classmethod
    def from_config(cls, config) -> "TfidfClassifier":
        return cls(analyzer=config.tfidf_analyzer, min_n=config.tfidf_min_n, max_n=config.tfidf_max_n,
                   c=config.tfidf_c,
                   min_df=config.nb_min_df, class_weight=sklearn_class_weight(config),
                   max_features=config.max_ngram_features, max_iter=config.linear_max_iter)

    def _vectorizer(self, vocabulary=None) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char_wb" if self.analyzer == "char" else "word", sublinear_tf=True,
                               ngram_range=(self.min_n, self.max_n), min_df=1 if vocabulary else self.min_df,
                               max_features=None if vocabulary else self.max_features, vocabulary=vocabulary,
                               dtype=np.float32)

    def fit(self, texts, labels, validation=None) -> "TfidfClassifier":
        texts = check_texts(texts)
        labels, _ = check_labels(labels, len(texts))
        vectorizer = self._vectorizer()
        try:
            x = vectorizer.fit_transform(progress(texts, desc=f"counting {self.analyzer} n-grams", unit="text"))
        except ValueError as exc:  # "empty vocabulary"
            raise LexiclassError(f"no {self.analyzer} n-grams to learn from ({exc}); lower min_df") from None
        if labels.ndim == 2:
            coef, intercept = self._fit_per_label(x, labels)
        else:
            with progress(total=1, desc="fitting logistic regression", unit="model") as bar:
                model = LogisticRegression(C=self.c, max_iter=self.max_iter, class_weight=self.class_weight)
                model.fit(x, labels)
                bar.update(1)
            coef = model.coef_ if len(model.classes_) > 2 else np.vstack([-model.coef_, model.coef_]) / 2
            intercept = model.intercept_ if len(model.classes_) > 2 else np.array([-1, 1]) * model.intercept_ / 2
        self._set_state(vectorizer.get_feature_names_out().tolist(), vectorizer.idf_, coef, intercept,
                        multi_label=labels.ndim == 2)
        return self

    def _fit_per_label(self, x, labels: np.ndarray):
        """Multi-label: one binary logistic regression per label column (one-vs-rest) -> (coef (L, F), intercept)."""
        coef, intercept = [], []
        for k in progress(range(labels.shape[1]), desc="fitting one logistic regression per label", unit="label"):
            model = LogisticRegression(C=self.c, max_iter=self.max_iter, class_weight=self.class_weight)
            model.fit(x, labels[:, k])
            coef.append(model.coef_[0])
            intercept.append(model.intercept_[0])
        return np.stack(coef), np.asarray(intercept)

    def _set_state(self, vocabulary, idf, coef, intercept, multi_label: bool = False) -> None:
        # A binary model is stored as two symmetric rows, so softmax over them is its sigmoid; a multi-label
        # model as one row per label, each its own sigmoid.
        self.multi_label_ = multi_label
        self.vocabulary_, self.idf_ = vocabulary, np.asarray(idf, dtype=np.float64)
        self.coef_, self.intercept_ = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)
        self.classes_ = np.arange(len(self.coef_))
        self._transformer = self._vectorizer(vocabulary={g: i for i, g in enumerate(vocabulary)})
        self._transformer.idf_ = self.idf_

    def predict_proba(self, texts) -> np.ndarray:
        check_fitted(self, "coef_")
        logits = np.asarray(self._transformer.transform(list(texts)) @ self.coef_.T) + self.intercept_  # (n, K)
        return sigmoid(logits) if self.multi_label_ else softmax(logits)

    def save(self, directory) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text(directory / VOCAB_FILE, json.dumps(self.vocabulary_, ensure_ascii=False))
        write_npz(directory / WEIGHTS_FILE, idf=self.idf_, coef=self.coef_, intercept=self.intercept_)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "hyperparameters": self.get_params(),
                **({"multi_label": True} if self.multi_label_ else {})}
        write_json(directory / META_FILE, meta)  # last: it vouches for the rest
        return directory

    @classmethod
    def load(cls, directory) -> "TfidfClassifier":
        directory = Path(directory)
        meta = read_json(directory / META_FILE)
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise LexiclassError(f"{directory / META_FILE}: not a lexiclass TF-IDF model of version {FORMAT_VERSION}")
        model = cls(**saved_params(meta, directory / META_FILE, cls))
        vocabulary = read_json(directory / VOCAB_FILE, kind=list)
        try:
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as weights:
                idf, coef, intercept = weights["idf"], weights["coef"], weights["intercept"]
        except FileNotFoundError:
            raise LexiclassError(f"{directory / WEIGHTS_FILE} is missing") from None
        except Exception as exc:  # zip, npy header or key errors: all mean a damaged file
            raise LexiclassError(f"{directory / WEIGHTS_FILE} is damaged: {first_line(exc, 200)}") from None
        n = len(vocabulary)
        if (idf.shape != (n,) or coef.ndim != 2 or coef.shape[1] != n or coef.shape[0] < 2
                or intercept.shape != (coef.shape[0],) or not all(isinstance(g, str) for g in vocabulary)):
            raise LexiclassError(f"{directory}: vocabulary ({n} n-grams) and weights {coef.shape} do not match")
        model._set_state(vocabulary, idf, coef, intercept, multi_label=meta.get("multi_label") is True)
        return model
