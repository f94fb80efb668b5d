"""nbsvm-dvcosine: NBSVM ensemble + document vectors trained with cosine similarity (issue 14).

The same mix as ``nbsvm-docvec`` (`lexiclass.models.docvec`): ``log p = (1 - w) log p_nbsvm +
w log p_vectors`` (renormalised), the vectors' probability from a logistic regression on
L2-normalised document vectors. The vectors come from `CosineDocVectors`
(`lexiclass.models.cosine_vectors`): word 1-3-gram targets, cosine similarity, Naive Bayes
sub-sampling. They train on the unlabelled texts plus the training texts, whose trained
vectors feed the head directly (no second inference pass, unlike nbsvm-docvec). Defaults
(200 dimensions, 10 epochs, scale 6, learning rate 0.001, head C = 0.3, w = 0.4) were chosen
on IMDB validation (benchmarks/docvec_cosine.py; docs/results.md). Targets seen fewer than 3
times are dropped (``min_count``): the same validation accuracy as 2 at half the size.

Saved pickle-free: the NBSVM ensemble in its own folder, the vocabulary (JSON), the n-gram
vectors as float16 ``.npy``, counts, keep probabilities and the head in ``.npz``. No extra
dependency (numba is already one).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from lexiclass.atomic import write_npy, write_text as atomic_write_text
from lexiclass.errors import LexiclassError, first_line
from lexiclass.models.checks import check_texts
from lexiclass.models.cosine_vectors import CosineDocVectors
from lexiclass.models.docvec import NBSVM_DIR, NBSVMDocVecClassifier, docvec_tokens
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier
from lexiclass.models.persistence import read_json, read_meta, write_npz

FORMAT = "lexiclass-nbsvm-dvcosine"
FORMAT_VERSION = 1
META_FILE = "dvcosine.json"
VOCAB_FILE = "dvcosine-vocabulary.json"
VECTORS_FILE = "dvcosine-ngram-vectors.npy"
WEIGHTS_FILE = "dvcosine-weights.npz"


class NBSVMDVCosineClassifier(NBSVMDocVecClassifier):
    """`NBSVMEnsembleClassifier` mixed with a logistic regression on cosine-trained document vectors.

    Parameters: ``nbsvm`` (an unfitted `NBSVMEnsembleClassifier`; default settings if None);
    ``unlabeled_texts`` (not saved); ``dim``, ``epochs``, ``ngrams``, ``min_count``, ``lr``,
    ``scale``, ``negative``, ``nb_tau``, ``nb_floor`` of the vector model (see
    `lexiclass.models.cosine_vectors`); ``infer_epochs`` per new text; ``head_c``;
    ``docvec_weight`` (w); ``seed``; ``n_jobs`` threads; ``class_weight`` for the head.
    """

    def __init__(self, nbsvm: NBSVMEnsembleClassifier | None = None, unlabeled_texts=None, dim: int = 200,
                 epochs: int = 10, ngrams: int = 3, min_count: int = 3, lr: float = 0.001, scale: float = 6.0,
                 negative: int = 5, nb_tau: float = 1.0, nb_floor: float = 0.05, infer_epochs: int = 10,
                 head_c: float = 0.3, docvec_weight: float = 0.4, seed: int = 1337, n_jobs: int | None = None,
                 class_weight: str | None = None):
        self.nbsvm = nbsvm
        self.unlabeled_texts = unlabeled_texts
        self.dim = dim
        self.epochs = epochs
        self.ngrams = ngrams
        self.min_count = min_count
        self.lr = lr
        self.scale = scale
        self.negative = negative
        self.nb_tau = nb_tau
        self.nb_floor = nb_floor
        self.infer_epochs = infer_epochs
        self.head_c = head_c
        self.docvec_weight = docvec_weight
        self.seed = seed
        self.n_jobs = n_jobs
        self.class_weight = class_weight

    _SAVED = ("dim", "epochs", "ngrams", "min_count", "lr", "scale", "negative", "nb_tau", "nb_floor",
              "infer_epochs", "head_c", "docvec_weight", "seed", "n_jobs", "class_weight")

    def check_params(self) -> None:
        self._check_mix_params()
        if not 0.0 <= float(self.nb_floor) <= 1.0 or not float(self.nb_tau) >= 0:
            raise LexiclassError(f"nb_floor must be in [0, 1] and nb_tau >= 0, got {self.nb_floor!r}, {self.nb_tau!r}")
        if not float(self.head_c) > 0 or not float(self.lr) > 0 or not float(self.scale) > 0:
            raise LexiclassError("head_c, lr and scale must be > 0")

    def _vector_model(self) -> CosineDocVectors:
        ngrams = self.ngrams
        return CosineDocVectors(lambda text: docvec_tokens(text, ngrams), dim=self.dim, epochs=self.epochs,
                                min_count=self.min_count, lr=self.lr, scale=self.scale, negative=self.negative,
                                nb_tau=self.nb_tau, nb_floor=self.nb_floor, infer_epochs=self.infer_epochs,
                                seed=self.seed, threads=self._workers())

    def _fit_vectors(self, texts: list[str], labels=None) -> np.ndarray:
        """Train on the unlabelled texts + `texts` (labelled last); return `texts`' trained vectors."""
        unlabeled = check_texts(self.unlabeled_texts, "unlabeled_texts") if self.unlabeled_texts else []
        model = self._vector_model()
        labels = np.asarray(labels)
        try:
            vectors = model.fit(list(unlabeled) + texts, labels, int(labels.max()) + 1)
        except ValueError as exc:
            raise LexiclassError(f"the document-vector model: {exc}") from None
        self.vector_model_ = model
        self.n_unlabeled_ = len(unlabeled)
        return vectors

    def transform(self, texts) -> np.ndarray:
        """(n, dim) L2-normalised document vectors, inferred with the frozen n-gram vectors."""
        self._check_fitted()
        return self.vector_model_.transform(check_texts(texts))

    # --- persistence ------------------------------------------------------------------------
    def save(self, directory) -> Path:
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.nbsvm_.save(directory / NBSVM_DIR)
        vm = self.vector_model_
        atomic_write_text(directory / VOCAB_FILE, json.dumps(vm.words, ensure_ascii=False))
        write_npy(directory / VECTORS_FILE, vm.grams.astype(np.float16))  # exact: fit() rounded them
        write_npz(directory / WEIGHTS_FILE, counts=vm.counts, keep=vm.keep, head_coef=self.head_coef_,
                  head_intercept=self.head_intercept_)
        self._write_meta(directory / META_FILE, FORMAT, FORMAT_VERSION)
        return directory

    @classmethod
    def load(cls, directory) -> "NBSVMDVCosineClassifier":
        directory = Path(directory)
        meta = read_meta(directory / META_FILE, FORMAT, "nbsvm-dvcosine model", (FORMAT_VERSION,))
        model = cls._from_meta(meta, directory / META_FILE)
        words = read_json(directory / VOCAB_FILE)
        if (not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words)
                or len(set(words)) != len(words)):
            raise LexiclassError(f"{directory / VOCAB_FILE} is damaged: expected a list of unique n-grams")
        try:
            grams = np.load(directory / VECTORS_FILE, allow_pickle=False)
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as weights:
                counts, keep = weights["counts"], weights["keep"]
                coef, intercept = weights["head_coef"], weights["head_intercept"]
        except FileNotFoundError as exc:
            raise LexiclassError(f"{exc.filename} is missing: is {directory} a saved model?") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise LexiclassError(f"{directory}: the document-vector weights are damaged: "
                                 f"{first_line(exc, 200)}") from None
        num_classes = int(meta["num_classes"])
        rows = 1 if num_classes == 2 else num_classes
        n = len(words)
        if (grams.shape != (n, model.dim) or counts.shape != (n,) or keep.shape != (n,)
                or coef.shape != (rows, model.dim) or intercept.shape != (rows,)
                or not np.issubdtype(counts.dtype, np.integer) or not np.all(counts > 0) or keep.dtype.kind != "f"
                or grams.dtype.kind != "f" or coef.dtype.kind != "f" or intercept.dtype.kind != "f"
                or not np.all((keep >= 0) & (keep <= 1))
                or not all(np.all(np.isfinite(a)) for a in (grams, coef, intercept))):
            raise LexiclassError(f"{directory}: the document-vector weights do not match the vocabulary "
                                 f"({n} n-grams, {model.dim} dimensions) or are out of range")
        vector_model = model._vector_model()
        vector_model.set_weights(words, counts, keep.astype(np.float32), grams)
        model._attach_loaded(directory, meta, vector_model, coef, intercept)
        return model
