"""Train the five book models on full IMDB and write docs/results.md from their run directories.

    python benchmarks/train_all.py --imdb-archive ../shared/data/aclImdb_v1.tar.gz --runs runs/imdb \
        [--models bow positional-transformer ...] [--report-only] [-- extra lexiclass train flags]

Each model trains in its own `lexiclass train` process with the book's settings
(validation = 20% of each training class, seed 1337; best epoch on val_loss kept)
and the test set (25,000 reviews) is scored once, by the reloaded best model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

MODELS = ["bow", "bilstm", "glove-bilstm", "transformer", "positional-transformer", "nbsvm-ensemble"]
BOOK = {"bow": "89-90%", "bilstm": "about 88%", "glove-bilstm": "87-88%", "transformer": "87.5%",
        "positional-transformer": "88.3%", "nbsvm-ensemble": "-"}
TARGET = {"bow": 0.89, "bilstm": 0.875, "glove-bilstm": 0.865, "transformer": 0.87, "positional-transformer": 0.88,
          "nbsvm-ensemble": 0.92}


NOTES_MARKER = "<!-- notes: kept when this page is rebuilt -->"


def train(model: str, runs: Path, archive: str, extra: list[str]) -> None:
    cmd = [str(Path(sys.executable).parent / "lexiclass"), "train", "--model", model, "--imdb-archive", archive,
           "--out", str(runs / model), "--overwrite", *extra]
    print("$", " ".join(cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - started
    info = json.loads((runs / model / "run.json").read_text())
    info["wall_seconds"] = wall
    info["command"] = " ".join(["lexiclass", *cmd[1:]])
    (runs / model / "benchmark.json").write_text(json.dumps(info, indent=2))


def report(runs: list[Path], models: list[str], out: Path) -> None:
    lines = [
        "# Results on IMDB",
        "",
        "Full Large Movie Review Dataset: 20,000 train / 5,000 validation (20% of each training class, file",
        "names shuffled with seed 1337) / 25,000 test reviews. Model selection on validation only (best epoch",
        "by `val_loss`, as the book's `ModelCheckpoint(save_best_only=True)`); the test set is scored once by",
        "the reloaded best model. `nbsvm-ensemble` has no epochs: its settings were chosen on validation",
        "(docs/beyond-the-book.md), then it is refit on train + validation (`refit_on_val`, the default) and",
        "scored once on test; its \"s/epoch\" column is the whole fit. Training seed 1337. Length-bucketed batches (the default; same function as",
        "fixed 600-token padding, see docs/performance.md). Machine: 2-core AMD EPYC, no GPU,",
        f"Python {platform.python_version()}, TensorFlow CPU backend.",
        "",
        "| model | test accuracy | book | target | best epoch | epochs run | s/epoch (median) | wall | model size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    commands = []
    # Each model's rows in the order of the run folders given (e.g. the main runs, then earlier settings).
    found = [runs_dir / model / "benchmark.json" for model in models for runs_dir in runs]
    for path in (p for p in found if p.exists()):
        model = path.parent.name
        info = json.loads(path.read_text())
        ok = "met" if info["test_accuracy"] >= TARGET[model] else "**missed**"
        lines.append(
            f"| {model} | {info['test_accuracy']:.2%} | {BOOK[model]} | >= {TARGET[model]:.1%} ({ok}) "
            f"| {info['best_epoch']} | {info['epochs_run']} | {info['seconds_per_epoch_median']:.0f} s "
            f"| {info['wall_seconds'] / 60:.1f} min | {info['model_bytes'] / 1e6:.1f} MB |")
        commands.append(f"    {info['command']}")
    lines += ["", "Model size is the `.keras` file, which includes the optimizer state (for `nbsvm-ensemble`, its model folder).", "",
              "Commands (one per row; `python benchmarks/train_all.py --report-only` rebuilt this page):", "",
              *commands, ""]
    # Notes written by hand below the marker survive a rebuild of the table.
    notes = out.read_text().partition(NOTES_MARKER)[2] if out.exists() else ""
    lines += [NOTES_MARKER + notes] if notes else []
    out.write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-archive", default=os.environ.get("LEXICLASS_IMDB_ARCHIVE"))
    parser.add_argument("--runs", type=Path, default=Path("runs/imdb"))
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--extra-runs", nargs="*", type=Path, default=[],
                        help="more run folders whose models also get rows (e.g. the same model with other settings)")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if not args.report_only:
        for model in args.models:
            train(model, args.runs, args.imdb_archive, extra)
    report([args.runs, *args.extra_runs], MODELS, args.out)


if __name__ == "__main__":
    main()
