"""The command line as a user runs it: exit codes, printed results, clear errors."""

import csv
import io
import json
import subprocess
import sys

import pytest

from lexiclass.cli import main
from tests.conftest import make_texts
from tests.data.imdb_fixture import build_imdb_tar

CLASSES = ["neg", "pos", "mixed", "odd"]


def test_data_imdb_prints_split_sizes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEXICLASS_HOME", str(tmp_path / "home"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(build_imdb_tar(per_folder=12500 // 500))
    # A small archive fails the full-size check with a message naming the folder...
    assert main(["data", "imdb", "--imdb-archive", str(archive)]) == 2
    assert "train/neg has 25 reviews, expected 12,500" in capsys.readouterr().err


@pytest.fixture
def four_class_files(tmp_path):
    texts, labels = make_texts(160, CLASSES, seed=4)
    rows = [(t, CLASSES[y]) for t, y in zip(texts, labels)]
    with open(tmp_path / "d.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"text": t, "label": l}) for t, l in rows))
    for i, (t, l) in enumerate(rows):
        (tmp_path / "folder" / l).mkdir(parents=True, exist_ok=True)
        (tmp_path / "folder" / l / f"{i}.txt").write_text(t)
    return tmp_path


@pytest.mark.parametrize("source", ["d.csv", "d.jsonl", "folder"])
def test_four_class_datasets_load_and_train_through_the_same_command(four_class_files, source, capsys):
    path = four_class_files / source
    assert main(["data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "train: 104  val: 24  test: 32" in out and "classes (4)" in out
    run = four_class_files / f"run-{source}"
    code = main(["train", "--model", "bow", "--dataset", str(path), "--out", str(run), "--epochs", "3",
                 "--max-tokens", "300", "--hidden-units", "16", "--learning-rate", "0.01"])
    assert code == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out
    assert json.loads((run / "labels.json").read_text()) == sorted(CLASSES)
    assert main(["evaluate", str(run), "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == metrics["stored_accuracy"]
    assert 0.0 <= metrics["expected_calibration_error"] <= 1.0
    assert main(["evaluate", str(run)]) == 0
    assert "expected calibration error 0." in capsys.readouterr().out


def test_predict_json_table_and_stdin(tiny_run, capsys, monkeypatch):
    run = str(tiny_run("bilstm"))
    assert main(["predict", run, "great superb wonderful", "awful terrible worst"]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [l["label"] for l in lines] == ["pos", "neg"]
    assert set(lines[0]["probabilities"]) == {"neg", "pos"}
    # stdin: one row per line, blank lines kept (flagged) so rows line up with the input
    stdin = io.TextIOWrapper(io.BytesIO("great best\n\nboring dull\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["predict", run, "-"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["row"], r["label"], r["empty"]) for r in rows] == [(1, "pos", False), (2, None, True), (3, "neg", False)]
    # --format table on stdin: the table, each text beside its label (it used to print JSON lines)
    stdin = io.TextIOWrapper(io.BytesIO("great best\n\nboring dull\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["predict", run, "-", "--format", "table"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table] == ["pos", "neg"]
    assert table[0].endswith("great best") and table[1].endswith("boring dull") and "neg=" in table[0]


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nope"), "text"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lexiclass predict: error: run directory") and "Traceback" not in err
    (tmp_path / "c.toml").write_text("epoch = 3\n")
    assert main(["train", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "unknown setting 'epoch' (did you mean 'epochs'?)" in capsys.readouterr().err
    assert main(["train", "--epochs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "epochs must be in [1, 10,000], got 0" in capsys.readouterr().err


def test_console_script_is_installed():
    from pathlib import Path

    script = Path(sys.executable).parent / "lexiclass"  # installed beside the interpreter running the tests
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("lexiclass ")


def test_nbsvm_ensemble_trains_on_a_four_class_csv_and_predicts(four_class_files, capsys):
    run = four_class_files / "run-nbsvm"
    assert main(["train", "--model", "nbsvm-ensemble", "--dataset", str(four_class_files / "d.csv"),
                 "--out", str(run)]) == 0
    assert "test accuracy:" in capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8 and len(metrics["confusion_matrix"]) == 4
    assert main(["predict", str(run), "weird bizarre surreal quirky film"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == "odd" and set(result["probabilities"]) == set(CLASSES)


def test_rates_print_as_people_read_them():
    """`predict --engine ray` printed "(0 rows/s ...)" for two rows behind Ray's start-up."""
    from lexiclass.cli.commands import rate_text

    assert [rate_text(x) for x in (0.1333, 3.5, 12345.6, None)] == ["0.13", "3.5", "12,346", "?"]
