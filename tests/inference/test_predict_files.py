"""`predict_file`: one output row per input row, in order, for every input x output format; atomic output."""

import csv
import io
import json
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lexiclass
from lexiclass.errors import DataError, LexiclassError
from lexiclass.inference.predict_files import predict_file
from tests.conftest import CUES

TEXTS = ["good great excellent film", "", "bad awful boring plot", "   ", "the movie wonderful best",
         "worst dull waste", "\t", "a story with a \"quote\", a comma\tand a tab", "superb loved it"]


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return lexiclass.load(tiny_run("bow"))


def write_input(path, texts, extra=True):
    """``texts`` in ``path``'s format; table formats get an ``n`` column (and ``note``) carried through."""
    rows = [{"n": i * 10, "text": t, "note": f"note {i}"} if extra else {"text": t} for i, t in enumerate(texts)]
    fmt = path.suffix
    if fmt == ".txt":
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    elif fmt in (".csv", ".tsv"):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, list(rows[0]), delimiter="," if fmt == ".csv" else "\t")
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def read_output(path) -> list[dict]:
    if path.suffix in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="," if path.suffix == ".csv" else "\t"))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return pq.read_table(path).to_pylist()


def flag(value) -> bool:
    return value in (True, "true")


def check_predictions(rows, texts, predictor, text_cell=None):
    """Rows align with texts; blank ones are flagged with no label; the rest match predict_proba within 1e-6."""
    assert len(rows) == len(texts)
    names = predictor.label_names
    blank = [not t.strip() for t in texts]
    expected = predictor.predict_proba([t for t, b in zip(texts, blank) if not b])
    got = []
    for row, text, is_blank in zip(rows, texts, blank):
        assert flag(row["empty"]) == is_blank
        if is_blank:
            assert row["label"] in (None, "") and all(row[f"p_{n}"] in (None, "") for n in names)
        else:
            got.append([float(row[f"p_{n}"]) for n in names])
            assert row["label"] == names[int(np.argmax(got[-1]))]
    np.testing.assert_allclose(np.array(got), expected, atol=1e-6)


@pytest.mark.parametrize("out_suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("in_suffix", [".txt", ".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_input_and_output_format(tmp_path, predictor, in_suffix, out_suffix):
    source = write_input(tmp_path / f"in{in_suffix}", TEXTS)
    target = tmp_path / f"out{out_suffix}"
    summary = predict_file(predictor, source, target, chunk_rows=4)  # several chunks, one boundary on a blank
    assert summary["rows"] == len(TEXTS) and summary["empty_rows"] == 3 and summary["output"] == str(target)
    rows = read_output(target)
    check_predictions(rows, TEXTS, predictor)
    assert [int(r["row"]) for r in rows] == list(range(1, len(TEXTS) + 1))
    probs = [f"p_{n}" for n in predictor.label_names]
    if in_suffix == ".txt":  # a line is its text, and the output carries it beside its label
        assert list(rows[0]) == ["row", "text", "label", *probs, "empty"]
        assert [r["text"] for r in rows] == TEXTS
    else:  # the other input columns are carried through unchanged, in input order
        assert list(rows[0]) == ["row", "n", "text", "note", "label", *probs, "empty"]
        assert [r["text"] for r in rows] == TEXTS
        assert [str(r["n"]) for r in rows] == [str(i * 10) for i in range(len(TEXTS))]
        assert rows[3]["note"] == "note 3"


def test_parquet_keeps_column_types(tmp_path, predictor):
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": pa.array([5, 6], pa.int16()), "text": ["good", "bad"],
                             "when": pa.array([1, 2], pa.timestamp("s"))}), source)
    predict_file(predictor, source, tmp_path / "out.parquet", id_column="id")
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert schema.names == ["id", "text", "when", "label", *(f"p_{n}" for n in predictor.label_names), "empty"]
    # (parquet itself stores timestamp[s] as [ms], so compare with the input as read back)
    assert schema.field("when").type == pq.read_schema(source).field("when").type
    assert schema.field("id").type == pa.int16()
    assert schema.field("empty").type == pa.bool_() and schema.field("label").type == pa.string()


@pytest.mark.parametrize("name, content, expected", [
    # A .txt row keeps its line number, blank lines included.
    ("in.txt", "good film\n\nbad film\n  \n", [("1", False), ("2", True), ("3", False), ("4", True)]),
    # A CSV's empty line is a row of empty fields; a multi-line quoted field is one row.
    ("in.csv", 'text\ngood film\n\n"bad\nfilm"\n""\n', [("1", False), ("2", True), ("3", False), ("4", True)]),
])
def test_blank_rows_stay_aligned(tmp_path, predictor, name, content, expected):
    (tmp_path / name).write_text(content, encoding="utf-8")
    predict_file(predictor, tmp_path / name, tmp_path / "out.csv")
    rows = read_output(tmp_path / "out.csv")
    assert [(r["row"], flag(r["empty"])) for r in rows] == expected


def test_id_column_replaces_row_number(tmp_path, predictor):
    source = tmp_path / "in.csv"
    source.write_text("text,review_id,stars\ngood film,r-9,5\n,r-3,1\nbad,r-1,2\n", encoding="utf-8")
    summary = predict_file(predictor, source, tmp_path / "out.jsonl", id_column="review_id")
    rows = read_output(tmp_path / "out.jsonl")
    assert [r["review_id"] for r in rows] == ["r-9", "r-3", "r-1"]
    assert list(rows[0])[:3] == ["review_id", "text", "stars"]  # the id first, the rest in input order
    assert summary["columns"][0] == "review_id" and summary["empty_rows"] == 1


def test_clashing_input_column_is_carried_renamed(tmp_path, predictor):
    # A labelled test file: its 'label' column must not be lost or confused with the prediction.
    source = tmp_path / "in.csv"
    source.write_text("text,label,row\ngreat excellent,pos,a\n", encoding="utf-8")
    summary = predict_file(predictor, source, tmp_path / "out.csv")
    assert summary["renamed"] == {"label": "input_label", "row": "input_row"}
    row = read_output(tmp_path / "out.csv")[0]
    assert (row["row"], row["input_row"], row["input_label"]) == ("1", "a", "pos")


def test_stdin_and_stdout(predictor, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\ufeffgood great\n\nawful bad\n".encode())))
    out = io.StringIO()
    summary = predict_file(predictor, "-", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary["output"] is None and [r["row"] for r in rows] == [1, 2, 3]
    assert [r["text"] for r in rows] == ["good great", "", "awful bad"]  # each line beside its label (BOM dropped)
    check_predictions(rows, ["good great", "", "awful bad"], predictor)


def test_other_encodings(tmp_path, predictor, capsys):
    from lexiclass.cli import main

    texts = ["good great café", "awful bad naïve"]
    source = tmp_path / "in.csv"
    source.write_bytes(("text\n" + "\n".join(texts) + "\n").encode("latin-1"))
    predict_file(predictor, source, tmp_path / "out.csv", encoding="latin-1")
    rows = read_output(tmp_path / "out.csv")
    assert [r["text"] for r in rows] == texts  # written back as UTF-8
    check_predictions(rows, texts, predictor)
    # Through the CLI: the default (UTF-8) names the line; --encoding reads it.
    run = str(predictor.run_dir)
    assert main(["predict", run, "--input", str(source), "--output", str(tmp_path / "o2.jsonl"), "-q"]) == 2
    assert "in.csv, line 2: bytes not valid UTF-8" in capsys.readouterr().err
    assert not (tmp_path / "o2.jsonl").exists()
    assert main(["predict", run, "--input", str(source), "--output", str(tmp_path / "o2.jsonl"), "-q",
                 "--encoding", "latin-1"]) == 0
    assert [r["text"] for r in read_output(tmp_path / "o2.jsonl")] == texts
    assert main(["predict", run, "--input", str(source), "--output", str(tmp_path / "o3.jsonl"), "-q",
                 "--encoding", "utf-16"]) == 2
    assert "cannot be read line by line" in capsys.readouterr().err


def test_long_fields_and_bom(tmp_path, predictor):
    long = "good great " * 20_000  # 220,000 characters: over the csv module's default field limit
    source = tmp_path / "in.csv"
    source.write_bytes("\ufefftext,n\n".encode() + f'"{long}",1\nbad,2\n'.encode())
    predict_file(predictor, source, tmp_path / "out.csv")
    rows = read_output(tmp_path / "out.csv")
    assert rows[0]["text"] == long
    check_predictions(rows, [long, "bad"], predictor)


@pytest.mark.parametrize("out_suffix", [".csv", ".jsonl", ".parquet"])
def test_bad_row_mid_file_leaves_nothing(tmp_path, predictor, out_suffix):
    lines = [json.dumps({"text": f"good film {i}"}) for i in range(50)]
    lines[37] = '{"text": 12}'  # after several chunks have been written
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / f"out{out_suffix}"
    with pytest.raises(DataError, match=r"in\.jsonl, line 38: field 'text' must be text, got int 12"):
        predict_file(predictor, source, target, chunk_rows=8)
    assert os.listdir(tmp_path) == ["in.jsonl"]  # no output and no temporary file

    target.write_bytes(b"previous results")
    with pytest.raises(DataError):
        predict_file(predictor, source, target, chunk_rows=8)
    assert target.read_bytes() == b"previous results"
    assert sorted(os.listdir(tmp_path)) == sorted(["in.jsonl", target.name])


def test_missing_column_names_file_and_columns(tmp_path, predictor):
    source = tmp_path / "reviews.csv"
    source.write_text("body,stars\ngood,5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"reviews\.csv: no column 'text' \(columns: body, stars\)"):
        predict_file(predictor, source, tmp_path / "out.csv")
    with pytest.raises(DataError, match=r"no column 'id' \(columns: body, stars\)"):
        predict_file(predictor, source, tmp_path / "out.csv", text_column="body", id_column="id")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("output, message", [
    ("in.csv", "would overwrite the input"),
    ("out.xlsx", "unsupported output type '.xlsx'"),
    ("sub", "is a folder"),
    ("in.csv/out.csv", "cannot write"),
])
def test_refused_outputs(tmp_path, predictor, output, message):
    write_input(tmp_path / "in.csv", ["good"])
    (tmp_path / "sub").mkdir()
    with pytest.raises(LexiclassError, match=message):
        predict_file(predictor, tmp_path / "in.csv", tmp_path / output)
    assert (tmp_path / "in.csv").read_text().startswith("n,text")


def test_same_file_through_a_link_is_refused(tmp_path, predictor):
    write_input(tmp_path / "in.csv", ["good"])
    os.link(tmp_path / "in.csv", tmp_path / "alias.csv")
    with pytest.raises(LexiclassError, match="would overwrite the input"):
        predict_file(predictor, tmp_path / "in.csv", tmp_path / "alias.csv")


def test_empty_input_gives_header_only(tmp_path, predictor):
    (tmp_path / "in.txt").write_text("", encoding="utf-8")
    for suffix in (".csv", ".parquet"):
        summary = predict_file(predictor, tmp_path / "in.txt", tmp_path / f"out{suffix}")
        assert summary["rows"] == 0
    assert (tmp_path / "out.csv").read_text() == "row,text,label," + ",".join(
        f"p_{n}" for n in predictor.label_names) + ",empty\n"
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0


def test_cue_words_give_expected_labels(tmp_path, predictor):
    texts = [" ".join(CUES["pos"]), " ".join(CUES["neg"])]
    write_input(tmp_path / "in.txt", texts)
    predict_file(predictor, tmp_path / "in.txt", tmp_path / "out.csv")
    assert [r["label"] for r in read_output(tmp_path / "out.csv")] == ["pos", "neg"]


def test_one_progress_bar_for_the_file(tmp_path, predictor, capsys):
    # 1,000 texts in one chunk are many model batches: the predictor's own bar would show up per chunk.
    write_input(tmp_path / "in.txt", ["good film"] * 1000)
    predict_file(predictor, tmp_path / "in.txt", tmp_path / "out.csv", chunk_rows=1000)
    err = capsys.readouterr().err
    assert "predicting " + str(tmp_path / "in.txt") in err
    assert "batch" not in err
