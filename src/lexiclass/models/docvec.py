"""NBSVM ensemble + document vectors learned on unlabelled text (issue 14).

`NBSVMDocVecClassifier` adds a second, dense view of each text to `NBSVMEnsembleClassifier`:
a paragraph vector (PV-DBOW, Le and Mikolov 2014) trained to predict the text's words and
word bigrams, as in the "DV-ngram" models of Li et al. (2016). The vector model is trained
without labels, on the unlabelled texts given to the classifier (for IMDB, the 50,000
``train/unsup`` reviews) plus the training texts. Every labelled or new text then gets its
vector by inference against the frozen n-gram output weights (training texts too, so that
training and prediction see vectors made the same way). A logistic regression on the
L2-normalised vectors gives a second probability; the two are mixed in log space:
``log p = (1 - w) log p_nbsvm + w log p_docvec`` (renormalised), ``w = docvec_weight``.

Saved pickle-free: the NBSVM ensemble in its own folder, the vector model as its vocabulary
(JSON words and counts) and output weights (``.npz``), the head as arrays.
Needs gensim (the ``docvec`` extra).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from lexiclass.atomic import write_json, write_text as atomic_write_text
from lexiclass.data.unlabeled import unlabeled_texts_for
from lexiclass.errors import DataError, ConfigError, LexiclassError, first_line
from lexiclass.models.checks import check_fitted, check_labels, check_texts, softmax
from lexiclass.models.classifier import TextClassifier, sklearn_class_weight
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier
from lexiclass.models.persistence import read_json, read_meta, write_npz
from lexiclass.progress import progress
from lexiclass.resources import usable_cpus
from lexiclass.text.ngrams import word_tokens
from lexiclass.text.tokens import ngrams as token_ngrams

log = logging.getLogger(__name__)

FORMAT = "lexiclass-nbsvm-docvec"
FORMAT_VERSION = 1
META_FILE = "docvec.json"
VOCAB_FILE = "docvec-vocabulary.json"
WEIGHTS_FILE = "docvec-weights.npz"
NBSVM_DIR = "nbsvm-ensemble"


def _gensim():
    try:  # deferred on purpose: gensim is an optional extra (``docvec``) and takes seconds to import
        from gensim.models.doc2vec import Doc2Vec, TaggedDocument
    except ImportError:
        raise ConfigError("the nbsvm-docvec model needs gensim: pip install 'lexiclass[docvec]'") from None
    return Doc2Vec, TaggedDocument


def _infer_dbow(model, words: list[str], epochs: int, seed: int) -> np.ndarray:
    """(dim,) the PV-DBOW vector of ``words``, as gensim's ``Doc2Vec.infer_vector`` computes it, but started
    from a vector drawn from ``seed``: gensim draws it from Python's ``hash`` of the text, which differs
    between processes (and from a global generator for an empty text), so one saved run predicted
    different probabilities in every process."""
    from gensim.models.doc2vec_inner import train_document_dbow  # deferred on purpose, as in _gensim

    dim = model.dv.vector_size
    vector = ((np.random.default_rng(seed).random(dim) - 0.5) / dim).astype(np.float32).reshape(1, dim)
    work, lockf = np.zeros(model.layer1_size, dtype=np.float32), np.ones(1, dtype=np.float32)
    alpha, step = model.alpha, (model.alpha - model.min_alpha) / max(epochs - 1, 1)
    for _ in range(epochs):  # the learning rate falls linearly from alpha to min_alpha
        train_document_dbow(model, words, [0], alpha, work, learn_words=False, learn_hidden=False,
                            doctag_vectors=vector, doctags_lockf=lockf)
        alpha -= step
    return vector[0]


def _epoch_counter(bar):
    """A gensim callback that advances `bar` by one at the end of each training epoch (gensim's own
    per-epoch notes are silenced by the CLI: this is the progress a user sees)."""
    from gensim.models.callbacks import CallbackAny2Vec  # deferred on purpose, as in `_gensim`

    class EpochCounter(CallbackAny2Vec):
        def on_epoch_end(self, model):
            bar.update(1)

    return EpochCounter()


def docvec_tokens(text: str, ngrams: int = 2) -> list[str]:
    """The vector model's targets: the word tokens of `word_tokens`, then their 2..ngrams-grams joined by spaces."""
    return token_ngrams(word_tokens(text), ngrams)


class NBSVMDocVecClassifier(TextClassifier):
    """`NBSVMEnsembleClassifier` mixed with a logistic regression on PV-DBOW document vectors.

    Parameters: ``nbsvm`` (an unfitted `NBSVMEnsembleClassifier`; default settings if None);
    ``unlabeled_texts`` (texts without labels for the vector model; not saved); ``dim``,
    ``epochs``, ``ngrams``, ``min_count``, ``sample``, ``negative``, ``alpha`` of the vector
    model; ``infer_epochs`` per inferred text; ``head_c`` of the head; ``docvec_weight`` (w
    above); ``seed``; ``n_jobs`` threads; ``class_weight`` ("balanced" or None) for the head.
    """

    def __init__(self, nbsvm: NBSVMEnsembleClassifier | None = None, unlabeled_texts=None, dim: int = 100,
                 epochs: int = 10, ngrams: int = 2, min_count: int = 3, sample: float = 1e-4, negative: int = 5,
                 alpha: float = 0.025, infer_epochs: int = 10, head_c: float = 1.0, docvec_weight: float = 0.4,
                 seed: int = 1337, n_jobs: int | None = None, class_weight: str | None = None):
        self.nbsvm = nbsvm
        self.unlabeled_texts = unlabeled_texts
        self.dim = dim
        self.epochs = epochs
        self.ngrams = ngrams
        self.min_count = min_count
        self.sample = sample
        self.negative = negative
        self.alpha = alpha
        self.infer_epochs = infer_epochs
        self.head_c = head_c
        self.docvec_weight = docvec_weight
        self.seed = seed
        self.n_jobs = n_jobs
        self.class_weight = class_weight

    _SAVED = ("dim", "epochs", "ngrams", "min_count", "sample", "negative", "alpha", "infer_epochs", "head_c",
              "docvec_weight", "seed", "n_jobs", "class_weight")

    @classmethod
    def from_config(cls, config) -> "NBSVMDocVecClassifier":
        """The NBSVM part from the same settings as ``nbsvm-ensemble``; ``docvec_dim``, ``docvec_epochs``
        and ``docvec_min_count`` if set. The vector model also learns
        from the texts of ``--unlabeled FILE`` if given, else on IMDB (``--dataset imdb``) from the
        50,000 unlabelled ``train/unsup`` reviews (read by `lexiclass.data.unlabeled`)."""
        unlabeled = unlabeled_texts_for(config)
        # --docvec-* settings left at None keep this model's own defaults (they differ per model).
        vector_settings = {name: getattr(config, f"docvec_{name}") for name in ("dim", "epochs", "min_count")}
        return cls(nbsvm=NBSVMEnsembleClassifier.from_config(config), unlabeled_texts=unlabeled, seed=config.seed,
                   class_weight=sklearn_class_weight(config),
                   **{name: value for name, value in vector_settings.items() if value is not None})

    def check_params(self) -> None:
        self._check_mix_params()
        if not float(self.head_c) > 0 or not float(self.alpha) > 0 or not float(self.sample) >= 0:
            raise LexiclassError("head_c and alpha must be > 0 and sample >= 0")

    def _check_mix_params(self) -> None:
        """The settings every document-vector mix has: counts of things, and the weight w."""
        for name in ("dim", "epochs", "ngrams", "min_count", "negative", "infer_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LexiclassError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= float(self.docvec_weight) <= 1.0:
            raise LexiclassError(f"docvec_weight must be between 0 and 1, got {self.docvec_weight!r}")

    # --- the vector model -------------------------------------------------------------------
    def _new_vector_model(self, workers: int):
        Doc2Vec, _ = _gensim()
        return Doc2Vec(vector_size=self.dim, dm=0, dbow_words=0, negative=self.negative, hs=0,
                       min_count=self.min_count, sample=self.sample, alpha=self.alpha, epochs=self.epochs,
                       workers=workers, seed=self.seed)

    def _workers(self) -> int:
        return int(self.n_jobs) if self.n_jobs else usable_cpus()

    def _fit_vectors(self, texts: list[str], labels=None) -> np.ndarray:
        """Train the vector model on the unlabelled texts + `texts`; return `texts`' vectors (n, dim)."""
        _, TaggedDocument = _gensim()
        unlabeled = check_texts(self.unlabeled_texts, "unlabeled_texts") if self.unlabeled_texts else []
        corpus = [TaggedDocument(docvec_tokens(t, self.ngrams), [i]) for i, t in
                  enumerate(progress(list(unlabeled) + texts, desc="document vectors: n-grams", unit="text"))]
        model = self._new_vector_model(self._workers())
        model.build_vocab(progress(corpus, desc="document vectors: counting n-grams", unit="text"))  # one pass
        if len(model.wv) == 0:
            raise LexiclassError(f"the document-vector model found no token seen {self.min_count} times or more")
        log.info("document vectors: %d texts (%d unlabelled), %d n-grams, %d epochs", len(corpus), len(unlabeled),
                 len(model.wv), self.epochs)
        with progress(total=self.epochs, desc="document vectors: training", unit="epoch") as bar:
            model.train(corpus, total_examples=len(corpus), epochs=self.epochs, callbacks=[_epoch_counter(bar)])
        model.callbacks = ()  # do not keep the closed bar
        self.vector_model_ = model
        self.n_unlabeled_ = len(unlabeled)
        # Inferred, not the trained ones: for this dot-product model they are not interchangeable.
        return self.transform(texts)

    def transform(self, texts) -> np.ndarray:
        """(n, dim) L2-normalised document vectors, inferred with the frozen output weights."""
        self._check_fitted()
        texts = check_texts(texts)
        model, epochs = self.vector_model_, self.infer_epochs

        def one(text):
            words = docvec_tokens(text, self.ngrams)
            # Seeded by the text itself, so the same text always gets the same vector, in any process and
            # thread: each text has its own shallow copy of the model (shared weights, its own generator).
            seed = int.from_bytes(hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=4).digest(), "little")
            own = copy.copy(model)
            own.random = np.random.RandomState(seed)
            return _infer_dbow(own, words, epochs, seed)

        with progress(total=len(texts), desc="inferring document vectors", unit="text") as bar:
            def counted(text):
                vector = one(text)
                bar.update(1)
                return vector
            workers = min(self._workers(), len(texts))
            if workers <= 1:
                vectors = [counted(t) for t in texts]
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:  # gensim's inner loop releases the GIL
                    vectors = list(pool.map(counted, texts, chunksize=64))
        x = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norms > 0, norms, 1.0)

    # --- classifier -------------------------------------------------------------------------
    def fit(self, texts, labels, validation=None) -> "NBSVMDocVecClassifier":
        self.check_params()
        texts = check_texts(texts)
        labels, _ = check_labels(labels, len(texts))
        if labels.ndim == 2:
            raise DataError(f"{type(self).__name__} learns one class per text; for several labels per text use "
                            "nbsvm-ensemble, nbsvm, tfidf or a Keras family")
        nbsvm = NBSVMEnsembleClassifier(**(self.nbsvm.get_params() if self.nbsvm is not None else {}))
        nbsvm.fit(texts, labels)
        vectors = self._fit_vectors(texts, labels)  # (n, dim)
        self._fit_head(nbsvm, vectors, labels)
        self._fit_texts_, self._fit_vectors_ = texts, vectors  # for refit(); not saved
        return self

    def refit(self, texts, labels) -> "NBSVMDocVecClassifier":
        """Fit the parts that learn from labels (the NBSVM ensemble and the head) again on `texts`,
        keeping the vector model, which learned without them. Texts that begin `texts` in the order
        fit() saw them keep their vectors; the rest (e.g. the validation texts) are inferred like any
        new text. Used by ``lexiclass train``'s refit on train + validation: training the vector
        model a second time would double the run and learn nothing from the added labels."""
        self._check_fitted()
        texts = check_texts(texts)
        labels, _ = check_labels(labels, len(texts))
        nbsvm = NBSVMEnsembleClassifier(**self.nbsvm_.get_params())
        nbsvm.fit(texts, labels)
        seen = getattr(self, "_fit_texts_", [])  # absent on a loaded model: every text is inferred
        n = len(seen) if seen == texts[: len(seen)] else 0
        kept = self._fit_vectors_[:n] if n else np.empty((0, self.dim), np.float32)
        new = self.transform(texts[n:]) if len(texts) > n else np.empty((0, self.dim), np.float32)
        vectors = np.vstack([kept, new])  # (len(texts), dim)
        self._fit_head(nbsvm, vectors, labels)
        self._fit_texts_, self._fit_vectors_ = texts, vectors
        return self

    def _fit_head(self, nbsvm, vectors, labels) -> None:
        head = LogisticRegression(C=self.head_c, max_iter=2000, class_weight=self.class_weight)
        head.fit(vectors, labels)
        self.nbsvm_ = nbsvm
        self.head_coef_ = head.coef_.astype(np.float64)
        self.head_intercept_ = head.intercept_.astype(np.float64)
        self.classes_ = nbsvm.classes_

    def _check_fitted(self) -> None:
        check_fitted(self, "vector_model_")

    def docvec_proba(self, texts) -> np.ndarray:
        """The head's probabilities alone, (n, K)."""
        scores = self.transform(texts) @ self.head_coef_.T + self.head_intercept_
        if scores.shape[1] == 1:  # binary: one column of log-odds
            scores = np.hstack([np.zeros_like(scores), scores])
        return softmax(scores)

    def predict_proba(self, texts) -> np.ndarray:
        self._check_fitted()
        texts = check_texts(texts)
        w = float(self.docvec_weight)
        tiny = np.finfo(np.float64).tiny
        mixed = ((1 - w) * np.log(np.maximum(self.nbsvm_.predict_proba(texts), tiny))
                 + w * np.log(np.maximum(self.docvec_proba(texts), tiny)))
        return softmax(mixed)

    # --- persistence ------------------------------------------------------------------------
    def save(self, directory) -> Path:
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.nbsvm_.save(directory / NBSVM_DIR)
        wv = self.vector_model_.wv
        words = list(wv.index_to_key)
        counts = [int(wv.get_vecattr(w, "count")) for w in words]
        atomic_write_text(directory / VOCAB_FILE, json.dumps({"words": words, "counts": counts}, ensure_ascii=False))
        write_npz(directory / WEIGHTS_FILE, syn1neg=np.ascontiguousarray(self.vector_model_.syn1neg, dtype=np.float32),
                  head_coef=self.head_coef_, head_intercept=self.head_intercept_)
        self._write_meta(directory / META_FILE, FORMAT, FORMAT_VERSION)
        return directory

    def _write_meta(self, path: Path, format_name: str, version: int) -> None:
        """The JSON header: format, class count, how many unlabelled texts taught the vectors, settings."""
        meta = {"format": format_name, "version": version, "class": type(self).__name__,
                "num_classes": len(self.classes_), "unlabeled_texts_used": self.n_unlabeled_,
                "hyperparameters": {k: getattr(self, k) for k in self._SAVED}}
        write_json(path, meta)

    @classmethod
    def _from_meta(cls, meta: dict, path: Path):
        """An unfitted model with a saved header's settings, checked; a damaged header is one clear error."""
        settings = meta.get("hyperparameters")
        try:
            if not isinstance(settings, dict) or not isinstance(meta.get("num_classes"), int):
                raise TypeError("expected a 'hyperparameters' object and an integer 'num_classes'")
            model = cls(**settings)
            model.check_params()
        except (TypeError, ValueError) as exc:
            raise LexiclassError(f"{path} is damaged: {first_line(exc, 200)}") from None
        return model

    def _attach_loaded(self, directory: Path, meta: dict, vector_model, coef, intercept) -> None:
        """Put a loaded model together: its vector model, its NBSVM part (checked to have the
        head's classes) and the head."""
        num_classes = int(meta["num_classes"])
        self.vector_model_ = vector_model
        self.n_unlabeled_ = int(meta.get("unlabeled_texts_used", 0))
        self.nbsvm_ = NBSVMEnsembleClassifier.load(directory / NBSVM_DIR)
        if len(self.nbsvm_.classes_) != num_classes:
            raise LexiclassError(f"{directory}: the NBSVM part has {len(self.nbsvm_.classes_)} classes, "
                                 f"the document-vector head {num_classes}")
        self.head_coef_, self.head_intercept_ = coef.astype(np.float64), intercept.astype(np.float64)
        self.classes_ = self.nbsvm_.classes_

    @classmethod
    def load(cls, directory) -> "NBSVMDocVecClassifier":
        directory = Path(directory)
        meta = read_meta(directory / META_FILE, FORMAT, "nbsvm-docvec model", (FORMAT_VERSION,))
        model = cls._from_meta(meta, directory / META_FILE)
        vocab = read_json(directory / VOCAB_FILE)
        words, counts = vocab.get("words"), vocab.get("counts")
        if (not isinstance(words, list) or not isinstance(counts, list) or len(words) != len(counts) or not words
                or not all(isinstance(w, str) for w in words) or not all(isinstance(c, int) and c > 0 for c in counts)
                or len(set(words)) != len(words)):
            raise LexiclassError(f"{directory / VOCAB_FILE} is damaged: expected unique words with positive counts")
        try:
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as weights:
                syn1neg, coef, intercept = weights["syn1neg"], weights["head_coef"], weights["head_intercept"]
        except FileNotFoundError:
            raise LexiclassError(f"{directory / WEIGHTS_FILE} is missing: is {directory} a saved model?") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise LexiclassError(f"{directory / WEIGHTS_FILE} is damaged: {first_line(exc, 200)}") from None
        num_classes = int(meta["num_classes"])
        rows = 1 if num_classes == 2 else num_classes
        if (syn1neg.shape != (len(words), model.dim) or coef.shape != (rows, model.dim) or intercept.shape != (rows,)
                or not all(np.all(np.isfinite(a)) for a in (syn1neg, coef, intercept))):
            raise LexiclassError(f"{directory}: the document-vector weights do not match the vocabulary "
                                 f"({len(words)} n-grams, {model.dim} dimensions) or are not finite")
        # Rebuild the vector model from its vocabulary: the same counts give the same frequent-word
        # downsampling and negative-sampling table; then put back the trained output weights.
        vector_model = model._new_vector_model(1)
        vector_model.min_count = 1
        # gensim sorts by descending count and puts equal counts in reverse insertion order: inserting
        # the saved (already sorted) list backwards gives back the saved order, hence the same
        # negative-sampling table.
        vector_model.build_vocab_from_freq(dict(zip(reversed(words), reversed(counts))))
        rows = [vector_model.wv.key_to_index.get(w, -1) for w in words]  # equal counts may come back reordered
        if sorted(rows) != list(range(len(words))):
            raise LexiclassError(f"{directory / VOCAB_FILE}: the vocabulary did not rebuild from its counts")
        restored = np.empty_like(syn1neg, dtype=np.float32)
        restored[rows] = syn1neg
        vector_model.syn1neg = restored
        model._attach_loaded(directory, meta, vector_model, coef, intercept)
        return model
