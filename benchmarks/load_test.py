"""Load test for ``lexiclass serve``: throughput and latency of POST /predict at several concurrency levels.

Starts the server as a subprocess on 127.0.0.1 (a free port), waits for /health, warms
up, then for each concurrency level sends a fixed number of requests from that many
concurrent clients (httpx + asyncio) and reports requests/s, p50/p99 latency and errors.
The client runs on the same machine, so it competes with the server for the CPU.

    python benchmarks/load_test.py RUN_DIR --imdb /path/to/aclImdb_v1.tar.gz
    python benchmarks/load_test.py RUN_DIR --texts-file reviews.txt --requests 200 --concurrency 1,8,32
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from machine import free_port, wait_healthy




def load_texts(args) -> list[str]:
    """``--texts-file`` (one per line), else IMDB test reviews (half pos, half neg) from ``--imdb`` or the run's config."""
    if args.texts_file:
        texts = [line.strip() for line in Path(args.texts_file).read_text(encoding="utf-8").splitlines() if line.strip()]
        return texts[:args.num_texts]
    archive = args.imdb or json.loads((Path(args.run_dir) / "config.json").read_text()).get("imdb_archive")
    if not archive:
        sys.exit("give --texts-file or --imdb (the run's config names no IMDB archive)")
    from lexiclass.data.imdb import locate_imdb

    root = locate_imdb(archive)
    texts = []
    for label in ("pos", "neg"):
        names = sorted(os.listdir(root / "test" / label))[:args.num_texts // 2]
        texts += [(root / "test" / label / n).read_text(encoding="utf-8") for n in names]
    return texts


def machine_facts() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    versions = {}
    for package in ("lexiclass", "tensorflow-cpu", "tensorflow", "keras", "fastapi", "uvicorn", "httpx"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "platform": platform.platform(), "python": platform.python_version(), "versions": versions,
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def start_server(args, port: int, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "lexiclass.cli", "serve", str(args.run_dir), "--host", "127.0.0.1",
               "--port", str(port), "--max-batch", str(args.max_batch), "--batch-wait-ms", str(args.batch_wait_ms)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    log = open(log_path, "wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)




async def run_level(base: str, texts: list[str], per_request: int, requests: int, concurrency: int) -> dict:
    """``requests`` POSTs from ``concurrency`` clients; returns throughput and latency figures."""
    latencies, errors, counter = [], [], iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client(c: httpx.AsyncClient):
        for i in counter:  # shared iterator: each request index is taken by exactly one client
            start = i * per_request
            batch = [texts[(start + k) % len(texts)] for k in range(per_request)]
            t0 = time.perf_counter()
            try:
                r = await c.post("/predict", json={"texts": batch})
                if r.status_code != 200:
                    errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000.0
    return {"concurrency": concurrency, "requests": requests, "errors": len(errors), "seconds": round(elapsed, 2),
            "requests_per_s": round(requests / elapsed, 1), "texts_per_s": round(requests * per_request / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "first_errors": errors[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--imdb", help="aclImdb archive or folder (default: the run's imdb_archive)")
    parser.add_argument("--texts-file", help="UTF-8 file, one text per line (instead of IMDB)")
    parser.add_argument("--num-texts", type=int, default=400, help="distinct texts to cycle through")
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts")
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--max-batch", type=int, default=32, help="server --max-batch")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="server --batch-wait-ms")
    parser.add_argument("--json-out", help="also write the results here")
    args = parser.parse_args()

    texts = load_texts(args)
    if not texts:
        sys.exit("no texts to send: the texts file is empty")
    words = [len(t.split()) for t in texts]
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    facts = machine_facts()
    print(f"machine: {facts['cpu']}; {facts['cores']} cores ({facts['usable_cores']} usable); {facts['platform']}; "
          f"load average before the run {facts['load_average']}")
    print("versions:", ", ".join(f"{k} {v}" for k, v in facts["versions"].items()), f"python {facts['python']}")
    print(f"texts: {len(texts)} distinct, {args.texts_per_request} per request, "
          f"{np.mean(words):.0f} words on average (median {np.median(words):.0f})")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        proc = start_server(args, port, log_path)
        try:
            t0 = time.perf_counter()
            wait_healthy(proc, base, log_path)
            meta = httpx.get(base + "/metadata", timeout=10).json()
            print(f"server: model {meta['model']} from {args.run_dir} "
                  f"(test accuracy {meta['run'].get('test_accuracy')}), up in {time.perf_counter() - t0:.1f} s; "
                  f"max_batch {args.max_batch}, batch_wait_ms {args.batch_wait_ms}")
            asyncio.run(run_level(base, texts, args.texts_per_request, 10, 1))  # warm-up, not reported
            results = []
            print(f"\n{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} {'texts/s':>8} "
                  f"{'p50 ms':>8} {'p99 ms':>8}")
            for level in (int(c) for c in args.concurrency.split(",")):
                r = asyncio.run(run_level(base, texts, args.texts_per_request, args.requests, level))
                results.append(r)
                print(f"{r['concurrency']:>7} {r['requests']:>8} {r['errors']:>6} {r['requests_per_s']:>7} "
                      f"{r['texts_per_s']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8}", flush=True)
                for e in r["first_errors"]:
                    print("   error:", e)
            healthy = httpx.get(base + "/health", timeout=10).status_code == 200
            print(f"\n/health after the run: {'200 OK' if healthy else 'FAILED'}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"command": sys.argv, "machine": facts, "model": meta["model"],
                                                   "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
