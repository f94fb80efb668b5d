"""Slow checks on the real offline IMDB archive (run by .ci/run with `-m slow`)."""

import json

import pytest

from lexiclass.cli import main

pytestmark = pytest.mark.slow


def test_data_imdb_prints_the_book_split(shared_imdb_archive, capsys):
    assert main(["data", "imdb", "--imdb-archive", shared_imdb_archive]) == 0
    assert "train: 20000  val: 5000  test: 25000" in capsys.readouterr().out


def test_quick_positional_transformer_run_learns_and_reloads(shared_imdb_archive, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "positional-transformer", "--imdb-archive", shared_imdb_archive,
                 "--limit", "2000", "--epochs", "2", "--out", str(run)]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["data_sizes"] == {"train": 2000, "val": 500, "test": 2000}
    assert info["test_accuracy"] > 0.6  # two epochs on 2,000 reviews: clearly better than chance
    capsys.readouterr()
    assert main(["evaluate", str(run), "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == metrics["stored_accuracy"] == info["test_accuracy"]
