"""docs/support-matrix.md is what the commands do: every cell is backed by a real run (tests/support_matrix.py).

- default suite: the document parses, lists every combination and renders back to itself; a subset
  of the combinations (each family, precision and command at least once) runs and must give exactly
  the document's outcome in every cell it covers.
- ``-m matrix``: the whole matrix runs, workers side by side, then every ``predict --engine ray`` cell
  on the runs they trained, one at a time (Ray's actors, started at low priority, waited for CPU behind busy
  workers); the document must equal what it produced (``LEXICLASS_WRITE_MATRIX=1`` rewrites it instead).
Combinations run in a worker process per backend (Keras fixes its backend at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support_matrix import (COMMANDS, KERAS_FAMILIES, TEXT_FAMILIES, Combination, combinations, commands_for,
                                  no_run, parse, render)

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "support-matrix.md"

# (family, precision, tokenizer, backend, labels, commands): each family, precision and command at least once,
# every Keras family's bfloat16 path included, one cell each on JAX and PyTorch, and multi-label runs of one
# n-gram and one Keras family (tests/inference/test_explain.py explains a multi-label Transformer), in a few minutes (the backends' workers run side by side). The whole matrix
# (-m matrix) crosses tokenizers, backends and labels with everything.
COVERED_ELSEWHERE = {"ray": "tests/inference/test_ray_predict.py (row for row against local scoring)"}
DEFAULT_SUBSET = [
    ("bow", "float32", "word", "tensorflow", "single", [c for c in COMMANDS if c not in COVERED_ELSEWHERE]),
    ("positional-transformer", "bfloat16", "word", "tensorflow", "single",
     ["train", "explain", "serve-explain", "page", "savedmodel", "onnx"]),
    *[(family, "bfloat16", "word", "tensorflow", "single", ["train", "predict"])
      for family in ("bow", "bilstm", "glove-bilstm", "transformer")],
    *[(family, "-", "word", "tensorflow", "single", ["train", "predict"]) for family in TEXT_FAMILIES],
    ("bow", "float32", "word", "jax", "single", ["train", "predict", "savedmodel"]),
    ("transformer", "float32", "word", "torch", "single", ["train", "explain"]),  # its attention maps once failed
    ("tfidf", "-", "word", "tensorflow", "multi", ["train", "predict-file", "serve-explain", "page"]),
    ("bow", "float32", "word", "tensorflow", "multi", ["train", "python", "onnx"]),
]


def run_jobs(jobs: list, work: Path, timeout: int, tensorflow_workers: int = 2,
             side_by_side: bool = True, phase: str = "") -> dict[tuple, dict[str, str]]:
    """Run ``jobs`` in worker processes: one per backend (Keras fixes its backend at import), and the TensorFlow
    jobs, the most, dealt to ``tensorflow_workers`` of them (a tiny run keeps about one core busy). They run side by
    side, or one after another (``side_by_side=False``). Returns {(family, precision, tokenizer, backend,
    labels): outcomes}. ``phase`` prefixes the workers' files in ``work``."""
    lanes: dict[str, list] = {}
    for index, job in enumerate(j for j in jobs if j[3] == "tensorflow"):
        lanes.setdefault(f"{phase}tensorflow-{index % tensorflow_workers}", []).append(job)
    for job in jobs:
        if job[3] != "tensorflow":
            lanes.setdefault(phase + job[3], []).append(job)
    workers = {}
    for lane, mine in lanes.items():
        jobs_file, out = work / f"{lane}-jobs.json", work / f"{lane}-out.json"
        jobs_file.write_text(json.dumps(mine))
        log = open(work / f"{lane}.log", "w")
        workers[lane] = (subprocess.Popen([sys.executable, "-m", "tests.matrix_worker", str(out), str(work),
                                           str(jobs_file)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}), out, log)
        if not side_by_side:
            workers[lane][0].wait(timeout=timeout)
    results = {}
    for lane, (worker, out, log) in workers.items():
        try:
            code = worker.wait(timeout=timeout)
        finally:
            worker.kill()
            log.close()
        assert code == 0, (work / f"{lane}.log").read_text()[-3000:]
        results.update({tuple(row[:5]): row[5] for row in json.loads(out.read_text())})
    return results


def test_document_lists_every_combination_and_renders_back_to_itself():
    text = DOCUMENT.read_text(encoding="utf-8")
    table = parse(text)
    expected = {c.key for c in combinations()}
    assert set(table) == expected
    assert render({Combination(*key): outcomes for key, outcomes in table.items()}) == text
    cells = [cell for outcomes in table.values() for cell in outcomes.values()]
    assert not [cell for cell in cells if cell.startswith("FAILED")], "a cell of the document is a failure"
    assert {family for family, *_ in table} == set(KERAS_FAMILIES) | set(TEXT_FAMILIES)


def test_the_default_subset_covers_every_family_precision_and_command():
    assert {job[0] for job in DEFAULT_SUBSET} == set(KERAS_FAMILIES) | set(TEXT_FAMILIES)
    assert {job[1] for job in DEFAULT_SUBSET} == {"float32", "bfloat16", "-"}
    assert {command for job in DEFAULT_SUBSET for command in job[5]} | set(COVERED_ELSEWHERE) == set(COMMANDS)
    assert {job[4] for job in DEFAULT_SUBSET} == {"single", "multi"}
    assert {job[0] for job in DEFAULT_SUBSET if job[1] == "bfloat16"} == set(KERAS_FAMILIES)


def test_default_subset_gives_the_documented_outcomes(tmp_path):
    documented = parse(DOCUMENT.read_text(encoding="utf-8"))
    got = run_jobs(DEFAULT_SUBSET, tmp_path, timeout=1200)
    differences = [f"{'/'.join(key)} {command}: ran {outcome!r}, documented {documented[key][command]!r}"
                   for key, outcomes in got.items() for command, outcome in outcomes.items()
                   if outcome != documented[key][command] and not outcome.startswith("not run: no Chromium")]
    assert not differences, "\n".join(differences)


def run_whole_matrix(work: Path) -> dict[tuple, dict[str, str]]:
    """Every combination's commands, side by side; then the Ray cells, one at a time, on the runs trained."""
    planned = {c.key: commands_for(c) for c in combinations()}
    got = run_jobs([[*key, [c for c in commands if c != "ray"]] for key, commands in planned.items()], work,
                   timeout=2700)
    ray_jobs = [[*key, ["ray"]] for key, commands in planned.items() if "ray" in commands and got[key]["train"] == "ok"]
    for key, outcomes in run_jobs(ray_jobs, work, timeout=900, tensorflow_workers=1, phase="ray-").items():
        got[key].update(outcomes)
    for key, commands in planned.items():
        if "ray" in commands and got[key]["train"] != "ok":
            got[key]["ray"] = no_run(got[key]["train"])
    return {key: got[key] for key in planned}  # the document's row order, whichever worker ran a row


@pytest.mark.matrix
def test_whole_matrix_gives_the_document(tmp_path):
    got = run_whole_matrix(tmp_path)
    text = render({Combination(*key): outcomes for key, outcomes in got.items()})
    if os.environ.get("LEXICLASS_WRITE_MATRIX"):
        DOCUMENT.write_text(text, encoding="utf-8")
    failures = [f"{'/'.join(key)} {command}: {outcome}" for key, outcomes in got.items()
                for command, outcome in outcomes.items() if outcome.startswith("FAILED")]
    assert not failures, "\n".join(failures)
    assert text == DOCUMENT.read_text(encoding="utf-8"), "docs/support-matrix.md differs from the runs"
