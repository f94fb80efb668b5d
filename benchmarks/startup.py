"""Start-up as a user meets it: whole processes, wall time and peak memory, median of --repeats.

    .venv/bin/python benchmarks/startup.py [--repeats 5] [--runs tests/fixtures/saved_runs]

Measures `import lexiclass`, `lexiclass --help`, `lexiclass predict RUN TEXT` for the run of every
family in --runs (one small run per family), and `lexiclass serve RUN` until `/health` answers, for one
n-gram and one Keras run; then the same predict and serve on ONNX exports of the positional Transformer
run (float32 and int8, written into a temporary folder first: ONNX Runtime instead of Keras). Prints a Markdown table with the CPU beside it: compare rows with each other
or with a run of an older lexiclass on the same machine, never with numbers from another CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEXICLASS = [sys.executable, "-m", "lexiclass.cli"]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one process run to its end."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {child.stderr.read().decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_until_healthy(run: Path) -> tuple[float, float]:
    """(seconds until GET /health answers 200, peak MB at that moment) of `lexiclass serve RUN`."""
    port = free_port()
    started = time.perf_counter()
    child = subprocess.Popen([*LEXICLASS, "serve", str(run), "--port", str(port)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                    if answer.status == 200:
                        seconds = time.perf_counter() - started
                        break
            except OSError:
                if child.poll() is not None:
                    raise SystemExit(f"serve {run} exited with {child.returncode}") from None
                time.sleep(0.02)
        status = Path(f"/proc/{child.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024
    finally:
        child.terminate()
        child.wait(timeout=30)
    return seconds, peak


def exported(run: Path, folder: Path, int8: bool) -> Path:
    """``lexiclass export RUN --format onnx [--int8]`` into ``folder``; the export's path."""
    out = folder / f"{run.name}-{'int8' if int8 else 'onnx'}"
    argv = [*LEXICLASS, "export", str(run), "--format", "onnx", "--out", str(out), *(["--int8"] if int8 else [])]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def median_of(repeats: int, measure) -> tuple[float, float]:
    rows = [measure() for _ in range(repeats)]
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=Path, default=ROOT / "tests" / "fixtures" / "saved_runs")
    args = parser.parse_args()
    runs = sorted(p for p in args.runs.iterdir() if (p / "run.json").exists())
    cases = [("import lexiclass", lambda: timed([sys.executable, "-c", "import lexiclass"])),
             ("lexiclass --help", lambda: timed([*LEXICLASS, "--help"]))]
    cases += [(f"predict RUN TEXT: {run.name}",
               lambda run=run: timed([*LEXICLASS, "predict", str(run), "A wonderful film."])) for run in runs]
    cases += [(f"serve until /health: {name}", lambda name=name: serve_until_healthy(args.runs / name))
              for name in ("nbsvm-ensemble", "positional-transformer") if (args.runs / name).exists()]
    with tempfile.TemporaryDirectory(prefix="startup-exports-") as folder:
        if (args.runs / "positional-transformer").exists():
            for int8 in (False, True):
                export = exported(args.runs / "positional-transformer", Path(folder), int8)
                cases += [(f"predict EXPORT TEXT: {export.name}",
                           lambda export=export: timed([*LEXICLASS, "predict", str(export), "A wonderful film."])),
                          (f"serve until /health: {export.name}", lambda export=export: serve_until_healthy(export))]
        print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; median of {args.repeats} processes")
        print("| command | wall s | peak MB |\n|---|---:|---:|")
        for name, measure in cases:
            seconds, peak = median_of(args.repeats, measure)
            print(f"| {name} | {seconds:.2f} | {peak:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
