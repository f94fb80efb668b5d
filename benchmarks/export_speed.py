"""Prediction speed of exported runs: ONNX Runtime and the TensorFlow SavedModel vs lexiclass's own predict_proba.

    python benchmarks/export_speed.py                       # bow and positional-transformer, 1,000 IMDB test reviews
    python benchmarks/export_speed.py --models bow --rounds 7

For each model a small run is trained here (``--limit`` reviews, ``--epochs``), exported in both
formats, and the same ``--texts`` IMDB test reviews are scored, in one process, by:

- ``lexiclass``: ``lexiclass.load(run).predict_proba(texts)`` (its own batching: sorted by length);
- ``savedmodel``: the SavedModel's ``serving_default`` signature, ``--batch`` texts per call, input order
  (what a TensorFlow Serving client sends);
- ``onnx``: ``preprocess.py`` (NumPy) + ``onnxruntime`` ``session.run``, ``--batch`` texts per call,
  input order; ``onnx-network`` is the session time alone (preprocessing done beforehand);
- ``*-sorted``: the same with the texts sorted by word count before batching (as lexiclass does),
  results put back in input order.

Rounds are interleaved (one of each way per round) and the median is reported with its
ratio to lexiclass's median, so that the load of a shared machine affects all ways alike.
Every way's probabilities are compared with lexiclass's (max abs difference).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default=os.environ.get("LEXICLASS_IMDB_ARCHIVE", "/work/shared/data/aclImdb_v1.tar.gz"))
    parser.add_argument("--models", default="bow,positional-transformer")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ways", default=None, help="comma-separated subset of the ways (lexiclass always runs)")
    parser.add_argument("--work", default=None, help="folder for the runs and exports (default: a temporary one)")
    args = parser.parse_args(argv)

    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    import lexiclass
    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.inference.export import export_run
    from lexiclass.training.fit import train

    work = Path(args.work or tempfile.mkdtemp(prefix="export-speed-"))
    texts = load_imdb(args.archive).test_texts[:args.texts]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
          f"tensorflow {tf.__version__}, onnxruntime {ort.__version__}; {len(texts)} IMDB test reviews, "
          f"batch {args.batch}, median of {args.rounds} interleaved rounds")
    print(f"command: python {' '.join([sys.argv[0]] + (argv or sys.argv[1:]))}")
    report = {}
    for model_name in args.models.split(","):
        run = work / f"run-{model_name}"
        if not (run / "run.json").exists():
            config = TrainConfig(model=model_name, imdb_archive=args.archive, limit=args.limit,
                                 epochs=args.epochs).validate()
            train(config, run, overwrite=True, verbose=0)
        predictor = lexiclass.load(run)
        exports = {}
        for fmt in ("savedmodel", "onnx"):
            start = time.perf_counter()
            exports[fmt] = export_run(run, work / f"{model_name}-{fmt}", fmt, overwrite=True)["out_dir"]
            print(f"{model_name}: {fmt} export (with its check) {time.perf_counter() - start:.1f} s")

        serve = tf.saved_model.load(exports["savedmodel"]).signatures["serving_default"]
        sys.path.insert(0, exports["onnx"])
        sys.modules.pop("preprocess", None)
        from preprocess import Preprocessor

        sys.path.pop(0)
        pre = Preprocessor(exports["onnx"])
        session = ort.InferenceSession(str(Path(exports["onnx"]) / "model.onnx"), providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        chunks = [texts[i:i + args.batch] for i in range(0, len(texts), args.batch)]
        prepared = [pre(chunk) for chunk in chunks]
        # The same texts sorted by word count first (as lexiclass batches them): batches pad far less.
        by_length = sorted(texts, key=lambda t: len(t.split()))
        sorted_chunks = [by_length[i:i + args.batch] for i in range(0, len(by_length), args.batch)]
        sorted_prepared = [pre(chunk) for chunk in sorted_chunks]
        order = np.argsort([len(t.split()) for t in texts], kind="stable")
        unsort = np.empty_like(order)
        unsort[order] = np.arange(len(order))

        ways = {
            "lexiclass": lambda: predictor.predict_proba(texts, batch_size=args.batch),
            "savedmodel": lambda: np.concatenate([serve(texts=tf.constant(c))["probabilities"].numpy()
                                                  for c in chunks]),
            "onnx": lambda: np.concatenate([session.run(None, {input_name: pre(c)})[0] for c in chunks]),
            "onnx-network": lambda: np.concatenate([session.run(None, {input_name: x})[0] for x in prepared]),
            "savedmodel-sorted": lambda: np.concatenate([serve(texts=tf.constant(c))["probabilities"].numpy()
                                                         for c in sorted_chunks])[unsort],
            "onnx-sorted": lambda: np.concatenate([session.run(None, {input_name: pre(c)})[0]
                                                   for c in sorted_chunks])[unsort],
            "onnx-network-sorted": lambda: np.concatenate([session.run(None, {input_name: x})[0]
                                                           for x in sorted_prepared])[unsort],
        }
        if args.ways:
            ways = {name: way for name, way in ways.items() if name == "lexiclass" or name in args.ways.split(",")}
        expected = ways["lexiclass"]()  # warm-up of every way, and the agreement check
        differences = {name: float(np.abs(way() - expected).max()) for name, way in ways.items()}
        times = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["lexiclass"])
        print(f"\n{model_name} ({len(predictor.vectorizer.vocabulary):,}-entry vocabulary)")
        print(f"{'way':<14}{'median s':>10}{'texts/s':>10}{'vs lexiclass':>14}{'max |diff|':>12}")
        report[model_name] = {}
        for name, values in times.items():
            median = statistics.median(values)
            report[model_name][name] = {"median_s": median, "texts_per_s": len(texts) / median,
                                        "speedup": base / median, "max_difference": differences[name],
                                        "rounds_s": values}
            print(f"{name:<14}{median:>10.3f}{len(texts) / median:>10.0f}{base / median:>13.2f}x"
                  f"{differences[name]:>12.2g}")
    print("\n" + json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
