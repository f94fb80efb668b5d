import json

import numpy as np
import pytest

from lexiclass.data.user_files import load_user_dataset
from lexiclass.errors import DataError
from tests.conftest import make_texts

CLASSES = ["neg", "pos", "mixed", "odd"]


def write_csv(path, rows, header=("text", "label"), sep=","):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def four_class_rows():
    texts, labels = make_texts(100, CLASSES, seed=3)
    return [(t, CLASSES[y]) for t, y in zip(texts, labels)]


def test_csv_four_classes(tmp_path, four_class_rows):
    write_csv(tmp_path / "d.csv", four_class_rows)
    data = load_user_dataset(tmp_path / "d.csv")
    assert data.label_names == sorted(CLASSES)
    assert sum(data.sizes().values()) == 100
    assert data.sizes()["test"] == 20
    assert set(data.class_counts("test").values()) == {5}  # stratified
    name_of = dict(zip(*zip(*four_class_rows)))
    for text, label in zip(data.train_texts, data.train_labels):
        assert data.label_names[label] == name_of[text]


def test_tsv_with_custom_columns_and_separate_test_file(tmp_path, four_class_rows):
    write_csv(tmp_path / "train.tsv", four_class_rows[:80], header=("review", "y"), sep="\t")
    write_csv(tmp_path / "test.tsv", four_class_rows[80:], header=("review", "y"), sep="\t")
    data = load_user_dataset(tmp_path / "train.tsv", test_path=tmp_path / "test.tsv",
                             text_column="review", label_column="y")
    assert data.sizes() == {"train": 64, "val": 16, "test": 20}


def test_jsonl_with_integer_labels(tmp_path):
    texts, labels = make_texts(40, ["neg", "pos"], seed=1)
    lines = [json.dumps({"text": t, "label": int(y) * 10}) for t, y in zip(texts, labels)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    data = load_user_dataset(tmp_path / "d.jsonl")
    assert data.label_names == ["0", "10"]  # integers sorted by value, names kept
    assert sum(data.sizes().values()) == 40


def test_integer_labels_sort_numerically(tmp_path):
    rows = [(f"text number {i}", str(label)) for i, label in enumerate([2, 10, 1] * 5)]
    write_csv(tmp_path / "d.csv", rows)
    # All labels look like integers: natural order, names kept as strings.
    assert load_user_dataset(tmp_path / "d.csv").label_names == ["1", "2", "10"]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"text": t, "label": int(y)}) for t, y in rows))
    assert load_user_dataset(tmp_path / "d.jsonl").label_names == ["1", "2", "10"]


def test_class_folders_with_train_and_test(tmp_path):
    for split, n in (("train", 12), ("test", 4)):
        for cls in CLASSES:
            folder = tmp_path / "ds" / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i}.txt").write_text(f"{cls} example {i} {' '.join(CLASSES)}", encoding="utf-8")
    data = load_user_dataset(tmp_path / "ds")
    assert data.label_names == sorted(CLASSES)
    assert data.sizes()["test"] == 16
    assert data.sizes()["train"] + data.sizes()["val"] == 48
    for text, label in zip(data.test_texts, data.test_labels):
        assert text.startswith(data.label_names[label])


def test_class_folders_without_test_split_use_a_seeded_fraction(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(10):
            (tmp_path / cls / f"{i}.txt").write_text(f"{cls} {i}", encoding="utf-8")
    a = load_user_dataset(tmp_path, test_fraction=0.3, seed=5)
    b = load_user_dataset(tmp_path, test_fraction=0.3, seed=5)
    assert a.sizes()["test"] == 6 and a.test_texts == b.test_texts
    assert load_user_dataset(tmp_path, test_fraction=0.3, seed=6).test_texts != a.test_texts


def test_missing_column_names_file_and_columns(tmp_path):
    write_csv(tmp_path / "d.csv", [("x", "a")], header=("body", "label"))
    with pytest.raises(DataError, match=r"d\.csv, line 1: no column 'text' in the header \(columns: body, label\)"):
        load_user_dataset(tmp_path / "d.csv")


def test_empty_text_names_line_and_field(tmp_path):
    write_csv(tmp_path / "d.csv", [("good", "a"), ("bad", "b"), ("   ", "a")])
    with pytest.raises(DataError, match=r"d\.csv, line 4: field 'text' is empty"):
        load_user_dataset(tmp_path / "d.csv")


def test_empty_label_names_line(tmp_path):
    write_csv(tmp_path / "d.csv", [("good", "a"), ("bad", "")])
    with pytest.raises(DataError, match=r"line 3: field 'label' is empty"):
        load_user_dataset(tmp_path / "d.csv")


def test_non_text_value_in_jsonl(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "fine", "label": "a"}\n{"text": 42, "label": "b"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl, line 2: field 'text' must be text, got int 42"):
        load_user_dataset(tmp_path / "d.jsonl")


def test_bad_json_line_and_missing_field(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "fine", "label": "a"}\n{"text": "oops"\n')
    with pytest.raises(DataError, match=r"a\.jsonl, line 2: not valid JSON"):
        load_user_dataset(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text('{"text": "fine", "label": "a"}\n{"txt": "x", "label": "b"}\n')
    with pytest.raises(DataError, match=r"b\.jsonl, line 2: no field 'text' \(fields: txt, label\)"):
        load_user_dataset(tmp_path / "b.jsonl")


def test_single_class_is_rejected(tmp_path):
    write_csv(tmp_path / "d.csv", [("good", "a"), ("fine", "a")])
    with pytest.raises(DataError, match=r"only one class \('a'\)"):
        load_user_dataset(tmp_path / "d.csv")


def test_undecodable_bytes_name_the_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\ngood,a\ncaf\xe9 bad,b\n")
    with pytest.raises(DataError, match=r"d\.csv, line 3: bytes not valid utf-8 .*--encoding"):
        load_user_dataset(path)
    from lexiclass.data.user_files import read_labelled

    assert "caf\u00e9 bad" in read_labelled(path, encoding="latin-1")[0]
    assert "caf\ufffd bad" in read_labelled(path, errors="replace")[0]


def test_unreadable_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_user_dataset(tmp_path / "missing.csv")
    (tmp_path / "d.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        load_user_dataset(tmp_path / "d.xlsx")
    locked = tmp_path / "locked.csv"
    locked.write_text("text,label\na,b\n")
    locked.chmod(0)
    try:
        import os

        if os.access(locked, os.R_OK):
            pytest.skip("running as a user that can read mode-000 files (root)")
        with pytest.raises(DataError, match="cannot read .*locked.csv"):
            load_user_dataset(locked)
    finally:
        locked.chmod(0o644)


def test_directory_as_unreadable_file(tmp_path):
    # A path that exists but cannot be read as a file gives the same clear error as a permission problem.
    from lexiclass.data.user_files import read_text

    with pytest.raises(DataError, match="cannot read"):
        read_text(tmp_path)


def test_test_labels_unknown_to_training_are_rejected(tmp_path):
    write_csv(tmp_path / "train.csv", [("good", "a"), ("bad", "b")] * 5)
    write_csv(tmp_path / "test.csv", [("odd", "c")])
    with pytest.raises(DataError, match=r"test\.csv, line 2: label 'c' does not occur in the training data"):
        load_user_dataset(tmp_path / "train.csv", test_path=tmp_path / "test.csv")


def test_extra_cells_are_reported(tmp_path):
    (tmp_path / "d.csv").write_text("text,label\ngood,a\nbad,b,extra\n")
    with pytest.raises(DataError, match=r"line 3: 3 fields, the header has 2"):
        load_user_dataset(tmp_path / "d.csv")


def test_labels_are_int32_arrays(tmp_path, four_class_rows):
    write_csv(tmp_path / "d.csv", four_class_rows)
    data = load_user_dataset(tmp_path / "d.csv")
    assert data.train_labels.dtype == np.int32 and data.train_labels.max() == 3
