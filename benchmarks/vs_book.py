"""lexiclass's positional Transformer against the book's recipe, alternating in one process, on real reviews.

    python benchmarks/vs_book.py --imdb-archive ../shared/data/aclImdb_v1.tar.gz
    python benchmarks/vs_book.py --variants book lexiclass lexiclass+bf16 --windows 4 --steps 12
    python benchmarks/vs_book.py --variants book main-job    # what `bash scripts/main` trains, on this CPU

Variants (each its own model, built from the same seed):
- ``book``: `benchmarks/book_recipe.py`, fixed 600 tokens, ``TextVectorization`` in tf.data;
- ``lexiclass``: the default path (exact length buckets of multiples of 8, masked max pool);
- ``+bf16``: ``--precision bfloat16``; ``+jit``: XLA with batches padded to the prediction
  ladder's 11 lengths (one compile per shape; compiling happens in the warm-up window);
- ``+len400``: ``--sequence-length 400 --truncation head+tail``;
- ``main-job``: the settings `bash scripts/main` trains with on this machine: ``--precision auto`` (bfloat16 on
  a CPU with AVX512-BF16 or AMX, float32 elsewhere) and ``+len400``.

Training: samples/s of one ``model.fit`` epoch over windows of ``--steps`` batches of 32
training reviews, from raw text (each variant's own text -> ids -> batches path runs inside
the epoch; ``train_on_batch`` would retrace TensorFlow's graph for every new shape), timed
from the epoch's start to its end by a callback. Inference: reviews/s from raw text (book: its tf.data pipeline + ``predict_on_batch``;
lexiclass: ``predict_probabilities``). Windows alternate between the variants so machine
noise hits them alike; the first window of each is a warm-up and not counted. Also printed:
each variant's achieved training FLOP/s (analytic matmul FLOPs of the encoder, 3x forward)
as a fraction of this machine's measured matmul peak in the variant's compute dtype.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def encoder_flops(batch: int, length: int, d: int = 256, heads: int = 2, dense: int = 32) -> float:
    """Forward matmul FLOPs of the encoder on a (batch, length) batch: projections, attention, feed-forward."""
    projections = 8 * batch * length * heads * d * d  # Q, K, V: d -> heads*d; output: heads*d -> d
    attention = 4 * batch * heads * length * length * d  # QK^T and AV, each head with key_dim d
    feed_forward = 4 * batch * length * d * dense
    return float(projections + attention + feed_forward)


def matmul_peak(dtype: str, n: int = 2048, repeats: int = 10) -> float:
    """Best FLOP/s of an (n, n) x (n, n) matmul in ``dtype`` over ``repeats`` runs (TensorFlow, all cores)."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    tf.linalg.matmul(a, a).numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        tf.linalg.matmul(a, a).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


class EpochTimer:
    """Seconds from the start to the end of the epoch's batches (what a long ``fit`` pays per epoch; not the
    set-up and tear-down of each short ``fit`` call, which vary by seconds here)."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            seconds = 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds = time.perf_counter() - self.started

        return Timer()


class Book:
    name = "book"

    def __init__(self, train_texts):
        import keras

        from benchmarks.book_recipe import book_vectorization, build_book_model

        keras.utils.set_random_seed(1337)
        self.vectorization = book_vectorization(train_texts)
        self.model = build_book_model()
        self.dtype = "float32"

    def train(self, texts, labels) -> tuple[list[tuple[int, int]], float]:
        from benchmarks.book_recipe import book_dataset

        timer = EpochTimer()
        self.model.fit(book_dataset(self.vectorization, texts, labels), epochs=1, verbose=0, callbacks=[timer])
        return [(min(32, len(texts) - i), 600) for i in range(0, len(texts), 32)], timer.seconds

    def predict(self, texts):
        from benchmarks.book_recipe import book_dataset

        return [self.model.predict_on_batch(x) for x in book_dataset(self.vectorization, texts)]


class Lexiclass:
    def __init__(self, name, train_texts):
        import keras

        from lexiclass.config import TrainConfig
        from lexiclass.models.registry import get_model_spec
        from lexiclass.text.pipeline import make_vectorizer

        from lexiclass.precision import resolve

        options = ["auto", "len400"] if name == "main-job" else name.split("+")[1:]
        precision = resolve("auto", "tensorflow")[0] if "auto" in options else \
            "bfloat16" if "bf16" in options else "float32"
        values = dict(model="positional-transformer", seed=1337, precision=precision, jit_compile="jit" in options)
        if "len400" in options:
            values.update(sequence_length=400, truncation="head+tail")
        self.name, self.config = name, TrainConfig(**values)
        self.dtype = precision
        self.vectorizer = make_vectorizer(self.config, "sequence")
        self.vectorizer.adapt(train_texts)
        keras.utils.set_random_seed(1337)
        self.model = get_model_spec("positional-transformer").create(self.config, 2).build_network(self.vectorizer.vocabulary)

    def train(self, texts, labels) -> tuple[list[tuple[int, int]], float]:
        from lexiclass.text.pipeline import prediction_lengths, sequence_batches

        started = time.perf_counter()  # text -> ids -> batches counts: the book does it inside its epoch
        batches = sequence_batches(self.vectorizer, texts, labels, self.config, shuffle=True, seed=0)
        text_seconds = time.perf_counter() - started
        if self.config.jit_compile:  # XLA: the ladder's few shapes, so each compiles once
            batches.lengths_ladder = prediction_lengths(self.config)
        timer = EpochTimer()  # fit, as lexiclass trains: one graph for all shapes
        self.model.fit(batches.dataset(), epochs=1, verbose=0, callbacks=[timer])
        return [(len(idx), batches.padded_length(idx)) for idx in batches.batch_indices(0)], text_seconds + timer.seconds

    def predict(self, texts):
        from lexiclass.text.pipeline import predict_probabilities

        return predict_probabilities(self.model, self.vectorizer, texts, self.config, "sequence")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-archive")
    parser.add_argument("--variants", nargs="+", default=["book", "lexiclass", "lexiclass+bf16"])
    parser.add_argument("--windows", type=int, default=4, help="timed windows per variant, after one warm-up")
    parser.add_argument("--steps", type=int, default=12, help="training batches of 32 per window")
    parser.add_argument("--predict-reviews", type=int, default=512)
    parser.add_argument("--keep-freed-memory", action="store_true", help="lexiclass.resources.keep_freed_memory() "
                        "first, as the CLI does")
    args = parser.parse_args()
    if args.keep_freed_memory:
        from lexiclass.resources import keep_freed_memory

        print(f"keep_freed_memory: {keep_freed_memory()}")
    import numpy as np

    from benchmarks.machine import describe_cpu
    from lexiclass.data import load_imdb

    print(f"command: python benchmarks/vs_book.py {' '.join(sys.argv[1:])}")
    print(f"cpu: {describe_cpu()}")
    data = load_imdb(args.imdb_archive)
    rng = np.random.default_rng(0)
    n = args.steps * 32
    adapt_texts = data.train_texts  # both vocabularies come from the full training split
    variants = [Book(adapt_texts) if v == "book" else Lexiclass(v, adapt_texts) for v in args.variants]
    peaks = {dtype: matmul_peak(dtype) for dtype in {v.dtype for v in variants}}
    print("matmul peak (2048^3, best of 10): " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()))
    train = {v.name: [] for v in variants}
    flops = {v.name: [] for v in variants}
    infer = {v.name: [] for v in variants}
    for window in range(args.windows + 1):
        idx = rng.choice(len(data.train_texts), size=n, replace=False)
        texts, labels = [data.train_texts[i] for i in idx], np.asarray(data.train_labels)[idx]
        probe = [data.test_texts[i] for i in rng.choice(len(data.test_texts), size=args.predict_reviews,
                                                       replace=False)]
        for v in variants:  # alternate, so that noise hits every variant alike
            shapes, seconds = v.train(texts, labels)  # (batch, padded length) of each step; epoch seconds
            t = time.perf_counter()
            v.predict(probe)
            predict_seconds = time.perf_counter() - t
            if window == 0:
                print(f"warm-up {v.name}: train {seconds:.1f} s, predict {predict_seconds:.1f} s", flush=True)
                continue
            train[v.name].append(n / seconds)
            flops[v.name].append(3 * sum(encoder_flops(b, length) for b, length in shapes) / seconds)
            infer[v.name].append(args.predict_reviews / predict_seconds)
            print(f"window {window} {v.name}: {n / seconds:.1f} samples/s, "
                  f"{args.predict_reviews / predict_seconds:.1f} reviews/s", flush=True)
    base = args.variants[0]
    med = {k: {v: statistics.median(d[v]) for v in d} for k, d in (("train", train), ("infer", infer),
                                                                    ("flops", flops))}
    print(f"\n| variant | training samples/s | vs {base} | inference reviews/s | vs {base} | "
          "train GFLOP/s | of matmul peak |")
    print("|---|---|---|---|---|---|---|")
    for v in variants:
        print(f"| {v.name} | {med['train'][v.name]:.1f} | {med['train'][v.name] / med['train'][base]:.2f}x | "
              f"{med['infer'][v.name]:.1f} | {med['infer'][v.name] / med['infer'][base]:.2f}x | "
              f"{med['flops'][v.name] / 1e9:.0f} | {med['flops'][v.name] / peaks[v.dtype]:.0%} ({v.dtype}) |")


if __name__ == "__main__":
    main()
