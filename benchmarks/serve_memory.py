"""Server memory under varied request shapes: RSS after warm-up vs after many requests of 1-32 texts.

Before prediction batches were padded to a fixed ladder of shapes, every new (batch, length)
shape made TensorFlow trace and keep another function (~1 MB each), so a server's memory grew
with its traffic. This benchmark starts ``lexiclass serve`` on a run folder (``--run``, or a
tiny positional Transformer it trains first), warms it up, records the server's RSS, sends
``--requests`` requests of 1 to 32 texts of varied lengths from a few concurrent clients, and
prints RSS after warm-up, after the requests, and the difference (goal: within 100 MB).

    python benchmarks/serve_memory.py                       # trains a tiny run in a temporary folder
    python benchmarks/serve_memory.py --run runs/pt --requests 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from machine import cpu_model, free_port, wait_healthy

WORDS = ("the movie film story actor plot scene good great excellent bad awful boring terrible "
         "wonderful dull time people character director watch really just also even much").split()






def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def random_text(rng: np.random.Generator, max_words: int) -> str:
    # lengths spread over orders of magnitude, like reviews: many short, some long
    n = int(min(max_words, rng.lognormal(mean=3.5, sigma=1.0))) + 1
    return " ".join(rng.choice(WORDS, size=n))


def train_tiny_run(out: Path) -> Path:
    """A small positional Transformer (sequence_length 256) on generated reviews: about a minute on 2 cores."""
    from lexiclass.config import TrainConfig
    from lexiclass.data.dataset import TextDataset
    from lexiclass.training.fit import train

    rng = np.random.default_rng(0)

    def split(n):
        labels = rng.integers(0, 2, size=n).astype(np.int32)
        cue = {0: "bad awful boring terrible dull", 1: "good great excellent wonderful"}
        texts = [random_text(rng, 300) + " " + cue[int(y)] for y in labels]
        return texts, labels

    data = TextDataset(*split(600), *split(100), *split(100), label_names=["neg", "pos"], source="generated")
    config = TrainConfig(model="positional-transformer", max_tokens=2000, sequence_length=256, embed_dim=32,
                         dense_dim=16, num_heads=2, batch_size=32, epochs=1, dataset="generated").validate()
    train(config, out, dataset=data, overwrite=True, verbose=0)
    return out


def start_server(run: Path, port: int, log_path: Path) -> subprocess.Popen:
    code = "import sys; from lexiclass.inference.serve import serve; serve(sys.argv[1], port=int(sys.argv[2]))"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, "-c", code, str(run), str(port)], stdout=open(log_path, "wb"),
                            stderr=subprocess.STDOUT, env=env)




async def send(base: str, bodies: list[list[str]], concurrency: int, label: str, pid: int) -> dict:
    """POST every body from ``concurrency`` clients; count statuses; print progress and RSS every 1000 requests."""
    statuses: dict[int, int] = {}
    todo = iter(enumerate(bodies))
    began = time.perf_counter()

    async def client(c: httpx.AsyncClient):
        for i, texts in todo:  # shared iterator: each request is sent once
            r = await c.post("/predict", json={"texts": texts})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if (i + 1) % 1000 == 0:
                print(f"  {label}: {i + 1} requests, {time.perf_counter() - began:.0f} s, "
                      f"server RSS {rss_mb(pid):.0f} MB", flush=True)

    async with httpx.AsyncClient(base_url=base, timeout=300) as c:
        await asyncio.gather(*(client(c) for _ in range(concurrency)))
    return {"statuses": statuses, "seconds": time.perf_counter() - began}


def make_bodies(n: int, seed: int, max_words: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[random_text(rng, max_words) for _ in range(int(rng.integers(1, 33)))] for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a finished run folder (default: train a tiny one)")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=200, help="requests before the first RSS reading")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-words", type=int, default=400, help="longest text sent, in words")
    args = parser.parse_args()

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]), flush=True)
    print("cpu:", cpu_model(), f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})", flush=True)
    with tempfile.TemporaryDirectory(prefix="lexiclass-serve-memory-") as tmp:
        run = args.run
        if run is None:
            print("training a tiny positional-transformer run ...", flush=True)
            run = train_tiny_run(Path(tmp) / "run")
        port, log_path = free_port(), Path(tmp) / "server.log"
        proc = start_server(run, port, log_path)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(proc, base, log_path)
            warm = asyncio.run(send(base, make_bodies(args.warmup, 1, args.max_words), args.concurrency, "warm-up",
                                    proc.pid))
            time.sleep(1.0)
            before = rss_mb(proc.pid)
            print(f"RSS after warm-up ({args.warmup} requests): {before:.0f} MB", flush=True)
            result = asyncio.run(send(base, make_bodies(args.requests, 2, args.max_words), args.concurrency, "load",
                                      proc.pid))
            time.sleep(1.0)
            after = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    texts = sum(len(b) for b in make_bodies(args.requests, 2, args.max_words))
    print(f"run: {run}")
    print(f"requests: {args.requests} ({texts} texts, 1-32 per request, up to {args.max_words} words), "
          f"{args.concurrency} clients, {result['seconds']:.0f} s; statuses {result['statuses']} "
          f"(warm-up {warm['statuses']})")
    print(f"RSS after warm-up: {before:.0f} MB")
    print(f"RSS after {args.requests} requests: {after:.0f} MB")
    print(f"delta: {after - before:+.0f} MB (goal: within 100 MB)")


if __name__ == "__main__":
    main()
