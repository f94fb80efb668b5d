"""The commands that wrap other floors: tune, export, predict --engine ray, serve --examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lexiclass.cli import main
from tests.conftest import write_csv


def _csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path, n=160, seed=9)


def test_tune_locally_writes_the_table_and_the_best_run(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text("tfidf_c = [0.1, 10.0]\n")
    code = main(["tune", "--model", "tfidf", "--dataset", _csv(tmp_path), "--space", space, "--trials", "2",
                 "--engine", "local", "--out", tmp_path / "search", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "2 trials" in out.out and "best trial" in out.out
    assert (tmp_path / "search" / "trials.md").exists()
    info = json.loads((tmp_path / "search" / "best" / "run.json").read_text())
    assert info["status"] == "complete" and info["model"] == "tfidf"


def test_export_savedmodel_through_the_cli(tiny_run, tmp_path, capsys):
    code = main(["export", tiny_run("bow"), "--out", tmp_path / "exported", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (tmp_path / "exported" / "saved_model.pb").exists() and "savedmodel" in out.out
    code = main(["export", tiny_run("bow"), "--out", tmp_path / "exported"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # default suite < 10 min; the matrix subset exports ONNX through the CLI
def test_export_onnx_through_the_cli_says_what_it_wrote_and_nothing_of_tf2onnx(tiny_run, tmp_path):
    script = Path(sys.executable).parent / "lexiclass"  # a process of its own: logging as a user's shell sees it
    done = subprocess.run([str(script), "export", str(tiny_run("transformer")), "--format", "onnx", "--out",
                           str(tmp_path / "onnx")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "input: token_ids int32 (batch, tokens)" in done.stdout and "(batch, 2)" in done.stdout, done.stdout
    assert "einsum" not in done.stderr and "After optimization" not in done.stderr, done.stderr


def test_ray_engine_needs_files(tiny_run, capsys):
    assert main(["predict", tiny_run("bow"), "a text", "--engine", "ray"]) == 2
    assert "--engine ray needs --input" in capsys.readouterr().err


def test_serve_examples_file_must_be_readable(tiny_run, tmp_path, capsys):
    assert main(["serve", tiny_run("bow"), "--examples", tmp_path / "none.txt"]) == 2
    assert "--examples" in capsys.readouterr().err
