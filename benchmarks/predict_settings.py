"""Issue 12, item 3: prediction batch size and TensorFlow thread settings for the positional Transformer.

    python benchmarks/predict_settings.py --imdb-archive ../shared/data/aclImdb_v1.tar.gz
    python benchmarks/predict_settings.py --rounds 3 --reviews 1024 --batch-sizes 32 64 128 256

Each thread setting (``intra/inter``: TensorFlow's intra-op and inter-op pools; ``0/0`` is
TensorFlow's default, one thread per core) runs in its own child process, because the pools
are fixed when TensorFlow starts; the children alternate over ``--rounds`` so machine noise
hits every setting alike. A child builds lexiclass's positional Transformer (its default
settings, ``--precision`` as given, weights from seed 1337: speed does not depend on training)
on the vocabulary of the first 20,000 IMDB training reviews and scores the same
``--reviews`` validation reviews from raw text with `lexiclass.text.pipeline.predict_probabilities`
once per batch size (after one warm-up pass over every batch size, which traces each shape).
Printed: the CPU, then reviews/s per setting and batch size (median over rounds) and the
ratio to the default (``0/0``, batch 32, lexiclass's default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def child(args) -> None:
    intra, inter = (int(v) for v in args.threads.split("/"))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    import keras

    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.models.registry import get_model_spec
    from lexiclass.progress import configure
    from lexiclass.text.pipeline import make_vectorizer, predict_probabilities

    configure(enabled=False)
    data = load_imdb(args.imdb_archive, seed=1337)
    config = TrainConfig(model="positional-transformer", seed=1337, precision=args.precision)
    vectorizer = make_vectorizer(config, "sequence")
    vectorizer.adapt(data.train_texts)
    keras.utils.set_random_seed(1337)
    model = get_model_spec(config.model).create(config, 2).build_network(vectorizer.vocabulary)
    texts = data.val_texts[: args.reviews]
    for size in args.batch_sizes:  # warm-up: trace every shape of every batch size
        predict_probabilities(model, vectorizer, texts, config, "sequence", batch_size=size)
    rates = {}
    for size in args.batch_sizes:
        started = time.perf_counter()
        predict_probabilities(model, vectorizer, texts, config, "sequence", batch_size=size)
        rates[size] = len(texts) / (time.perf_counter() - started)
    print(json.dumps(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-archive")
    parser.add_argument("--threads", nargs="+", default=["0/0", "2/1", "1/2", "1/1"],
                        help="intra/inter thread settings to compare (0 = TensorFlow's default)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 64, 128, 256])
    parser.add_argument("--reviews", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.threads = args.threads[0]
        child(args)
        return
    from machine import describe_cpu

    print("command:", " ".join([sys.executable, *sys.argv]))
    print("cpu:", describe_cpu())
    rates = {t: {s: [] for s in args.batch_sizes} for t in args.threads}
    for round_ in range(args.rounds):
        for threads in args.threads:
            cmd = [sys.executable, __file__, "--child", "--threads", threads, "--reviews", str(args.reviews),
                   "--precision", args.precision, "--batch-sizes", *map(str, args.batch_sizes)]
            if args.imdb_archive:
                cmd += ["--imdb-archive", args.imdb_archive]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            for size, rate in json.loads(out).items():
                rates[threads][int(size)].append(rate)
            print(f"round {round_ + 1} {threads}: " + "  ".join(f"b{s} {r[-1]:.0f}/s" for s, r in rates[threads].items()),
                  flush=True)
    base = statistics.median(rates[args.threads[0]][args.batch_sizes[0]])
    print(f"\nreviews/s from raw text, median of {args.rounds} rounds ({args.precision}; ratio to "
          f"{args.threads[0]} batch {args.batch_sizes[0]})")
    print("| intra/inter | " + " | ".join(f"batch {s}" for s in args.batch_sizes) + " |")
    print("|---|" + "---|" * len(args.batch_sizes))
    for threads in args.threads:
        cells = [f"{statistics.median(r):.0f} ({statistics.median(r) / base:.2f}x)" for r in rates[threads].values()]
        print(f"| {threads} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
