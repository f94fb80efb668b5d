"""A run's network in Keras, as a float32 ONNX export and as an int8 one: accuracy and speed, in one process.

    python benchmarks/int8_inference.py RUN_DIR --imdb-archive ../shared/data/aclImdb_v1.tar.gz

The run is exported twice (`export_run(..., "onnx")` and with ``int8=True``, into a temporary folder). All
three score the same token-id batches (lexiclass's vectorizer, truncation and prediction batches; the
export's preprocess.py gives the same ids, tested in tests/inference/test_export.py), so the figures compare
the networks alone:
- accuracy on every IMDB test review (25,000; each variant scores the test split once), and how many
  reviews get another predicted class than Keras' float32;
- reviews/s of the network on ``--speed-reviews`` test reviews, in windows alternating between the variants
  (the first a warm-up), ONNX Runtime on all cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def network_outputs(call, batches, bar=None) -> "np.ndarray":  # noqa: F821 (NumPy is imported in main)
    """(n, outputs) for the batches' texts, in input order: ``call(x)`` on each padded batch, padding rows dropped;
    ``bar`` (a progress bar counting texts) advances after each batch."""
    import numpy as np

    order, outputs = [], []
    for idx, x in batches:
        order.append(idx)
        outputs.append(np.asarray(call(x))[:len(idx)])
        if bar is not None:
            bar.update(len(idx))
    out = np.concatenate(outputs)
    result = np.empty_like(out)
    result[np.concatenate(order)] = out
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--imdb-archive")
    parser.add_argument("--speed-reviews", type=int, default=2000)
    parser.add_argument("--windows", type=int, default=3)
    args = parser.parse_args()
    import numpy as np
    import onnxruntime as ort

    import lexiclass
    from benchmarks.machine import describe_cpu
    from lexiclass.data import load_imdb
    from lexiclass.inference.export import export_run
    from lexiclass.progress import progress
    from lexiclass.text.batching import prediction_batches, truncate
    from lexiclass.text.pipeline import prediction_lengths, to_probabilities

    print(f"command: python benchmarks/int8_inference.py {' '.join(sys.argv[1:])}")
    print(f"cpu: {describe_cpu()}, onnxruntime {ort.__version__}")
    predictor = lexiclass.load(args.run_dir)
    config, classifier = predictor.config, predictor.classifier
    folder = Path(tempfile.mkdtemp(prefix="int8-benchmark-"))
    variants = {"keras": classifier.network_.predict_on_batch}
    for name, int8 in (("onnx float32", False), ("onnx int8", True)):
        summary = export_run(args.run_dir, folder / name.replace(" ", "-"), "onnx", int8=int8)
        session = ort.InferenceSession(str(Path(summary["out_dir"]) / "model.onnx"),
                                       providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        variants[name] = lambda x, s=session, i=input_name: s.run(None, {i: x})[0]
        print(f"{name}: max difference on probe texts {summary['max_difference']:.1e}, "
              f"model.onnx {(Path(summary['out_dir']) / 'model.onnx').stat().st_size / 1e6:.1f} MB")

    data = load_imdb(args.imdb_archive)
    ids = [truncate(s, config.sequence_length, config.truncation)
           for s in classifier.vectorizer_.token_ids(data.test_texts)]
    lengths, labels = prediction_lengths(config), np.asarray(data.test_labels)
    predicted = {}
    for name, call in variants.items():  # the test split, once per variant (minutes each: a progress bar)
        with progress(total=len(ids), desc=f"test split, {name}", unit="review") as bar:
            probs = network_outputs(call, prediction_batches(ids, config.batch_size, lengths), bar)
        predicted[name] = to_probabilities(probs).argmax(axis=1)
    print(f"\n| network | test accuracy ({len(ids)} reviews) | other class than keras |\n|---|---|---|")
    for name, classes in predicted.items():
        print(f"| {name} | {np.mean(classes == labels):.2%} | {int(np.sum(classes != predicted['keras']))} |")

    rng = np.random.default_rng(0)
    sample = [ids[i] for i in rng.choice(len(ids), size=args.speed_reviews, replace=False)]
    rates = {name: [] for name in variants}
    for window in range(args.windows + 1):
        for name, call in variants.items():
            started = time.perf_counter()
            network_outputs(call, prediction_batches(sample, config.batch_size, lengths))
            if window:
                rates[name].append(len(sample) / (time.perf_counter() - started))
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\n| network | reviews/s (median of {args.windows}) | vs keras |\n|---|---|---|")
    for name in variants:
        print(f"| {name} | {median[name]:.1f} | {median[name] / median['keras']:.2f}x |")


if __name__ == "__main__":
    main()
