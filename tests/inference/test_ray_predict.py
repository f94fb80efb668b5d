"""The Ray engine of file prediction: same rows, ids, probabilities and blank flags as the local engine."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lexiclass.errors import LexiclassError
from tests.conftest import make_texts

pytestmark = pytest.mark.timeout(300)


def _inputs(tmp_path, n=3000):
    """A CSV with string ids (leading zeros), blank and whitespace texts, and a JSONL with nulls."""
    import csv

    texts, labels = make_texts(n, ["neg", "pos"], seed=7)
    texts = list(texts)
    for i in range(0, n, 97):
        texts[i] = "" if i % 2 else "   "
    csv_path = tmp_path / "part-a.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "source"])
        for i, text in enumerate(texts):
            writer.writerow([f"{i:06d}", text, "a"])
    jsonl_path = tmp_path / "part-b.jsonl"
    with open(jsonl_path, "w", encoding="utf-8") as handle:
        for i, text in enumerate(texts[:700]):
            handle.write(json.dumps({"id": f"b{i}", "text": None if i % 50 == 3 else text, "n": i}) + "\n")
    return csv_path, jsonl_path


def _read(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("model", ["bow", pytest.param("nbsvm", marks=pytest.mark.slow)])  # nbsvm: the matrix's
def test_ray_scoring_equals_local_row_for_row(ray_local, tiny_run, tmp_path, model, capfd):
    import re

    import lexiclass
    from lexiclass.inference.predict_files import predict_file
    from lexiclass.inference.ray_predict import predict_files_ray

    run = tiny_run(model)
    csv_path, jsonl_path = _inputs(tmp_path)
    info = predict_files_ray(run, str(tmp_path / "part-*"), tmp_path / "out", id_column="id", workers=2,
                             chunk_rows=256)
    assert info["rows"] == 3700 and info["workers"] == 2 and len(info["files"]) == 2
    # Ray's C++ log lines (`[time E pid tid] core_worker.cc: ...`) once reached the user on every command
    assert not re.search(r"^\[[^]]* [EWF] \d+ \d+\]", capfd.readouterr().err, re.MULTILINE)
    predictor = lexiclass.load(run)
    for source in (csv_path, jsonl_path):
        local = tmp_path / f"local-{source.stem}.parquet"
        predict_file(predictor, source, local, id_column="id")
        expected, got = _read(local), _read(tmp_path / "out" / f"{source.stem}.parquet")
        assert len(got) == len(expected)
        assert [r["id"] for r in got] == [r["id"] for r in expected]  # same ids, same order, "000123" kept
        assert [r["empty"] for r in got] == [r["empty"] for r in expected]
        assert sum(r["empty"] for r in got) > 0
        assert [r["label"] for r in got] == [r["label"] for r in expected]
        assert list(got[0]) == list(expected[0])  # same columns, same order
        for name in ("p_neg", "p_pos"):
            a = np.array([np.nan if r[name] is None else r[name] for r in got])
            b = np.array([np.nan if r[name] is None else r[name] for r in expected])
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
        assert [r.get("source", r.get("n")) for r in got] == [r.get("source", r.get("n")) for r in expected]


@pytest.mark.slow  # default suite < 10 min
def test_row_numbers_and_other_formats(ray_local, tiny_run, tmp_path):
    """A .txt input (ids are line numbers, blank lines kept) written as CSV equals the local CSV byte for byte."""
    import lexiclass
    from lexiclass.inference.predict_files import predict_file
    from lexiclass.inference.ray_predict import predict_files_ray

    run = tiny_run("nbsvm")
    texts, _ = make_texts(500, ["neg", "pos"], seed=3)
    lines = [t if i % 40 else "" for i, t in enumerate(texts)]
    source = tmp_path / "reviews.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    predict_files_ray(run, source, tmp_path / "out", output_format="csv", workers=1, chunk_rows=64)
    local = tmp_path / "local.csv"
    predict_file(lexiclass.load(run), source, local)
    got = (tmp_path / "out" / "reviews.csv").read_text(encoding="utf-8").splitlines()
    want = local.read_text(encoding="utf-8").splitlines()
    assert got[0] == want[0] == "row,text,label,p_neg,p_pos,empty"  # a .txt line is carried as its text
    assert len(got) == len(want) == 501
    for g, w, line in zip(csv.reader(got[1:]), csv.reader(want[1:]), lines):
        assert g[0] == w[0] and g[1] == w[1] == line and g[2] == w[2] and g[-1] == w[-1]
        if g[3]:
            np.testing.assert_allclose([float(x) for x in g[3:5]], [float(x) for x in w[3:5]], atol=1e-6)


@pytest.mark.slow  # default suite < 10 min; Ray reads with the local reader
def test_other_encodings_are_read_as_locally(ray_local, tiny_run, tmp_path):
    """A cp949 CSV with Korean text: the CLI's --encoding reaches the Ray read and write stages."""
    import lexiclass
    from lexiclass.cli import main
    from lexiclass.inference.predict_files import predict_file

    run = tiny_run("nbsvm")
    texts, _ = make_texts(300, ["neg", "pos"], seed=5)
    source = tmp_path / "korean.csv"
    source.write_bytes(("id,text\n" + "".join(f"{i},영화 {t}\n" for i, t in enumerate(texts))).encode("cp949"))
    assert main(["predict", str(run), "--engine", "ray", "--input", str(source), "--output", str(tmp_path / "out"),
                 "--id-column", "id", "--encoding", "cp949", "--workers", "1"]) == 0
    local = tmp_path / "local.parquet"
    predict_file(lexiclass.load(run), source, local, id_column="id", encoding="cp949")
    got, want = _read(tmp_path / "out" / "korean.parquet"), _read(local)
    assert [r["text"] for r in got] == [r["text"] for r in want] == [f"영화 {t}" for t in texts]
    assert [r["label"] for r in got] == [r["label"] for r in want]
    np.testing.assert_allclose([r["p_pos"] for r in got], [r["p_pos"] for r in want], atol=1e-6, rtol=0)
    with pytest.raises(LexiclassError, match=r"korean\.csv, line 2: bytes not valid UTF-8"):
        from lexiclass.inference.ray_predict import predict_files_ray

        predict_files_ray(run, source, tmp_path / "out2")  # checked before Ray starts any work


def test_user_errors_are_one_line(ray_local, tiny_run, tmp_path):
    from lexiclass.inference.ray_predict import predict_files_ray

    run = tiny_run("nbsvm")
    with pytest.raises(LexiclassError, match="no file matches"):
        predict_files_ray(run, str(tmp_path / "nothing-*.csv"), tmp_path / "out")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\n1,hello\n", encoding="utf-8")
    with pytest.raises(LexiclassError, match="no column 'text'"):
        predict_files_ray(run, bad, tmp_path / "out")
    broken = tmp_path / "broken.csv"
    broken.write_text("id,text\n1,fine\n" + "2,ok\n" * 3000 + "3,too,many\n", encoding="utf-8")
    with pytest.raises(LexiclassError) as caught:
        predict_files_ray(run, broken, tmp_path / "out", workers=1)
    assert "line 3003" in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out" / "broken.parquet").exists()


def test_missing_extra_message(without_ray, tiny_run, tmp_path):
    from lexiclass.inference import ray_predict

    with pytest.raises(LexiclassError) as caught:
        ray_predict.predict_files_ray(tiny_run("nbsvm"), tmp_path / "x.csv", tmp_path / "out")
    message = str(caught.value)
    assert "pip install 'lexiclass[ray]'" in message and "\n" not in message


@pytest.mark.slow  # default suite < 10 min; the matrix's multi-label ray cells run every family
def test_multilabel_run_writes_the_local_label_sets(ray_local, tiny_multilabel_run, tmp_path):
    """A multi-label run: the same ``labels`` column (label sets, decided by the run's thresholds in the write
    tasks) and probabilities as the local engine, row for row."""
    import lexiclass
    from lexiclass.inference.predict_files import predict_file
    from lexiclass.inference.ray_predict import predict_files_ray
    from tests.conftest import make_multilabel_texts

    run = tiny_multilabel_run("tfidf")
    texts, _ = make_multilabel_texts(600, seed=11)
    texts = [t if i % 37 else "  " for i, t in enumerate(texts)]
    source = tmp_path / "tags.jsonl"
    source.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                      encoding="utf-8")
    predictor = lexiclass.load(run)
    predict_files_ray(run, source, tmp_path / "out", id_column="id", workers=2, chunk_rows=128)
    predict_file(predictor, source, tmp_path / "local.parquet", id_column="id")
    got, want = _read(tmp_path / "out" / "tags.parquet"), _read(tmp_path / "local.parquet")
    assert list(got[0]) == list(want[0]) == ["id", "text", "labels", "p_bird", "p_cat", "p_dog", "empty"]
    assert [r["id"] for r in got] == [r["id"] for r in want] and [r["empty"] for r in got] == [r["empty"] for r in want]
    assert [r["labels"] for r in got] == [r["labels"] for r in want]
    assert [r["labels"] for r in want] == [None if not t.strip() else p["labels"]
                                           for t, p in zip(texts, predictor.predict(texts))]
    assert sum(len(r["labels"] or []) > 1 for r in got) > 50  # sets of two among them
    for name in ("p_bird", "p_cat", "p_dog"):
        a = np.array([np.nan if r[name] is None else r[name] for r in got])
        b = np.array([np.nan if r[name] is None else r[name] for r in want])
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.slow  # default suite < 10 min: a second Ray start
def test_an_onnx_export_scores_on_ray_as_locally(ray_local, tiny_run, tmp_path):
    """An export folder is shipped to the actors as a run folder is; they predict under ONNX Runtime."""
    import lexiclass
    from lexiclass.inference.export import export_run
    from lexiclass.inference.predict_files import predict_file
    from lexiclass.inference.ray_predict import predict_files_ray

    export_run(tiny_run("positional-transformer"), tmp_path / "export", "onnx")
    csv_path, _ = _inputs(tmp_path, n=600)
    info = predict_files_ray(tmp_path / "export", str(csv_path), tmp_path / "out", id_column="id", workers=2,
                             chunk_rows=128)
    assert info["rows"] == 600 and info["workers"] == 2
    predict_file(lexiclass.load(tmp_path / "export"), csv_path, tmp_path / "local.parquet", id_column="id")
    expected, got = _read(tmp_path / "local.parquet"), _read(tmp_path / "out" / "part-a.parquet")
    assert [r["id"] for r in got] == [r["id"] for r in expected] and list(got[0]) == list(expected[0])
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    for name in ("p_neg", "p_pos"):  # other batches than the local engine's: float32 sums in another order
        a = np.array([np.nan if r[name] is None else r[name] for r in got])
        b = np.array([np.nan if r[name] is None else r[name] for r in expected])
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_a_damaged_export_is_refused_before_ray_starts(tiny_run, tmp_path):
    """A folder with export.json but no model.onnx (or another format's) is one line, without starting Ray."""
    from lexiclass.inference.ray_predict import pack_run

    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "export.json").write_text(json.dumps({"format": "savedmodel"}))
    with pytest.raises(LexiclassError, match="is a savedmodel export: lexiclass predicts with run folders and ONNX"):
        pack_run(tmp_path / "export")
    (tmp_path / "export" / "export.json").write_text(json.dumps({"format": "onnx"}))
    with pytest.raises(LexiclassError, match="no config.json, vectorizer.json, model.onnx; this export was made"):
        pack_run(tmp_path / "export")
