"""What the process may use: glibc's malloc kept from handing TensorFlow's freed tensors back to the kernel."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# A fresh process allocates and frees 60 MB in three 20 MB arrays, five times: how many pages it faults in after
# the first round. glibc trims the freed heap top (over twice its dynamic mmap threshold) every round, so every
# round faults its pages in again; kept, the rounds after the first reuse the same pages.
ROUNDS = """
import json, resource, sys
import numpy as np
from lexiclass.resources import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "kept" else None
def round_():
    arrays = [np.ones(5 * 2**20, dtype=np.float32) for _ in range(3)]  # 3 x 20 MB, touched
    del arrays
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    round_()
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _faults(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_keep_freed_memory_stops_refaulting_the_same_pages():
    default, kept = _faults("default"), _faults("kept")
    assert kept["kept"] is True  # every mallopt call took
    # the waste is there without it (fewer faults than 4 KB pages: numpy asks for huge pages where it can) ...
    assert default["faults"] > 1000, default
    assert kept["faults"] * 20 < default["faults"], (kept, default)  # ... and gone with it


def test_the_cli_keeps_freed_memory_before_tensorflow_starts(monkeypatch, tmp_path):
    import lexiclass.cli as cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("malloc"))
    monkeypatch.setattr(cli, "import_tensorflow_quietly", lambda *a, **k: calls.append("tensorflow"))
    cli.main(["train", "--model", "bow", "--dataset", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r")])
    assert calls[:2] == ["malloc", "tensorflow"]
    calls.clear()
    cli.main(["train", "--model", "nbsvm", "--dataset", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r")])
    assert calls == []  # n-gram models: no TensorFlow, glibc left as it is
