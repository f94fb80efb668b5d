"""Predicting a large CSV file: streamed `predict_file` vs reading everything and one `predict_proba` call.

    python benchmarks/predict_file.py                      # 1,000,000 rows, a tiny bow run trained here
    python benchmarks/predict_file.py --run runs/bow --rows 200000 --baseline-rows 200000

Generates a CSV of short texts (id, text, stars; every 100th text blank) in a temporary
folder, then runs each way in its own child process, so that peak RSS is
that way's alone (VmHWM):

- ``stream``: ``predict_file(predictor, in.csv, out.csv)`` - chunks of 2,048 rows;
- ``io-only``: the same with a predictor that returns constants - the file handling alone;
- ``baseline``: all rows into a list, one ``predict_proba`` call, all rows written
  (on ``--baseline-rows`` rows, the first rows of the same file).

Each child samples its RSS every ``--sample-seconds``; the report prints rows/s, peak
RSS and the samples (flat for streaming, growing for the baseline).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORDS = "the movie film story actor plot scene time people character director watch really just also".split()
CUES = ["bad awful boring terrible waste worst dull".split(), "good great excellent wonderful best loved superb".split()]


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec,
    # so a child of a parent that has loaded TensorFlow would report the parent's peak.
    return _status_mb("VmHWM")


class RssSampler(threading.Thread):
    """(seconds since start, RSS in MB) every ``interval`` seconds, in the background."""

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval, self.samples, self.stop = interval, [], threading.Event()
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.samples.append((round(time.perf_counter() - self.started, 1), round(rss_mb())))


def generate_csv(path: str, rows: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 16, size=rows)
    classes = rng.integers(0, 2, size=rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "text", "stars"])
        for i in range(rows):
            if i % 100 == 99:
                writer.writerow([f"r{i}", "", ""])
                continue
            words = list(rng.choice(WORDS, size=lengths[i]))
            words[int(rng.integers(0, len(words)))] = str(rng.choice(CUES[classes[i]]))
            writer.writerow([f"r{i}", " ".join(words), 1 + 4 * classes[i]])


def train_tiny_bow(out: str) -> None:
    """A bow run in seconds on generated texts (the speed of the file path, not accuracy, is measured)."""
    import numpy as np

    from lexiclass.config import TrainConfig
    from lexiclass.data.dataset import TextDataset
    from lexiclass.training.fit import train

    rng = np.random.default_rng(1)

    def split(n):
        labels = rng.integers(0, 2, size=n)
        texts = [" ".join(list(rng.choice(WORDS, size=8)) + [str(rng.choice(CUES[k]))]) for k in labels]
        return texts, labels.astype(np.int32)

    config = TrainConfig(model="bow", max_tokens=256, batch_size=256, epochs=2, hidden_units=16,
                         dataset="generated").validate()
    data = TextDataset(*split(2000), *split(400), *split(400), label_names=["neg", "pos"], source="generated")
    train(config, out, dataset=data, overwrite=True, verbose=0)


class ConstantPredictor:
    label_names = ["neg", "pos"]

    def predict_proba(self, texts):
        import numpy as np

        return np.full((len(texts), 2), 0.5)


def child(args) -> dict:
    """One way, timed in this process; returns the numbers as a dict."""
    import lexiclass
    from lexiclass.progress import configure

    configure(enabled=False)
    predictor = ConstantPredictor() if args.child == "io-only" else lexiclass.load(args.run)
    if args.child != "io-only":
        predictor.predict_proba(["warm up the model"])
    sampler = RssSampler(args.sample_seconds)
    rss_before = rss_mb()
    sampler.start()
    started = time.perf_counter()
    if args.child == "baseline":
        rows = baseline(predictor, args.input, args.output, args.rows)
    else:
        from lexiclass.inference.predict_files import predict_file

        rows = predict_file(predictor, args.input, args.output, id_column="id")["rows"]
    seconds = time.perf_counter() - started
    sampler.stop.set()
    return {"way": args.child, "rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
            "rss_before_mb": round(rss_before), "peak_rss_mb": round(peak_rss_mb()), "samples": sampler.samples}


def baseline(predictor, source: str, target: str, limit: int) -> int:
    """Everything in memory: the first ``limit`` rows, one predict_proba call on the non-blank texts, one write."""
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [row for _, row in zip(range(limit), reader)]
    texts = [row[1] for row in rows]
    keep = [i for i, t in enumerate(texts) if t.strip()]
    probs = predictor.predict_proba([texts[i] for i in keep])
    names = list(predictor.label_names)
    out = [[*row, "", "", "", "true"] for row in rows]
    for i, p in zip(keep, probs.tolist()):
        out[i][3:] = [names[p.index(max(p))], *p, "false"]
    with open(target, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*header, "label", *(f"p_{n}" for n in names), "empty"])
        writer.writerows(out)
    return len(rows)


def run_child(way: str, args, source: str, workdir: str, rows: int) -> dict:
    command = [sys.executable, __file__, "--child", way, "--run", args.run, "--input", source,
               "--output", os.path.join(workdir, f"out-{way}.csv"), "--rows", str(rows),
               "--sample-seconds", str(args.sample_seconds)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{way} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine_facts() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def describe(result: dict) -> str:
    samples = result["samples"]
    step = max(1, len(samples) // 12)  # about a dozen samples per way are enough to see the trend
    shown = ", ".join(f"{t:g}s {mb}" for t, mb in samples[::step])
    return (f"{result['way']:<9} {result['rows']:>9,} rows {result['seconds']:>7.1f} s {result['rows_per_s']:>9,} rows/s  "
            f"RSS before {result['rss_before_mb']} MB, peak {result['peak_rss_mb']} MB\n"
            f"          RSS MB over time: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run directory to predict with (default: train a tiny bow run)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated CSV")
    parser.add_argument("--baseline-rows", type=int, default=None, help="rows for the in-memory baseline (default: --rows)")
    parser.add_argument("--ways", default="stream,io-only,baseline", help="comma-separated ways to run")
    parser.add_argument("--sample-seconds", type=float, default=2.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(f"machine: {machine_facts()}")
    with tempfile.TemporaryDirectory(prefix="predict-file-bench-") as workdir:
        if not args.run:
            args.run = os.path.join(workdir, "run-bow")
            train_tiny_bow(args.run)
            print("model:   a tiny bow run trained here (max_tokens 256, bigrams, 16 hidden units)")
        else:
            print(f"model:   {args.run}")
        source = os.path.join(workdir, "in.csv")
        started = time.perf_counter()
        generate_csv(source, args.rows)
        print(f"input:   {args.rows:,} rows, {os.path.getsize(source) / 2**20:.0f} MB CSV "
              f"(generated in {time.perf_counter() - started:.0f} s)")
        for way in args.ways.split(","):
            rows = args.baseline_rows or args.rows if way == "baseline" else args.rows
            print(describe(run_child(way, args, source, workdir, rows)), flush=True)


if __name__ == "__main__":
    main()
