"""Prediction batches sized by tokens against batches of a fixed number of reviews, alternating in one process.

    python benchmarks/predict_batches.py RUN_DIR --imdb-archive ../shared/data/aclImdb_v1.tar.gz

Both variants score the same IMDB test reviews with `lexiclass.text.pipeline.predict_probabilities` on the
run's own network: ``reviews`` with ``MAX_ROW_GROWTH = 1`` (every batch ``batch_size`` reviews, the old
way), ``tokens`` with the default (short reviews many to a batch, up to the token slots of a batch of the
longest). Windows alternate so that machine noise hits both alike; the first is a warm-up (traces every shape).
Printed: reviews/s per window, the medians, their ratio, the batches each made, and the largest difference
between their probabilities (the same network on the same reviews: rounding only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--imdb-archive")
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--windows", type=int, default=3, help="timed windows per variant, after one warm-up")
    args = parser.parse_args()
    import numpy as np

    import lexiclass
    from benchmarks.machine import describe_cpu
    from lexiclass.data import load_imdb
    from lexiclass.text import batching
    from lexiclass.text.pipeline import predict_probabilities, prediction_lengths

    print(f"command: python benchmarks/predict_batches.py {' '.join(sys.argv[1:])}")
    print(f"cpu: {describe_cpu()}")
    predictor = lexiclass.load(args.run_dir)
    config, classifier = predictor.config, predictor.classifier
    data = load_imdb(args.imdb_archive)
    rng = np.random.default_rng(0)
    texts = [data.test_texts[i] for i in rng.choice(len(data.test_texts), size=args.reviews, replace=False)]
    growth = {"reviews": 1, "tokens": batching.MAX_ROW_GROWTH}
    rates, probs = {name: [] for name in growth}, {}
    ids = [batching.truncate(s, config.sequence_length, config.truncation)
           for s in classifier.vectorizer_.token_ids(texts)]
    counts = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    for window in range(args.windows + 1):
        for name, factor in growth.items():
            batching.MAX_ROW_GROWTH = factor
            started = time.perf_counter()
            probs[name] = predict_probabilities(classifier.network_, classifier.vectorizer_, texts, config, "sequence")
            seconds = time.perf_counter() - started
            if window:
                rates[name].append(len(texts) / seconds)
            plan = batching.prediction_plan(counts, config.batch_size, prediction_lengths(config))
            print(f"{'warm-up' if not window else f'window {window}'} {name}: {len(texts) / seconds:.1f} reviews/s, "
                  f"{len(plan)} batches", flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\n| batches | reviews/s (median of {args.windows}) | vs reviews |\n|---|---|---|")
    for name in growth:
        print(f"| {name} | {median[name]:.1f} | {median[name] / median['reviews']:.2f}x |")
    print(f"largest probability difference: {np.abs(probs['tokens'] - probs['reviews']).max():.1e}")


if __name__ == "__main__":
    main()
