"""What every benchmark prints beside its numbers, and the small helpers the server benchmarks share.

Speed on these machines means something only as a ratio against a baseline in the same run,
with the CPU it ran on: `describe_cpu()` gives the model and the flags that matter for the
Keras paths (AVX-512, AVX512-BF16, AMX).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def cpu_flags(wanted=("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")) -> list[str]:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    present = set(flags.split(":", 1)[1].split())
    return [flag for flag in wanted if flag in present]


def describe_cpu() -> str:
    flags = ", ".join(cpu_flags()) or "none of avx512f/avx512_bf16/amx"
    return f"{cpu_model()} x {os.cpu_count()} ({flags}); load average {os.getloadavg()[0]:.1f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, base: str, log_path: Path, timeout: float = 300.0) -> None:
    """Wait until the server started as ``proc`` answers ``base/health`` with 200; exit with its log if it dies."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with code {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    sys.exit(f"the server did not answer /health within {timeout:.0f} s")
