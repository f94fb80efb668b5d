"""Scoring files: the local engine (`predict_file`) vs the Ray engine (`predict_files_ray`) with 1 and 2 workers.

    python benchmarks/ray_scoring.py                          # a small bow run trained here, 4 CSVs of 25,000 rows
    python benchmarks/ray_scoring.py --run runs/bow --rows 200000 --files 8 --repeats 3

For each engine the same CSV files (id, text; every 100th text blank) are scored ``--repeats``
times, the engines taking turns within each repeat, and the median is reported:

- ``local``: `predict_file` on each file in turn, in this process (TensorFlow uses every core);
- ``ray-W``: a fresh local Ray with W+1 logical CPUs (W predictor actors of one CPU, one CPU
  for the read and write tasks), then `predict_files_ray(..., workers=W)`. Ray's start-up
  (``ray.init``) is timed apart from the scoring call; the call includes starting the actors
  (each loads TensorFlow and the run once).

Rows/s of each is given against the local engine's (ratio). The marginal rate per worker
(``(rows_big - rows_small) / (t_big - t_small) / W``, with a ``--small-rows`` input scored the
same way) separates the fixed cost of a call (actors starting) from the steady rate, for the
projection to more workers. Ray's memory is the summed RSS of every process started under
this one (GCS, raylet, workers; shared pages counted once per process, so an upper bound),
idle after start-up and at its peak while scoring.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from machine import cpu_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("LEXICLASS_QUIET", "1")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

WORDS = "the movie film story actor plot scene time people character director watch really just also".split()
CUES = ["bad awful boring terrible waste worst dull".split(), "good great excellent wonderful best loved superb".split()]




def descendants_rss_mb(root: int) -> float:
    """Summed RSS of every process below ``root`` (from /proc)."""
    children, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 2**20


class PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval, self.peak, self.stop = interval, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, descendants_rss_mb(os.getpid()))


def write_csvs(folder: Path, rows: int, files: int, seed: int = 0) -> list[Path]:
    import numpy as np

    rng = np.random.default_rng(seed)
    paths, per = [], -(-rows // files)
    for k in range(files):
        path = folder / f"part-{k:03d}.csv"
        n = min(per, rows - k * per)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["id", "text"])
            for i in range(n):
                if i % 100 == 99:
                    writer.writerow([f"{k}-{i}", ""])
                    continue
                words = list(rng.choice(WORDS, size=int(rng.integers(8, 40))))
                words.insert(int(rng.integers(0, len(words))), str(rng.choice(CUES[int(rng.integers(2))])))
                writer.writerow([f"{k}-{i}", " ".join(words)])
        paths.append(path)
    return paths


def train_run(folder: Path, model: str) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.conftest import make_dataset, tiny_config

    from lexiclass.training.fit import train

    out = folder / f"run-{model}"
    config = tiny_config(model, max_tokens=5000, embed_dim=32, hidden_units=16, epochs=1)
    train(config, out, dataset=make_dataset(n_train=2000, n_val=400, n_test=400), overwrite=True, verbose=0)
    return out


def score_local(run: Path, paths: list[Path], out: Path) -> float:
    import lexiclass
    from lexiclass.inference.predict_files import predict_file

    predictor = lexiclass.load(run)
    started = time.perf_counter()
    for path in paths:
        predict_file(predictor, path, out / f"{path.stem}.parquet", id_column="id")
    return time.perf_counter() - started


def score_ray(run: Path, paths: list[Path], out: Path, workers: int) -> dict:
    import ray

    from lexiclass.inference.ray_predict import predict_files_ray

    began = time.perf_counter()
    ray.init(num_cpus=workers + 1, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    startup = time.perf_counter() - began
    time.sleep(2)  # let the idle processes settle before measuring them
    idle = descendants_rss_mb(os.getpid())
    sampler = PeakSampler()
    sampler.start()
    try:
        started = time.perf_counter()
        predict_files_ray(run, [str(p) for p in paths], out, id_column="id", workers=workers)
        seconds = time.perf_counter() - started
    finally:
        sampler.stop.set()
        sampler.join()
        ray.shutdown()
    return {"seconds": seconds, "startup": startup, "idle_mb": idle, "peak_mb": sampler.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a finished run folder (default: train a small bow run here)")
    parser.add_argument("--model", default="bow", help="model of the run trained here when --run is not given")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small-rows", type=int, default=4_000, help="input for the fixed cost of a call")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import lexiclass
    import ray

    workers = [int(w) for w in args.workers.split(",")]
    results = {"command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]), "cpu": cpu_model(),
               "cores": os.cpu_count(), "rows": args.rows, "files": args.files, "small_rows": args.small_rows,
               "repeats": args.repeats, "ray": ray.__version__, "lexiclass": lexiclass.__version__,
               "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="ray-scoring-") as tmp:
        tmp = Path(tmp)
        run = Path(args.run) if args.run else train_run(tmp, args.model)
        results["run"] = str(args.run or f"a {args.model} run trained here")
        (tmp / "big").mkdir()
        (tmp / "small").mkdir()
        big = write_csvs(tmp / "big", args.rows, args.files)
        small = write_csvs(tmp / "small", args.small_rows, 1)
        # Engines take turns within each repeat, so a change in the machine's load hits them alike.
        runs = {"local": [], **{f"ray-{w}": [] for w in workers}}
        for _ in range(args.repeats):
            for inputs, size in ((big, "big"), (small, "small")):
                runs["local"].append((size, {"seconds": score_local(run, inputs, tmp / f"out-local-{size}")}))
                for w in workers:
                    runs[f"ray-{w}"].append((size, score_ray(run, inputs, tmp / f"out-ray{w}-{size}", w)))
    engines = {}
    for name, measured in runs.items():
        bigs = [m for size, m in measured if size == "big"]
        smalls = [m for size, m in measured if size == "small"]
        engines[name] = {"seconds": statistics.median(b["seconds"] for b in bigs),
                         "small_seconds": statistics.median(s["seconds"] for s in smalls),
                         "runs": [round(b["seconds"], 3) for b in bigs],
                         "small_runs": [round(s["seconds"], 3) for s in smalls]}
        if name != "local":
            engines[name].update(
                workers=int(name.split("-")[1]),
                startup_seconds=statistics.median(m["startup"] for m in bigs + smalls),
                idle_mb=statistics.median(m["idle_mb"] for m in bigs + smalls),
                peak_mb=max(m["peak_mb"] for m in bigs))
    base = engines["local"]["seconds"]
    for name, e in engines.items():
        e["rows_per_second"] = round(args.rows / e["seconds"], 1)
        e["speed_vs_local"] = round(base / e["seconds"], 3)
        span = e["seconds"] - e["small_seconds"]
        marginal = (args.rows - args.small_rows) / span if span > 0 else float("nan")
        e["marginal_rows_per_second"] = round(marginal, 1)
        e["marginal_per_worker"] = round(marginal / e.get("workers", 1), 1)
        e["fixed_seconds"] = round(e["small_seconds"] - args.small_rows / marginal, 2) if span > 0 else None
    results["engines"] = engines
    results["load_average_after"] = os.getloadavg()
    print(f"{results['command']}\nCPU: {results['cpu']} ({results['cores']} cores), Ray {results['ray']}, "
          f"{args.rows:,} rows in {args.files} CSV files, median of {args.repeats}; load average "
          f"{results['load_average_before'][0]:.1f} before, {results['load_average_after'][0]:.1f} after\n")
    print("| engine | rows/s | vs local | marginal rows/s per worker | fixed s per call | Ray start-up s | "
          "Ray idle MB | Ray peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, e in engines.items():
        print(f"| {name} | {e['rows_per_second']:,.0f} | {e['speed_vs_local']:.2f}x | "
              f"{e['marginal_per_worker']:,.0f} | {e['fixed_seconds']} | {e.get('startup_seconds', 0):.1f} | "
              f"{e.get('idle_mb', 0):,.0f} | {e.get('peak_mb', 0):,.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
