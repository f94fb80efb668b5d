"""Document vectors trained with cosine similarity ("DV-ngrams-cosine", Thongtan and Phienthrakul 2019).

PV-DBOW (Le and Mikolov 2014) learns one vector per document to predict the document's word
n-grams. Here the score of (document d, n-gram g) is ``scale * cos(v_d, u_g)`` instead of the
dot product, trained with negative sampling (``negative`` n-grams drawn from the unigram^0.75
table) and plain SGD at a constant learning rate. Vector lengths no longer carry information,
so a document's *trained* vector and the vector *inferred* for it later (n-gram vectors
frozen) are interchangeable; the dot-product model's are not.

Targets whose Naive Bayes log-count ratio over the training labels is near 0 are sub-sampled
(Bingyu and Arefyev 2022 propose the idea): n-gram g is kept with probability
``clip(max_k |r_k(g)| / nb_tau, nb_floor, 1)``, ``r_k`` the one-vs-rest ratio of class k. On
IMDB this keeps 35% of the targets and focuses the vectors on what separates the classes.

Training runs Hogwild-style: threads take slices of the shuffled documents and update the
shared n-gram vectors without locks. Inference of a new document is deterministic: its random
numbers are seeded from a hash of its n-gram ids.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from lexiclass.progress import progress

TABLE_SIZE = 10_000_000  # the negative-sampling table: n-gram ids in proportion to count^0.75
CHUNK = 500  # documents per compiled call: the unit of progress and of work between threads


@numba.njit(nogil=True, cache=True, fastmath=True, inline="always")
def _sgd_step(d, grams, target, table, lr, scale, negatives, step, train_grams):
    """One target n-gram and its negatives for document vector d (dim,). Loss per pair:
    -log sigmoid(+-scale * cos(d, g)); d's update is summed in step and applied after."""
    dim = d.shape[0]
    dd = 0.0
    for i in range(dim):
        dd += d[i] * d[i]
    norm_d = math.sqrt(dd) + 1e-12
    for i in range(dim):
        step[i] = 0.0
    for k in range(negatives + 1):
        g_id = target if k == 0 else table[np.random.randint(table.shape[0])]
        if k > 0 and g_id == target:
            continue
        g = grams[g_id]
        dot = 0.0
        gg = 0.0
        for i in range(dim):  # explicit loops: array expressions would allocate per pair
            dot += d[i] * g[i]
            gg += g[i] * g[i]
        norm_g = math.sqrt(gg) + 1e-12
        cos = dot / (norm_d * norm_g)
        coef = ((1.0 if k == 0 else 0.0) - 1.0 / (1.0 + math.exp(-scale * cos))) * scale * lr  # -dL/dcos * lr
        inv = 1.0 / (norm_d * norm_g)
        cd = cos / (norm_d * norm_d)
        cg = cos / (norm_g * norm_g)
        for i in range(dim):
            di = d[i]
            gi = g[i]
            step[i] += coef * (gi * inv - di * cd)  # d cos / d d
            if train_grams:
                g[i] = gi + coef * (di * inv - gi * cg)  # d cos / d g
    for i in range(dim):
        d[i] += step[i]


@numba.njit(nogil=True, cache=True, fastmath=True)
def _train_docs(offsets, ids, keep, docs, grams, table, lr, scale, negatives, seed, order):
    """One pass over the documents `order`, updating docs (n_docs, dim) and grams (n_grams, dim)."""
    np.random.seed(seed)
    step = np.zeros(docs.shape[1], np.float32)
    for j in range(order.shape[0]):
        doc = order[j]
        for t in range(offsets[doc], offsets[doc + 1]):
            if keep[ids[t]] < 1.0 and np.random.random() > keep[ids[t]]:
                continue
            _sgd_step(docs[doc], grams, ids[t], table, lr, scale, negatives, step, True)


@numba.njit(nogil=True, cache=True, fastmath=True)
def _infer_docs(offsets, ids, keep, grams, table, lr, scale, negatives, epochs, out):
    """Vectors (n_docs, dim) for new documents, the n-gram vectors frozen; each document's
    random numbers are seeded from its ids, so the result does not depend on batching."""
    dim = grams.shape[1]
    step = np.zeros(dim, np.float32)
    for doc in range(offsets.shape[0] - 1):
        d = out[doc]
        d[:] = 0.0
        if offsets[doc + 1] == offsets[doc]:
            continue  # no known n-gram: a zero vector (the head's intercept decides)
        h = 2166136261
        for t in range(offsets[doc], offsets[doc + 1]):
            h = ((h ^ ids[t]) * 16777619) & 0xFFFFFFFF  # FNV-1a over the ids
        np.random.seed(h)
        for i in range(dim):
            d[i] = (np.random.random() - 0.5) / dim
        for _ in range(epochs):
            for t in range(offsets[doc], offsets[doc + 1]):
                if keep[ids[t]] < 1.0 and np.random.random() > keep[ids[t]]:
                    continue
                _sgd_step(d, grams, ids[t], table, lr, scale, negatives, step, False)


def negative_table(counts: np.ndarray) -> np.ndarray:
    """(size,) n-gram ids, each in proportion to count^0.75."""
    p = np.asarray(counts, dtype=np.float64) ** 0.75
    size = int(min(TABLE_SIZE, max(1000, 100 * len(p))))
    table = np.searchsorted(np.cumsum(p / p.sum()), (np.arange(size) + 0.5) / size)
    return np.minimum(table, len(p) - 1).astype(np.int32)


def nb_keep(present: np.ndarray, class_sizes: np.ndarray, tau: float, floor: float) -> np.ndarray:
    """Keep probabilities from (K, n_grams) document counts per class: clip(max_k |r_k| / tau, floor, 1),
    r_k the log-count ratio of class k against the rest (add-one smoothed). tau = 0 keeps everything."""
    if tau <= 0:
        return np.ones(present.shape[1], np.float32)
    total, n = present.sum(axis=0), class_sizes.sum()
    strength = np.zeros(present.shape[1])
    for k in range(present.shape[0]):
        r = (np.log((present[k] + 1) / (class_sizes[k] + 1))
             - np.log((total - present[k] + 1) / (n - class_sizes[k] + 1)))
        strength = np.maximum(strength, np.abs(r))
    return np.clip(strength / tau, floor, 1.0).astype(np.float32)


class CosineDocVectors:
    """The vector model: vocabulary, n-gram vectors (n_grams, dim), keep probabilities.

    ``fit(corpus, labels)`` trains on every text of `corpus`; the last ``len(labels)`` texts
    are the labelled ones whose NB ratios set the keep probabilities, and their trained,
    L2-normalised vectors are returned. ``transform(texts)`` infers vectors for new texts.
    ``tokens`` maps a text to its n-gram strings.
    """

    def __init__(self, tokens, dim=200, epochs=10, min_count=3, lr=0.001, scale=6.0, negative=5, nb_tau=1.0,
                 nb_floor=0.05, infer_epochs=10, seed=1337, threads=1):
        self.tokens, self.dim, self.epochs, self.min_count = tokens, dim, epochs, min_count
        self.lr, self.scale, self.negative, self.nb_tau, self.nb_floor = lr, scale, negative, nb_tau, nb_floor
        self.infer_epochs, self.seed, self.threads = infer_epochs, seed, threads

    def set_weights(self, words: list[str], counts: np.ndarray, keep: np.ndarray, grams: np.ndarray) -> None:
        self._set_vocabulary(words, counts)
        self.keep = keep
        self.grams = np.ascontiguousarray(grams, dtype=np.float32)  # (n_grams, dim)

    def _set_vocabulary(self, words: list[str], counts: np.ndarray) -> None:
        self.words, self.counts = words, counts
        self.index = {w: i for i, w in enumerate(words)}
        self.table = negative_table(counts)

    def _pack(self, texts: list[str], desc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(offsets (n+1,), ids) of each text's known n-grams, as in a CSR matrix."""
        index, tokens = self.index, self.tokens
        texts = progress(texts, desc=desc, unit="text") if desc else texts
        ids = [np.fromiter((index[g] for g in tokens(t) if g in index), dtype=np.int32) for t in texts]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(x) for x in ids])
        return offsets, (np.concatenate(ids) if ids else np.zeros(0, np.int32))

    def fit(self, corpus: list[str], labels: np.ndarray, num_classes: int) -> np.ndarray:
        # Two passes over the texts (count, then pack ids): tokenizing twice costs ~20 s on IMDB,
        # holding every text's n-gram strings at once would cost several GB.
        counts = Counter()
        for text in progress(corpus, desc="document vectors: counting n-grams", unit="text"):
            counts.update(self.tokens(text))
        words = [g for g, c in counts.items() if c >= self.min_count]
        if not words:
            raise ValueError(f"no n-gram is seen {self.min_count} times or more")
        _check_memory(len(words), len(corpus), self.dim)
        counts_array = np.array([counts[w] for w in words], dtype=np.int64)
        del counts
        self._set_vocabulary(words, counts_array)
        offsets, ids = self._pack(corpus, desc="document vectors: n-gram ids")
        first = len(offsets) - 1 - len(labels)  # the labelled texts come last
        present = np.zeros((num_classes, len(words)))
        for i, label in enumerate(labels):
            present[label, np.unique(ids[offsets[first + i]:offsets[first + i + 1]])] += 1
        self.keep = nb_keep(present, np.bincount(labels, minlength=num_classes), self.nb_tau, self.nb_floor)

        rng = np.random.default_rng(self.seed)
        n = len(offsets) - 1
        self.grams, docs_v = _uniform(rng, len(words), self.dim), _uniform(rng, n, self.dim)  # (n_grams, dim), (n, dim)
        with progress(total=n * self.epochs, desc=f"document vectors: {self.epochs} epochs", unit="text") as bar, \
                ThreadPoolExecutor(max_workers=self.threads) as pool:
            for epoch in range(self.epochs):
                chunks = np.array_split(rng.permutation(n), max(1, n // CHUNK))
                seeds = rng.integers(0, 2**31, size=len(chunks))
                jobs = [pool.submit(_train_docs, offsets, ids, self.keep, docs_v, self.grams, self.table,
                                    np.float32(self.lr), np.float32(self.scale), self.negative, int(s), chunk)
                        for chunk, s in zip(chunks, seeds)]
                for job, chunk in zip(jobs, chunks):
                    job.result()
                    bar.update(len(chunk))
        # Stored as float16: rounding here makes the model in memory the one that is saved.
        self.grams[...] = self.grams.astype(np.float16)  # in place: half a table extra, not one and a half
        return _normalise(docs_v[first:])

    def transform(self, texts: list[str]) -> np.ndarray:
        """(n, dim) L2-normalised inferred vectors (zero for a text with no known n-gram)."""
        offsets, ids = self._pack(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        size = max(1, min(CHUNK, -(-len(texts) // self.threads)))  # small batches still use every thread
        bounds = list(range(0, len(texts), size)) + [len(texts)]
        with progress(total=len(texts), desc="inferring document vectors", unit="text",
                      disable=len(texts) < 2 * CHUNK) as bar, ThreadPoolExecutor(max_workers=self.threads) as pool:
            def run(a, b):  # a slice of documents with its own offsets
                _infer_docs(offsets[a:b + 1] - offsets[a], ids[offsets[a]:offsets[b]], self.keep, self.grams,
                            self.table, np.float32(self.lr), np.float32(self.scale), self.negative,
                            self.infer_epochs, out[a:b])
                return b - a
            for done in pool.map(run, bounds[:-1], bounds[1:]):
                bar.update(done)
        return _normalise(out)


def _uniform(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """(rows, dim) float32 in [-0.5/dim, 0.5/dim), built in place (no float32 temporaries of the same size)."""
    x = rng.random((rows, dim), dtype=np.float32)
    x -= 0.5
    x /= dim
    return x


CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")  # v2, v1


def _physical_memory() -> int | None:
    """Bytes of RAM this process may use: the machine's, or a container's (cgroup) limit if lower;
    None where the OS does not say."""
    try:
        limits = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    except (AttributeError, ValueError, OSError):
        limits = []
    for path in CGROUP_LIMITS:
        try:
            with open(path) as f:
                limits.append(int(f.read().strip()))  # "max" (no limit) is not a number
        except (OSError, ValueError):
            pass
    return min(limits) if limits else None


def _check_memory(n_grams: int, n_docs: int, dim: int) -> None:
    """Refuse, before allocating, a table that cannot fit: float32 n-gram and document vectors,
    plus the float16 copy made at the end (half the n-gram table)."""
    need = 4 * dim * (1.5 * n_grams + n_docs)
    have = _physical_memory()
    if have and need > 0.8 * have:
        raise ValueError(f"{n_grams:,} n-grams and {n_docs:,} texts x {dim} dimensions need about "
                         f"{need / 2**30:.1f} GiB, more than 80% of the {have / 2**30:.1f} GiB this process may use: "
                         f"lower --docvec-dim or raise --docvec-min-count")


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)
