"""`lexiclass predict` and `export` on a multi-label run, as a user runs them: label sets, not one class."""

from __future__ import annotations

import csv
import io
import json
import sys

import pytest

import lexiclass
from lexiclass.cli import main
from tests.conftest import ANIMALS

TEXTS = ["cat cat dog dog the film", "the movie plot", "bird bird story"]


@pytest.fixture(scope="module")
def run(tiny_multilabel_run):
    return tiny_multilabel_run("tfidf")


def test_predict_json_lines_hold_label_sets(run, capsys):
    assert main(["predict", str(run), *TEXTS]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = lexiclass.load(run).predict(TEXTS)
    assert lines == json.loads(json.dumps(expected))  # the Python API's own dicts, floats as JSON has them
    assert all(set(line) == {"labels", "probabilities"} for line in lines)
    assert set(lines[0]["labels"]) == {"cat", "dog"} and lines[2]["labels"] == ["bird"]
    assert list(lines[0]["probabilities"]) == ANIMALS  # every label, in label order


def test_predict_top_k_keeps_the_whole_label_set(run, capsys):
    assert main(["predict", str(run), TEXTS[0], "--top-k", "1"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert set(line["labels"]) == {"cat", "dog"} and len(line["probabilities"]) == 1
    assert list(line["probabilities"]) == [line["labels"][0]]  # the most probable label, listed first


def test_predict_table_shows_every_label_over_its_threshold(run, capsys):
    assert main(["predict", str(run), *TEXTS, "--format", "table"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == len(TEXTS)
    expected = lexiclass.load(run).predict(TEXTS)
    for row, text, want in zip(rows, TEXTS, expected):
        first = row.split()[0]
        assert first == (",".join(want["labels"]) or "(none)")  # most probable first, joined by commas
        assert row.endswith(text) and all(f"{name}=0." in row or f"{name}=1." in row for name in ANIMALS)
    assert rows[0].split()[0] in ("cat,dog", "dog,cat")


def test_predict_table_from_stdin(run, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("bird bird\n\ndog dog cat cat\n".encode())))
    assert main(["predict", str(run), "-", "--format", "table"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and rows[0].startswith("bird ") and rows[1].split()[0] in ("cat,dog", "dog,cat")


def test_predict_file_through_the_cli(run, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("text\n" + "\n".join(TEXTS) + "\n\n", encoding="utf-8")
    assert main(["predict", str(run), "--input", str(source), "--output", str(tmp_path / "out.csv")]) == 0
    assert "4 rows (1 empty)" in capsys.readouterr().err
    rows = list(csv.DictReader((tmp_path / "out.csv").open(newline="", encoding="utf-8")))
    assert list(rows[0]) == ["row", "text", "labels", *(f"p_{n}" for n in ANIMALS), "empty"]
    assert set(json.loads(rows[0]["labels"])) == {"cat", "dog"} and rows[3]["labels"] == ""


def test_export_says_it_returns_label_decisions(tiny_multilabel_run, tmp_path, capsys):
    assert main(["export", str(tiny_multilabel_run("bow")), "--out", str(tmp_path / "exported")]) == 0
    out = capsys.readouterr().out
    assert "outputs: probabilities float32 (batch, 3), labels bool (batch, 3)" in out, out
    assert "labels (multi-label): bird, cat, dog" in out
    assert (tmp_path / "exported" / "thresholds.json").exists()
