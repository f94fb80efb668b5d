"""Speed of length-bucketed batches vs the book's fixed 600-token padding, on the same data and weights.

    # training samples/s and inference reviews/s, interleaved windows in one process
    python benchmarks/speed.py throughput --imdb-archive ../shared/data/aclImdb_v1.tar.gz
    # peak memory: one child process per (model, batching), same work in each
    python benchmarks/speed.py memory --imdb-archive ../shared/data/aclImdb_v1.tar.gz
    # wall time until validation accuracy first reaches 88%, full IMDB, both ways
    python benchmarks/speed.py time-to-accuracy --imdb-archive ../shared/data/aclImdb_v1.tar.gz

Options --jit, --bf16 and --threads N try XLA, bfloat16 compute and thread settings.
Timed windows alternate between the two batchings so that machine noise hits both;
the report gives medians over windows after a warm-up window each, and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def machine_facts() -> str:
    import keras
    import tensorflow as tf

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = open("/proc/cpuinfo").read()
    return (f"{os.cpu_count()} cores ({cpu}; avx512_bf16={'avx512_bf16' in flags}), Python "
            f"{platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__} "
            f"(backend {keras.backend.backend()}), intra-op threads "
            f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")


def configure_runtime(args) -> None:
    """Thread and precision settings; must run before TensorFlow executes anything."""
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if args.bf16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")


def setup(args):
    configure_runtime(args)
    from lexiclass.data import load_imdb
    from lexiclass.text.pipeline import make_vectorizer

    data = load_imdb(args.imdb_archive).limit(args.limit)
    vectorizer = make_vectorizer(config_for(args, "positional-transformer", "bucket"), "sequence")
    vectorizer.adapt(data.train_texts)
    return data, vectorizer


def config_for(args, model, batching):
    from lexiclass.config import TrainConfig

    return TrainConfig(model=model, batching=batching, jit_compile=args.jit, seed=1337)


def build(model_name, config, vocabulary):
    import keras

    from lexiclass.models.registry import get_model_spec

    keras.utils.set_random_seed(1337)
    return get_model_spec(model_name).create(config, 2).build_network(vocabulary)


def window_dataset(batches, idx_list):
    """The batches ``idx_list`` of ``batches`` (sequence or vector batches) as a ``tf.data.Dataset``."""
    import tensorflow as tf

    spec = (tf.TensorSpec((None,) * batches.input_rank, batches.input_dtype), tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(lambda: (batches.batch(i) for i in idx_list), output_signature=spec)


def parse_variant(args, model_name, variant: str):
    """"bucket", "fixed", "bucket+bf16", "fixed+jit", ...: a batching plus optional compute options."""
    batching, *options = variant.split("+")
    config = config_for(args, model_name, batching)
    return config.updated({"precision": "bfloat16" if "bf16" in options else "float32",
                           "jit_compile": "jit" in options or args.jit})


def throughput(args) -> None:
    import numpy as np

    from lexiclass.text.pipeline import predict_probabilities, sequence_batches

    data, vectorizer = setup(args)
    test_texts = data.test_texts[: args.predict_reviews]
    print(f"$ python benchmarks/speed.py {' '.join(sys.argv[1:])}")
    print(machine_facts())
    print(f"training: {args.windows} timed windows of {args.steps} batches of 32 per variant (after 1 warm-up "
          f"window); inference: {len(test_texts)} test reviews, raw text to probabilities, {args.repeats} repeats\n")
    base, rows = args.variants[0], []
    for model_name in args.models:
        configs = {v: parse_variant(args, model_name, v) for v in args.variants}
        # Variants that compute the same way share one model, so their predictions can be compared.
        models = {}
        for c in configs.values():
            key = (c.precision, c.jit_compile)
            if key not in models:
                models[key] = build(model_name, c, vectorizer.vocabulary)
        model_of = {v: models[(c.precision, c.jit_compile)] for v, c in configs.items()}
        batches = {v: sequence_batches(vectorizer, data.train_texts, data.train_labels, c, shuffle=True, seed=1)
                   for v, c in configs.items()}
        order = {v: batches[v].batch_indices(0) for v in batches}
        train_rates = {v: [] for v in configs}
        for w in range(args.windows + 1):
            for v in configs:  # alternate the variants so machine noise hits them alike
                idx = order[v][w * args.steps:(w + 1) * args.steps]
                started = time.perf_counter()
                model_of[v].fit(window_dataset(batches[v], idx), epochs=1, verbose=0)
                if w:  # window 0 is the warm-up (graph tracing)
                    train_rates[v].append(sum(len(i) for i in idx) / (time.perf_counter() - started))
        predict_rates, probs = {v: [] for v in configs}, {}
        for r in range(args.repeats + 1):
            for v, c in configs.items():
                started = time.perf_counter()
                probs[v] = predict_probabilities(model_of[v], vectorizer, test_texts, c, "sequence")
                if r:
                    predict_rates[v].append(len(test_texts) / (time.perf_counter() - started))
        row = {"model": model_name, "padding": {v: batches[v].padding_fraction() for v in configs},
               "train": {v: statistics.median(x) for v, x in train_rates.items()},
               "predict": {v: statistics.median(x) for v, x in predict_rates.items()},
               "train_all": train_rates, "predict_all": predict_rates}
        rows.append(row)
        for v in configs:
            same_model = model_of[v] is model_of[base]
            diff = float(np.abs(probs[v] - probs[base]).max())
            agree = float((probs[v].argmax(1) == probs[base].argmax(1)).mean())
            print(f"{model_name} {v}: padding {row['padding'][v]:.1%}; vs {base}: max |p diff| = {diff:.2e}, "
                  f"labels agree {agree:.2%}" + ("" if same_model else " (a separately trained copy)"), flush=True)
    header = " | ".join(args.variants)
    print(f"\n| model | metric | {header} | ratio to {base} |\n|---|---|{'---|' * len(args.variants)}---|")
    for row in rows:
        for metric, unit in (("train", "training samples/s"), ("predict", "inference reviews/s")):
            values = " | ".join(f"{row[metric][v]:.1f}" for v in args.variants)
            ratios = ", ".join(f"{row[metric][v] / row[metric][base]:.2f}x" for v in args.variants[1:])
            print(f"| {row['model']} | {unit} (median) | {values} | {ratios} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


def memory_child(args) -> None:
    """Train ``--steps`` batches and predict ``--predict-reviews`` reviews with one batching; print peak RSS."""
    from lexiclass.text.pipeline import predict_probabilities, sequence_batches

    data, vectorizer = setup(args)
    config = config_for(args, args.models[0], args.batching)
    model = build(args.models[0], config, vectorizer.vocabulary)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    batches = sequence_batches(vectorizer, data.train_texts, data.train_labels, config, shuffle=True, seed=1)
    model.fit(window_dataset(batches, batches.batch_indices(0)[: args.steps]), epochs=1, verbose=0)
    predict_probabilities(model, vectorizer, data.test_texts[: args.predict_reviews], config, "sequence")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mb": peak / 1024, "before_model_work_mb": before / 1024}))


def memory(args) -> None:
    print(f"$ python benchmarks/speed.py {' '.join(sys.argv[1:])}")
    print(machine_facts())
    print(f"one child process per cell: {args.steps} training batches + {args.predict_reviews} predictions\n")
    print("Peak RSS of the whole process, and how much the peak rose during model work (over data loading and vectorizer adapt).\n")
    print("| model | peak RSS fixed 600 | peak RSS bucketed | ratio | added by model work: fixed 600 | bucketed | ratio |")
    print("|---|---|---|---|---|---|---|")
    for model_name in args.models:
        peaks, added = {}, {}
        for b in ("fixed", "bucket"):
            cmd = [sys.executable, __file__, "memory-child", "--models", model_name, "--batching", b,
                   "--steps", str(args.steps), "--predict-reviews", str(args.predict_reviews)]
            cmd += ["--limit", str(args.limit)] if args.limit else []
            if args.imdb_archive:
                cmd += ["--imdb-archive", args.imdb_archive]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            child = json.loads(out)
            peaks[b], added[b] = child["peak_rss_mb"], child["peak_rss_mb"] - child["before_model_work_mb"]
        print(f"| {model_name} | {peaks['fixed']:.0f} MB | {peaks['bucket']:.0f} MB | "
              f"{peaks['bucket'] / peaks['fixed']:.2f}x | {added['fixed']:.0f} MB | {added['bucket']:.0f} MB | "
              f"{added['bucket'] / added['fixed']:.2f}x |", flush=True)


def time_to_accuracy(args) -> None:
    import keras

    from lexiclass.data import load_imdb
    from lexiclass.training.fit import train

    class StopAtTarget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started, self.reached = time.perf_counter(), None

        def on_epoch_end(self, epoch, logs=None):
            if self.reached is None and logs.get("val_accuracy", 0) >= args.target:
                self.reached = (epoch + 1, time.perf_counter() - self.started)
                self.model.stop_training = True

    configure_runtime(args)
    print(f"$ python benchmarks/speed.py {' '.join(sys.argv[1:])}")
    print(machine_facts())
    data = load_imdb(args.imdb_archive).limit(args.limit)
    results = {}
    for b, run_dir in (r.split("=", 1) for r in args.from_run):
        # A finished `lexiclass train` run with this batching and the same settings: its history.csv
        # holds each epoch's validation accuracy and seconds (training + validation), as measured here.
        with open(os.path.join(run_dir, "history.csv")) as f:
            history = list(csv.DictReader(f))
        elapsed, results[b] = 0.0, None
        for row in history:
            elapsed += float(row["seconds"])
            if float(row["val_accuracy"]) >= args.target:
                results[b] = (int(row["epoch"]), elapsed)
                break
        print(f"{b}: from {run_dir}/history.csv: reached val_accuracy >= {args.target} at {results[b]}", flush=True)
    for b in args.batchings:
        stopper = StopAtTarget()
        config = config_for(args, args.models[0], b).updated({"epochs": args.max_epochs})
        train(config, os.path.join(args.runs, f"tta-{b}"), overwrite=True, dataset=data, verbose=2,
              callbacks=[stopper])
        results[b] = stopper.reached
        print(f"{b}: reached val_accuracy >= {args.target} at {stopper.reached}", flush=True)
    print(f"\n| batching | epochs to {args.target:.0%} val accuracy | wall seconds (training + validation) |")
    print("|---|---|---|")
    for b, reached in results.items():
        print(f"| {b} | {reached[0] if reached else 'not reached'} | {reached[1]:.0f} |" if reached else
              f"| {b} | not reached in {args.max_epochs} epochs | - |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({b: {"epochs": r[0], "seconds": r[1]} if r else None for b, r in results.items()}, f, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("throughput", "memory", "memory-child", "time-to-accuracy"))
    parser.add_argument("--imdb-archive", default=os.environ.get("LEXICLASS_IMDB_ARCHIVE"))
    parser.add_argument("--models", nargs="+", default=["positional-transformer", "bilstm"])
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="batches per timed window")
    parser.add_argument("--predict-reviews", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batching", default="bucket")
    parser.add_argument("--variants", nargs="+", default=["fixed", "bucket"],
                        help='throughput: batchings with options, e.g. fixed bucket bucket+bf16 fixed+jit')
    parser.add_argument("--batchings", nargs="+", default=["fixed", "bucket"])
    parser.add_argument("--from-run", nargs="*", default=[], metavar="BATCHING=RUN_DIR",
                        help="time-to-accuracy: take a batching's numbers from a finished run's history.csv")
    parser.add_argument("--target", type=float, default=0.88)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--runs", default="runs/speed")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train/predict steps")
    parser.add_argument("--bf16", action="store_true", help="mixed_bfloat16 compute policy")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra/inter-op threads (0 = default)")
    parser.add_argument("--limit", type=int, help="at most this many reviews per split (quick checks)")
    parser.add_argument("--json", help="also write the measurements here")
    args = parser.parse_args()
    {"throughput": throughput, "memory": memory, "memory-child": memory_child,
     "time-to-accuracy": time_to_accuracy}[args.mode](args)


if __name__ == "__main__":
    main()
