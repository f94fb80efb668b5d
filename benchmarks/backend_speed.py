"""Speed of one model on each Keras backend: TensorFlow, JAX, PyTorch, same weights shape, same batches.

    python benchmarks/backend_speed.py                       # positional-transformer, 2 rounds
    python benchmarks/backend_speed.py --model bilstm --rounds 3 --steps 30

Keras fixes its backend per process, so each (round, backend) is a child process of this
script; rounds alternate the backends so machine noise hits all of them. Every child
builds the model from the same config and seed, draws the same token-id batches (random
ids, lengths drawn like IMDB reviews: median ~176 tokens, cut at 600), and measures:
- training: median ms per ``train_on_batch`` step over lexiclass's bucketed batches (JAX:
  padded to the prediction ladder's few lengths, so each shape compiles once), after
  a warm-up pass over every shape, whose time is reported as ``warm-up s`` (compiling);
- inference: reviews/s of ``predict_on_batch`` over `prediction_batches` (batch 64).
The table gives medians over rounds and each backend's ratio to TensorFlow's.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BACKENDS = ("tensorflow", "jax", "torch")


def child(args) -> None:
    import keras
    import numpy as np

    from lexiclass.config import TrainConfig
    from lexiclass.models.registry import get_model_spec
    from lexiclass.text.batching import SequenceBatches, prediction_batches
    from lexiclass.text.pipeline import prediction_lengths

    config = TrainConfig(model=args.model, precision=args.precision)
    keras.utils.set_random_seed(0)
    vocabulary = ["", "[UNK]"] + [f"w{i}" for i in range(config.max_tokens - 2)]
    model = get_model_spec(args.model).create(config, 2).build_network(vocabulary)
    rng = np.random.default_rng(0)
    n = args.steps * config.batch_size
    lengths = np.clip(rng.lognormal(np.log(176), 0.75, size=n).astype(int), 10, config.sequence_length)
    sequences = [rng.integers(2, config.max_tokens, size=k).astype(np.int32) for k in lengths]
    labels = rng.integers(0, 2, size=n)
    ladder = prediction_lengths(config) if keras.backend.backend() == "jax" else None
    batches = SequenceBatches(sequences, labels, batch_size=config.batch_size, shuffle=True, seed=0,
                              multiple=config.bucket_multiple, fixed_length=config.sequence_length, lengths=ladder)
    started = time.perf_counter()
    for x, y in batches:  # warm-up: every shape once (JAX compiles here)
        model.train_on_batch(x, y)
    warmup = time.perf_counter() - started
    steps = []
    for x, y in batches:
        t = time.perf_counter()
        model.train_on_batch(x, y)
        steps.append(time.perf_counter() - t)
    for _, x in prediction_batches(sequences, 64, prediction_lengths(config)):  # warm-up
        model.predict_on_batch(x)
    t = time.perf_counter()
    for _, x in prediction_batches(sequences, 64, prediction_lengths(config)):
        np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(x)))
    infer = time.perf_counter() - t
    print(json.dumps({"backend": keras.backend.backend(), "warmup_s": warmup,
                      "train_ms": 1000 * statistics.median(steps), "samples_per_s": config.batch_size /
                      statistics.median(steps), "reviews_per_s": n / infer}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="positional-transformer")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="training batches of 32 per pass")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    from benchmarks.machine import describe_cpu

    print(f"command: python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}")
    print(f"cpu: {describe_cpu()}; model {args.model}, {args.precision}, {args.steps} steps x 32 reviews")
    rows = {b: [] for b in BACKENDS}
    for round_ in range(args.rounds):
        for backend in BACKENDS:
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            out = subprocess.run([sys.executable, __file__, "--child", "--model", args.model, "--precision",
                                  args.precision, "--steps", str(args.steps)], env=env, capture_output=True,
                                 text=True, check=False)
            if out.returncode:
                sys.exit(f"{backend} failed:\n{out.stderr[-3000:]}")
            rows[backend].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {round_ + 1} {backend}: {rows[backend][-1]}", flush=True)
    med = {b: {k: statistics.median(r[k] for r in rows[b]) for k in ("warmup_s", "train_ms", "reviews_per_s")}
           for b in BACKENDS}
    base = med["tensorflow"]
    print("\n| backend | train ms/step | training vs TF | inference reviews/s | inference vs TF | warm-up s |")
    print("|---|---|---|---|---|---|")
    for b in BACKENDS:
        m = med[b]
        print(f"| {b} | {m['train_ms']:.0f} | {base['train_ms'] / m['train_ms']:.2f}x | {m['reviews_per_s']:.0f} | "
              f"{m['reviews_per_s'] / base['reviews_per_s']:.2f}x | {m['warmup_s']:.1f} |")


if __name__ == "__main__":
    main()
