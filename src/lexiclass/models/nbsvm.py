"""NBSVM: linear models on Naive-Bayes-scaled binary n-gram features (the ensemble of a word and a character
model is `lexiclass.models.nbsvm_ensemble`).

The method is the one of Wang and Manning (2012), "Baselines and Bigrams: Simple, Good
Sentiment and Topic Classification" (ACL 2012): each text becomes a binary bag of
n-grams ``x``; a smoothed log-count ratio ``r = log((p / |p|_1) / (q / |q|_1))`` with
``p = alpha + sum of x over the positive texts`` and ``q`` the same over the negative
texts scales every feature; a discriminative linear model is then trained on ``r * x``.
The ratio tells the linear model which n-grams are informative before it sees a single
gradient, which is why the recipe beats both Naive Bayes and a plain linear model on
long reviews. Wang and Manning use an L2 SVM and interpolate its weights towards their
mean; here the linear model is L2-regularised logistic regression (scikit-learn's
objective, fitted by L-BFGS; liblinear before issue 12), which on IMDB scores the same within noise, needs no interpolation (it did
not help on the validation split) and gives probabilities directly. One addition to
the paper: each scaled vector ``r * x`` is L2-normalised before the linear model
(``normalize=True``), so a 1,000-word review does not get ten times the margin of a
100-word one merely for having more n-grams; on IMDB validation this added 0.3 points to
the word model and to the character model alike. See docs/beyond-the-book.md for the
measurements behind every default.

Multi-class: with K > 2 classes there is one model per class, each trained one-vs-rest
with its own ratio ``r_k`` (class k against all others); the K log-odds are turned into
probabilities by normalising the K per-class sigmoids. With K = 2 a single model is
trained, as in the paper.

Persistence never uses pickle: the n-gram vocabulary is a JSON list (index = feature
column), the weights an ``.npz`` file, the hyperparameters a JSON file, each written
atomically. The NB ratio is folded into the saved weights (``w_eff = w * r``), since
``(r * x) . w == x . (r * w)``; with normalisation the ratio ``r`` is saved as well,
since the norm ``|r * x|`` is needed at prediction time.

Speed and memory (issue 12; measurements in docs/performance.md, "N-gram models"):

- n-grams are counted by compiled loops over the texts' code points (`lexiclass.text.ngrams`):
  every n-gram is a 64-bit key looked up in a hash table of the vocabulary, never a Python
  string. The features are exactly scikit-learn ``CountVectorizer``'s (tested); the
  vocabulary file still lists the n-gram strings, so version-1 folders load as they are.
- texts are counted and scored in chunks of ``chunk_size`` texts, so memory for
  scoring is bounded whatever the number of texts.
- the training matrix is kept once, as int32 column indices; each model's scaled,
  normalised values are built in a float32 array sharing those indices (no
  ``x @ diags(r)`` copies); ``n_jobs`` threads share the passes over that matrix
  (``batched-lbfgs``) or run the one-vs-rest fits of both members (the other solvers;
  `lexiclass.models.fit_jobs` runs the fits).
- the linear models are fitted by L-BFGS on scikit-learn's objective. By default
  (``solver="batched-lbfgs"``) all of a member's one-vs-rest models are fitted together
  by `lexiclass.models.batched_logistic`: one pass over the binary matrix serves every
  class, the line search needs no pass at all, and no scaled copy of the matrix is made
  (measurements in docs/performance.md, "Lockstep L-BFGS"). ``solver="lbfgs"`` fits one scikit-learn ``LogisticRegression``
  per class on a float32 copy of the values. liblinear (``solver="liblinear"``, the solver before
  issue 12; it also penalises the intercept) first copies the matrix into 16 bytes per non-zero, 2.1 GB
  for the full-IMDB character model alone, and shuffles with a random generator that is
  global to the process, so its threaded fits agree with serial ones only to its
  tolerance; both L-BFGS solvers are deterministic.
- weights and ratios are stored as float32 (half the memory and file size; scores
  agree with float64 to ~1e-6).
"""

from __future__ import annotations

import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lexiclass.atomic import write_json, write_text as atomic_write_text
from lexiclass.errors import DataError, LexiclassError, first_line
from lexiclass.models.checks import check_fitted, check_labels, check_texts, log_sigmoid, sigmoid, softmax
from lexiclass.models.classifier import TextClassifier, sklearn_class_weight
from lexiclass.models.persistence import read_json, read_meta, saved_params, write_npz
from lexiclass.models.sparse_rows import DEFAULT_CHUNK, row_blocks, sorted_unique, sparse_dot, stack_indptr
from lexiclass.progress import progress
from lexiclass.resources import usable_cpus
from lexiclass.text.ngrams import ANALYZERS, Names, Ngrams, Vocabulary

FORMAT = "lexiclass-nbsvm"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: float64 weights, no chunk_size / n_jobs / min_abs_ratio
META_FILE = "nbsvm.json"
VOCAB_FILE = "vocabulary.json"
WEIGHTS_FILE = "weights.npz"
SOLVERS = ("batched-lbfgs", "lbfgs", "liblinear")


def _probabilities(logits: np.ndarray) -> np.ndarray:
    """(n, M) log-odds -> (n, K) probabilities; M = 1 means binary (K = 2)."""
    if logits.shape[1] == 1:
        # log p(1) = log sigmoid(z), log p(0) = log sigmoid(-z): exact and stable for any z.
        log_p = np.column_stack([log_sigmoid(-logits[:, 0]), log_sigmoid(logits[:, 0])])
    else:
        # One-vs-rest: normalise the K sigmoids. Done in log space, so that texts where
        # every per-class sigmoid underflows to 0 still get valid probabilities.
        log_p = log_sigmoid(logits)
    return softmax(log_p)


class NBSVMClassifier(TextClassifier):
    """NB-weighted binary n-grams + logistic regression (Wang and Manning 2012), any K >= 2.

    Parameters (stored as given; checked in `fit`):
        ngrams: longest n-gram (1..ngrams) for ``analyzer="word"``.
        analyzer: ``"word"`` (tokens from `word_tokens`) or ``"char"`` (character
            n-grams of the cleaned text, spaces included, lengths char_min_n..ngrams).
        char_min_n: shortest character n-gram when ``analyzer="char"``.
        nb_alpha: Laplace smoothing of the log-count ratio (the paper's alpha = 1).
        linear_c: inverse L2 strength of the logistic regression. Normalised features
            are small (each row has norm 1), so they want a large C (100 on IMDB);
            unnormalised ones a small C (0.1-0.3).
        normalize: L2-normalise every NB-scaled row before the linear model.
        min_df: keep n-grams found in at least this many training texts. n-grams seen
            once are mostly noise and were 80% of the IMDB 1-3-gram vocabulary.
        max_features: keep at most this many n-grams (the most frequent).
        max_iter: iteration cap of the solver.
        seed: liblinear's shuffling seed, so a fit is reproducible (L-BFGS needs none).
        min_abs_ratio: drop n-grams whose NB ratio is below this in absolute value for
            every class (0 keeps all). They carry almost no weight (``r * x`` is ~0) but
            the most frequent n-grams are among them, so they hold many of the non-zeros.
        solver: ``"batched-lbfgs"`` (all classes' models fitted together, see
            `lexiclass.models.batched_logistic`), ``"lbfgs"`` (one scikit-learn L-BFGS fit per
            class on a float32 matrix of the scaled values, the default before) or
            ``"liblinear"`` (dual coordinate descent, as before issue 12:
            it copies the matrix into 16 bytes per non-zero, 2.1 GB for the full-IMDB
            character model, and shuffles with a process-global random generator).
        n_jobs: threads for the one-vs-rest fits and for scoring; None = the CPUs this process may use.
        chunk_size: texts counted or scored at once (bounds the memory of scoring).
    """

    def __init__(self, ngrams: int = 3, analyzer: str = "word", char_min_n: int = 1, nb_alpha: float = 1.0,
                 linear_c: float = 100.0, normalize: bool = True, min_df: int = 2,
                 max_features: int | None = 2_000_000, max_iter: int = 1000, seed: int = 1337,
                 min_abs_ratio: float = 0.0, solver: str = "batched-lbfgs", n_jobs: int | None = None,
                 chunk_size: int = DEFAULT_CHUNK, class_weight: str | None = None):
        self.ngrams = ngrams
        self.analyzer = analyzer
        self.char_min_n = char_min_n
        self.nb_alpha = nb_alpha
        self.linear_c = linear_c
        self.normalize = normalize
        self.min_df = min_df
        self.max_features = max_features
        self.max_iter = max_iter
        self.seed = seed
        self.min_abs_ratio = min_abs_ratio
        self.solver = solver
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.class_weight = class_weight  # None or "balanced": per model, weights inverse to its target's frequency

    # --- construction ----------------------------------------------------------------
    @classmethod
    def from_config(cls, config) -> "NBSVMClassifier":
        """Hyperparameters from a `lexiclass.config.TrainConfig` (``nb_analyzer`` picks the word or char fields)."""
        char = config.nb_analyzer == "char"
        return cls(ngrams=config.char_ngrams if char else config.nb_ngrams, analyzer=config.nb_analyzer,
                   char_min_n=config.char_min_n, nb_alpha=config.nb_alpha,
                   linear_c=config.char_linear_c if char else config.linear_c,
                   min_df=config.char_min_df if char else config.nb_min_df, normalize=config.nb_normalize,
                   max_features=config.max_ngram_features, max_iter=config.linear_max_iter, seed=config.seed,
                   class_weight=sklearn_class_weight(config))

    def check_params(self) -> None:
        if self.class_weight not in (None, "balanced"):
            raise LexiclassError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        if self.analyzer not in ANALYZERS:
            raise LexiclassError(f"analyzer must be one of {', '.join(ANALYZERS)}, got {self.analyzer!r}")
        if self.solver not in SOLVERS:
            raise LexiclassError(f"solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        for name in ("ngrams", "char_min_n", "min_df", "max_iter", "chunk_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise LexiclassError(f"{name} must be an integer >= 1, got {value!r}")
        if self.analyzer == "char" and self.char_min_n > self.ngrams:
            raise LexiclassError(f"char_min_n ({self.char_min_n}) must be <= ngrams ({self.ngrams})")
        if self.max_features is not None and (not isinstance(self.max_features, (int, np.integer))
                                              or self.max_features < 1):
            raise LexiclassError(f"max_features must be None or an integer >= 1, got {self.max_features!r}")
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, (int, np.integer))
                                        or self.n_jobs < 1):
            raise LexiclassError(f"n_jobs must be None or an integer >= 1, got {self.n_jobs!r}")
        if not self.nb_alpha > 0:
            raise LexiclassError(f"nb_alpha must be > 0, got {self.nb_alpha!r}")
        if not self.linear_c > 0:
            raise LexiclassError(f"linear_c must be > 0, got {self.linear_c!r}")
        if not (isinstance(self.min_abs_ratio, (int, float)) and 0 <= self.min_abs_ratio < float("inf")):
            raise LexiclassError(f"min_abs_ratio must be a number >= 0, got {self.min_abs_ratio!r}")
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise LexiclassError(f"normalize must be true or false, got {self.normalize!r}")

    def _ngrams(self) -> Ngrams:
        if self.analyzer == "word":
            return Ngrams("word", 1, self.ngrams)
        return Ngrams("char", self.char_min_n, self.ngrams)

    def _chunks(self, n: int):
        return [(a, min(a + self.chunk_size, n)) for a in range(0, n, self.chunk_size)]

    # --- features --------------------------------------------------------------------
    def _rows(self, texts: list[str]):
        """CSR (indices, indptr) of known n-grams of a chunk of texts."""
        return self._ngrams().rows(texts, self._vocabulary)

    def transform(self, texts) -> "sp.csr_matrix":
        """The binary document-n-gram matrix (texts x vocabulary), as the model sees it."""
        self._check_fitted()
        import scipy.sparse as sp  # deferred: prediction needs no SciPy (start-up, docs/performance.md)

        texts = check_texts(texts)
        parts = [self._rows(texts[a:b]) for a, b in self._chunks(len(texts))]
        return sp.csr_matrix((np.ones(sum(len(p[0]) for p in parts)), np.concatenate([p[0] for p in parts]),
                              stack_indptr([p[1] for p in parts])), shape=(len(texts), self.n_features_))

    # --- training --------------------------------------------------------------------
    def fit(self, texts, labels, validation=None) -> "NBSVMClassifier":
        from lexiclass.models.fit_jobs import run_jobs  # deferred, with numba and SciPy: prediction needs neither

        jobs = self.prepare_fit(texts, labels)
        run_jobs([self], [jobs], self.n_jobs)
        return self

    def _count(self, texts: list[str]):
        """Two passes over the texts in chunks: document frequencies, then the binary matrix of
        the kept n-grams. -> (sorted keys, vocabulary strings, CSR indices, indptr)."""
        chunks = self._chunks(len(texts))
        with progress(total=2 * len(texts), desc=f"counting {self.analyzer} n-grams", unit="text") as bar:
            found, counts = [], []
            ngrams = self._ngrams()
            for a, b in chunks:
                keys, df = sorted_unique(ngrams.distinct_keys(texts[a:b]))  # each text counted once
                found.append(keys)
                counts.append(df)
                bar.update(b - a)
            found, counts = np.concatenate(found), np.concatenate(counts)
            order = np.argsort(found)
            found, counts = found[order], counts[order]
            first = np.ones(len(found), dtype=bool)
            np.not_equal(found[1:], found[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            keys, df = found[starts], np.add.reduceat(counts, starts) if len(starts) else counts
            del found, counts, order, first, starts
            kept = np.flatnonzero(df >= self.min_df)
            if self.max_features is not None and len(kept) > self.max_features:
                # The most frequent n-grams; ties go to the smaller key, so the choice is deterministic.
                kept = np.sort(kept[np.lexsort((keys[kept], -df[kept]))[: self.max_features]])
            keys = keys[kept]
            del df, kept
            if not len(keys):
                raise DataError(f"no {self.analyzer} n-grams left to learn from (empty vocabulary); the texts may be "
                                f"empty, or min_df={self.min_df} is too high for {len(texts)} texts")
            names = Names(len(keys))  # each n-gram's string, from its first occurrence
            vocabulary = Vocabulary(names.strings, keys)
            indices, indptrs = [], []
            for a, b in chunks:
                index, indptr = ngrams.rows(texts[a:b], vocabulary, names)
                indices.append(index)
                indptrs.append(indptr)
                bar.update(b - a)
        return keys, names.strings, np.concatenate(indices), stack_indptr(indptrs)

    def prepare_fit(self, texts, labels) -> list:
        """Count the n-grams and compute the ratios and norms; -> one fitting job per model."""
        self.check_params()
        texts = check_texts(texts)
        labels, num_classes = check_labels(labels, len(texts))
        keys, vocabulary, indices, indptr = self._count(texts)
        n_features = len(keys)
        ratio, targets = self._nb_ratios(labels, num_classes, indices, indptr, n_features)
        if self.min_abs_ratio > 0:
            keep = np.abs(ratio).max(axis=0) >= self.min_abs_ratio
            if not keep.all():
                new_column = (np.cumsum(keep) - 1).astype(np.int32)
                kept_indices, counts = [], np.zeros(len(texts), dtype=np.int64)
                for a, b, lo, hi in row_blocks(indptr, self.chunk_size):
                    part = indices[lo:hi]
                    mask = keep[part]
                    kept_indices.append(new_column[part[mask]])
                    starts = indptr[a:b] - lo
                    counts[a:b] = np.add.reduceat(mask.astype(np.int32), starts) if hi > lo else 0
                    counts[a:b][np.diff(indptr[a : b + 1]) == 0] = 0
                del indices
                indices = np.concatenate(kept_indices)
                del kept_indices
                indptr = np.zeros(len(texts) + 1, dtype=np.int64)
                np.cumsum(counts, out=indptr[1:])
                keys, ratio = keys[keep], np.ascontiguousarray(ratio[:, keep])
                vocabulary = [g for g, k in zip(vocabulary, keep.tolist()) if k]
                n_features = len(keys)
                if not n_features:
                    raise DataError(f"no {self.analyzer} n-grams left to learn from: every n-gram has "
                                    f"|NB ratio| < min_abs_ratio={self.min_abs_ratio}")
        if len(indices) >= 2**31 - 1:
            raise DataError(f"{len(indices)} n-gram occurrences: more than liblinear can take (2**31); "
                            f"raise min_df or lower max_features")
        indices, indptr = indices.astype(np.int32, copy=False), indptr.astype(np.int32)
        ratio32 = ratio
        norms = self._norms(indices, indptr, ratio32) if self.normalize else None
        self._fit_state = (keys, vocabulary, num_classes, labels.ndim == 2)
        from lexiclass.models.fit_jobs import BatchedFitJob, FitJob  # deferred: see fit

        if self.solver == "batched-lbfgs":  # all of this model's one-vs-rest fits in one job
            return [BatchedFitJob(self, indices, indptr, n_features, ratio32, norms, np.stack(targets, axis=1))]
        return [FitJob(self, row, indices, indptr, n_features, ratio32[row],
                        None if norms is None else norms[:, row], target.astype(np.int64))
                for row, target in enumerate(targets)]

    def _nb_ratios(self, labels: np.ndarray, num_classes: int, indices, indptr, n_features: int):
        """(ratio (M, features) float32, targets: M boolean arrays): one model for two classes (class 1
        against class 0), else one per class or label, against every text without it."""
        multi_label = labels.ndim == 2
        # Documents containing each n-gram, per class (by blocks of rows: no per-non-zero label array).
        class_df = np.zeros((num_classes, n_features), dtype=np.int32)
        all_df = np.zeros(n_features, dtype=np.int64)
        for a, b, lo, hi in row_blocks(indptr, self.chunk_size):
            counts = np.diff(indptr[a : b + 1])
            all_df += np.bincount(indices[lo:hi], minlength=n_features)
            if multi_label:  # a text counts for each label it carries
                for k in range(num_classes):
                    rows = np.repeat(labels[a:b, k].astype(bool), counts)
                    class_df[k] += np.bincount(indices[lo:hi][rows], minlength=n_features).astype(np.int32)
                continue
            row_class = np.repeat(labels[a:b], counts)
            for k in range(num_classes):
                class_df[k] += np.bincount(indices[lo:hi][row_class == k], minlength=n_features).astype(np.int32)
        binary = num_classes == 2 and not multi_label
        rows = [1] if binary else list(range(num_classes))
        ratio = np.empty((len(rows), n_features), dtype=np.float32)
        for row, k in enumerate(rows):
            p = self.nb_alpha + class_df[k]
            q = self.nb_alpha + (class_df[0] if binary else all_df - class_df[k])
            ratio[row] = np.log(p / p.sum()) - np.log(q / q.sum())
        if multi_label:
            return ratio, [labels[:, k] == 1 for k in rows]
        return ratio, [labels == 1] if binary else [labels == k for k in rows]

    def finish_fit(self, results: list) -> None:
        """Collect the jobs' outputs: each a list of (folded coef, intercept, ratio), one per model."""
        keys, vocabulary, num_classes, multi_label = self._fit_state
        del self._fit_state
        results = [fitted for output in results for fitted in output]
        coef = np.stack([r[0] for r in results]).astype(np.float32)
        intercept = np.array([r[1] for r in results], dtype=np.float64)
        ratio = np.stack([r[2] for r in results]) if self.normalize else None
        self._set_state(vocabulary, coef, intercept, num_classes, ratio, keys=keys, multi_label=multi_label)

    def _norms(self, indices: np.ndarray, indptr: np.ndarray, ratio: np.ndarray) -> np.ndarray:
        """(n, M) L2 norms of ``r_m * x`` per text and model; 1 where the text has no known n-gram."""
        # x is binary, so |r * x|^2 = x . r^2: one sparse product instead of scaling x M times.
        norms = np.sqrt(sparse_dot(indices, indptr, np.ascontiguousarray((ratio.astype(np.float64) ** 2).T),
                                    self.chunk_size))
        # A text without any known n-gram has the zero vector; leave it zero (its logit is
        # the intercept) instead of dividing by zero.
        norms[norms == 0] = 1.0
        return norms

    def _set_state(self, vocabulary: list[str], coef: np.ndarray, intercept: np.ndarray, num_classes: int,
                   ratio: np.ndarray | None, keys: np.ndarray | None = None, multi_label: bool = False):
        self.vocabulary_ = vocabulary
        self.multi_label_ = multi_label  # one independent probability per label
        self.intercept_ = intercept
        self.classes_ = np.arange(num_classes)
        self.n_features_ = len(vocabulary)
        # Scoring reads one (features x 2M) float32 table: the folded weights, then the
        # squared ratios, so one sparse product per chunk gives the logits and the squared norms.
        m = coef.shape[0]
        self._table = np.empty((len(vocabulary), 2 * m if ratio is not None else m), dtype=np.float32)
        self._table[:, :m] = coef.T
        self.ratio_ = None if ratio is None else np.asarray(ratio, dtype=np.float32)
        if ratio is not None:
            self._table[:, m:] = np.square(self.ratio_.T, dtype=np.float64)
        self._vocabulary = Vocabulary(vocabulary, keys)  # looked up by string or by key, as scoring needs

    @property
    def coef_(self) -> np.ndarray:
        """(M, features) folded weights ``w * r`` (a view of the scoring table)."""
        return self._table[:, : len(self.intercept_)].T

    # --- prediction ------------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_fitted(self, "_table")

    def warm_up(self) -> None:
        """Load the compiled n-gram loops and build the vocabulary's key table (a few short texts are scored
        without them; see `lexiclass.text.ngrams`)."""
        self._check_fitted()
        self._vocabulary.table  # noqa: B018  (built on first access)

    def decision_function(self, texts) -> np.ndarray:
        """Log-odds, shape (n,) for two classes (of class 1) or (n, K) (one-vs-rest)."""
        logits = self._logits(texts)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def _logits(self, texts) -> np.ndarray:
        self._check_fitted()
        texts = check_texts(texts)
        m = len(self.intercept_)
        logits = np.empty((len(texts), m), dtype=np.float64)

        ngrams = self._ngrams()

        def score(chunk):  # bounded memory: one chunk's n-grams at a time
            a, b = chunk
            out = ngrams.score(texts[a:b], self._vocabulary, self._table)
            if self._table.shape[1] > m:
                norms = np.sqrt(out[:, m:])
                norms[norms == 0] = 1.0
                out = out[:, :m] / norms
            logits[a:b] = out

        chunks = self._chunks(len(texts))
        workers = min(self.n_jobs or usable_cpus(), len(chunks))
        if workers <= 1:
            for chunk in chunks:
                score(chunk)
        else:  # the compiled scorer releases the GIL
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(score, chunks))
        return logits + self.intercept_

    def predict_proba(self, texts) -> np.ndarray:
        """(n, K): each row sums to 1; multi-label models: (n, L) independent probabilities, one per label."""
        logits = self._logits(texts)
        return sigmoid(logits) if self.multi_label_ else _probabilities(logits)

    # --- persistence -----------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write the model to ``directory`` (created if needed): JSON + npz, no pickle."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # Vocabulary and weights first, the metadata last: a directory with a readable
        # nbsvm.json then always has the files it describes.
        atomic_write_text(directory / VOCAB_FILE, json.dumps(self.vocabulary_, ensure_ascii=False))
        arrays = dict(coef=np.ascontiguousarray(self.coef_), intercept=self.intercept_)
        if self.ratio_ is not None:
            arrays["ratio"] = np.ascontiguousarray(self.ratio_)
        write_npz(directory / WEIGHTS_FILE, **arrays)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "class": type(self).__name__,
                "num_classes": len(self.classes_), "num_features": self.n_features_,
                **({"multi_label": True} if self.multi_label_ else {}),
                "hyperparameters": self.get_params()}
        write_json(directory / META_FILE, meta)
        return directory

    @classmethod
    def load(cls, directory) -> "NBSVMClassifier":
        directory = Path(directory)
        meta = read_meta(directory / META_FILE, FORMAT, "NBSVM model", READABLE_VERSIONS)
        model = cls(**saved_params(meta, directory / META_FILE, cls))
        model.check_params()
        vocabulary = read_json(directory / VOCAB_FILE)
        try:
            with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as weights:
                coef, intercept = weights["coef"], weights["intercept"]
                ratio = weights["ratio"] if model.normalize else None
        except FileNotFoundError:
            raise LexiclassError(f"{directory / WEIGHTS_FILE} is missing: is {directory} a saved NBSVM model?") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise LexiclassError(f"{directory / WEIGHTS_FILE} is damaged: {first_line(exc, 200)}") from None
        num_classes, multi_label = int(meta["num_classes"]), meta.get("multi_label") is True
        rows = 1 if num_classes == 2 and not multi_label else num_classes
        if (not isinstance(vocabulary, list) or coef.shape != (rows, len(vocabulary))
                or intercept.shape != (rows,) or (ratio is not None and ratio.shape != coef.shape)):
            raise LexiclassError(f"{directory}: vocabulary ({len(vocabulary)} n-grams) and weights "
                                 f"{coef.shape} do not match; the model files are inconsistent")
        if not all(isinstance(g, str) for g in vocabulary):
            raise LexiclassError(f"{directory / VOCAB_FILE} is damaged: expected a list of strings")
        for name, array in (("coef", coef), ("intercept", intercept), ("ratio", ratio)):
            if array is not None and (array.dtype.kind != "f" or not np.all(np.isfinite(array))):
                raise LexiclassError(f"{directory / WEIGHTS_FILE} is damaged: {name} is not all finite numbers")
        if len(set(vocabulary)) != len(vocabulary):
            raise LexiclassError(f"{directory / VOCAB_FILE} is damaged: an n-gram is listed twice")
        model._set_state(vocabulary, coef, intercept.astype(np.float64), num_classes, ratio, multi_label=multi_label)
        return model
