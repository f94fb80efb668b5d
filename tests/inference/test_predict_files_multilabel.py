"""`predict_file` with a multi-label run: a ``labels`` column of label sets instead of ``label``, in every format."""

import csv
import io
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lexiclass
from lexiclass.inference.predict_files import predict_file
from lexiclass.inference.predictor import Predictor
from tests.conftest import ANIMALS

TEXTS = ["the cat and the cat", "", "dog dog film", "   ", "bird story bird cat cat", "the movie plot",
         "a \"quoted\", comma\tand tab dog", "\t", "cat dog bird"]
PROBS = [f"p_{name}" for name in ANIMALS]


@pytest.fixture(scope="module")
def predictor(tiny_multilabel_run):
    return lexiclass.load(tiny_multilabel_run("tfidf"))


def write_input(path, texts):
    rows = [{"n": i, "text": t} for i, t in enumerate(texts)]
    if path.suffix == ".txt":
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    elif path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, ["n", "text"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_output(path) -> list[dict]:
    """Rows as written, with CSV/TSV cells decoded: ``labels`` from its JSON list, probabilities as floats."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="," if path.suffix == ".csv" else "\t"))
    for row in rows:
        row["labels"] = json.loads(row["labels"]) if row["labels"] else None
        row["empty"] = row["empty"] == "true"
        row.update({name: float(row[name]) if row[name] else None for name in PROBS})
    return rows


def check_label_sets(rows, texts, predictor):
    """Each row holds lexiclass's own label set (most probable first) and probabilities; blank rows hold nulls."""
    assert len(rows) == len(texts)
    kept = [t for t in texts if t.strip()]
    expected = iter(predictor.predict(kept))
    for row, text in zip(rows, texts):
        assert row["empty"] == (not text.strip())
        if row["empty"]:
            assert row["labels"] is None and all(row[name] is None for name in PROBS)
            continue
        want = next(expected)
        assert row["labels"] == want["labels"]
        np.testing.assert_allclose([row[f"p_{n}"] for n in ANIMALS], [want["probabilities"][n] for n in ANIMALS],
                                   atol=1e-6)
    assert any(len(r["labels"]) > 1 for r in rows if r["labels"])  # sets of two: not a single label in disguise


@pytest.mark.parametrize("out_suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_output_format_has_label_sets(tmp_path, predictor, out_suffix):
    source = write_input(tmp_path / "in.csv", TEXTS)
    target = tmp_path / f"out{out_suffix}"
    summary = predict_file(predictor, source, target, chunk_rows=4)
    assert summary["rows"] == len(TEXTS) and summary["empty_rows"] == 3
    assert summary["columns"] == ["row", "n", "text", "labels", *PROBS, "empty"]
    rows = read_output(target)
    assert list(rows[0]) == summary["columns"] and "label" not in rows[0]
    check_label_sets(rows, TEXTS, predictor)


def test_csv_cell_is_a_json_list_and_parquet_a_list_of_strings(tmp_path, predictor):
    source = write_input(tmp_path / "in.txt", ["cat dog cat dog", ""])
    predict_file(predictor, source, tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,text,labels," + ",".join(PROBS) + ",empty"
    assert lines[1].startswith('1,cat dog cat dog,"[""') and lines[2] == "2,,,,,,true"  # a quoted JSON list; no cells
    assert set(json.loads(next(csv.reader([lines[1]]))[2])) == {"cat", "dog"}
    predict_file(predictor, source, tmp_path / "out.parquet")
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert schema.field("labels").type == pa.list_(pa.string())
    assert all(schema.field(name).type == pa.float64() for name in PROBS)


def test_empty_input_gives_the_multilabel_header(tmp_path, predictor):
    (tmp_path / "in.txt").write_text("", encoding="utf-8")
    predict_file(predictor, tmp_path / "in.txt", tmp_path / "out.csv")
    predict_file(predictor, tmp_path / "in.txt", tmp_path / "out.parquet")
    assert (tmp_path / "out.csv").read_text() == "row,text,labels," + ",".join(PROBS) + ",empty\n"
    assert pq.read_schema(tmp_path / "out.parquet").field("labels").type == pa.list_(pa.string())


def test_stdin_to_stdout_json_lines(predictor, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("dog cat dog\n\nbird bird\n".encode())))
    out = io.StringIO()
    predict_file(predictor, "-", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["row"] for r in rows] == [1, 2, 3] and list(rows[0]) == ["row", "text", "labels", *PROBS, "empty"]
    check_label_sets(rows, ["dog cat dog", "", "bird bird"], predictor)


def test_training_file_labels_column_is_carried_renamed(tmp_path, predictor):
    """A labelled multi-label JSONL: its own 'labels' list is kept apart from the prediction."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "cat cat dog dog", "labels": ["cat", "dog"]}) + "\n", encoding="utf-8")
    summary = predict_file(predictor, source, tmp_path / "out.jsonl")
    assert summary["renamed"] == {"labels": "input_labels"}
    row = read_output(tmp_path / "out.jsonl")[0]
    assert row["input_labels"] == ["cat", "dog"] and set(row["labels"]) == {"cat", "dog"}


def test_a_text_may_get_no_label_when_at_least_one_is_off(tmp_path, predictor):
    """Texts naming no animal under thresholds of 0.99: without at_least_one their sets are empty ([] in CSV),
    not null (null is an empty row); with it each gets its most probable label."""
    texts = ["the movie", "", "plot story time"]
    assert predictor.predict_proba([texts[0], texts[2]]).max() < 0.99
    strict = Predictor(predictor.classifier, predictor.config, predictor.label_names, run_dir=predictor.run_dir,
                       thresholds={"thresholds": [0.99] * 3, "at_least_one": False})
    source = write_input(tmp_path / "in.txt", texts)
    predict_file(strict, source, tmp_path / "out.csv")
    rows = read_output(tmp_path / "out.csv")
    assert [r["labels"] for r in rows] == [[], None, []]
    lenient = Predictor(predictor.classifier, predictor.config, predictor.label_names, run_dir=predictor.run_dir,
                        thresholds={"thresholds": [0.99] * 3, "at_least_one": True})
    predict_file(lenient, source, tmp_path / "out.jsonl")
    best = [ANIMALS[int(np.argmax(p))] for p in predictor.predict_proba([texts[0], texts[2]])]
    assert [r["labels"] for r in read_output(tmp_path / "out.jsonl")] == [[best[0]], None, [best[1]]]
