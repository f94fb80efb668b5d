"""Label order and mapping, split sizes, per-class coverage and `TextDataset.limit`."""

import json
import warnings

import numpy as np
import pytest

from lexiclass.data.dataset import TextDataset
from lexiclass.data.splits import stratified_split
from lexiclass.data.user_files import encode_labels, label_vocabulary, load_user_dataset
from lexiclass.errors import DataError


def write_csv(path, labels, start=0):
    path.write_text("text,label\n" + "".join(f"text {start + i},{y}\n" for i, y in enumerate(labels)))
    return path


# --- label vocabulary ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels, names", [
    (["2", "10", "1"], ["1", "2", "10"]),
    (["-1", "0", "1"], ["-1", "0", "1"]),
    ([3, "20", 100], ["3", "20", "100"]),  # JSON integers and integer strings, by value
    (["1", "10", "a"], ["1", "10", "a"]),  # not all integers: alphabetical
    (["1.5", "10", "2"], ["1.5", "10", "2"]),
    (["\u0662", "1"], ["1", "\u0662"]),  # an Arabic-Indic digit is not an integer label here
    (["b", "B", "a"], ["B", "a", "b"]),
])
def test_label_order(labels, names):
    assert label_vocabulary(labels, "f.csv") == names


def test_integer_labels_keep_their_spelling():
    assert label_vocabulary(["007", "10"], "f.csv") == ["007", "10"]


def test_one_integer_spelled_two_ways_is_refused():
    with pytest.raises(DataError, match=r"f\.csv: labels '01' and '1' are the same number written two ways"):
        label_vocabulary(["1", "01", "2"], "f.csv")
    with pytest.raises(DataError, match="'\\+1' and '1'"):
        label_vocabulary(["1", "+1", "2"], "f.csv")


def test_test_labels_map_by_value_when_training_labels_are_integers():
    names = label_vocabulary(["1", "2", "10"], "train.csv")
    np.testing.assert_array_equal(encode_labels(["01", "10", 2, " 1 "], names, "test.csv"), [0, 2, 1, 0])
    with pytest.raises(DataError, match=r"test\.csv: label '3' does not occur in the training data \(labels: 1, 2,"):
        encode_labels(["3"], names, "test.csv")


def test_text_labels_map_exactly():
    names = label_vocabulary(["a", "b"], "train.csv")
    with pytest.raises(DataError, match="label 'A' does not occur"):
        encode_labels(["A"], names, "test.csv")


def test_many_labels_are_shortened_in_the_message():
    names = [f"c{i}" for i in range(40)]
    with pytest.raises(DataError) as info:
        encode_labels(["zz"], names, "t.csv")
    assert "... (40 in all)" in str(info.value) and "c39" not in str(info.value)


def test_integer_labels_through_csv_and_a_jsonl_test_file(tmp_path):
    train = write_csv(tmp_path / "train.csv", ["10", "2", "1"] * 4)
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps({"text": f"t {y}", "label": y}) for y in (1, 2, 10)))
    data = load_user_dataset(train, test_path=tmp_path / "test.jsonl")
    assert data.label_names == ["1", "2", "10"]
    assert [data.label_names[i] for i in data.test_labels] == ["1", "2", "10"]
    rows = dict(zip([f"text {i}" for i in range(12)], ["10", "2", "1"] * 4))
    assert all(data.label_names[y] == rows[t] for t, y in zip(data.train_texts + data.val_texts,
                                                              np.concatenate([data.train_labels, data.val_labels])))


def test_mixed_integer_and_text_labels_in_jsonl(tmp_path):
    def write(labels):
        lines = [json.dumps({"text": f"t{i}", "label": y}) for i, y in enumerate(labels)]
        (tmp_path / "d.jsonl").write_text("\n".join(lines))
        return tmp_path / "d.jsonl"

    with pytest.raises(DataError, match="class 'x' has only 2 examples"):
        load_user_dataset(write([1, "1"] * 3 + ["x"] * 2))
    data = load_user_dataset(write([1, "1"] * 3 + ["x"] * 3))  # 1 and "1" are one class
    assert data.label_names == ["1", "x"] and sum(data.class_counts(s)["1"] for s in ("train", "val", "test")) == 6


# --- splits ----------------------------------------------------------------------------------------------------


def test_stratified_split_puts_a_small_class_in_both_parts():
    labels = np.array([0] * 50 + [1, 1])
    keep, held = stratified_split(labels, 0.2, seed=0)
    assert sorted(labels[held]).count(1) == 1 and sorted(labels[keep]).count(1) == 1
    assert len(held) == 11  # the big class still holds out round(50 * 0.2)


def test_three_examples_reach_every_split(tmp_path):
    data = load_user_dataset(write_csv(tmp_path / "d.csv", ["a", "b", "c"] * 3 + ["a"] * 40))
    for split in ("train", "val", "test"):
        assert min(data.class_counts(split).values()) >= 1, split


def test_two_examples_are_enough_with_a_test_file(tmp_path):
    train = write_csv(tmp_path / "train.csv", ["a", "b", "a", "b"])
    test = write_csv(tmp_path / "test.csv", ["a", "b"], start=100)
    assert load_user_dataset(train, test_path=test).sizes() == {"train": 2, "val": 2, "test": 2}
    single = write_csv(tmp_path / "one.csv", ["a", "b", "b"])
    with pytest.raises(DataError, match=r"class 'a' has a single example \(.*one\.csv, line 2\): each class needs at"
                                        r" least 2, one each for training and validation \(the test split is"):
        load_user_dataset(single, test_path=test)


def test_a_test_file_without_some_class_gives_a_warning(tmp_path):
    train = write_csv(tmp_path / "train.csv", ["a", "b", "c"] * 3)
    test = write_csv(tmp_path / "test.csv", ["a", "b"], start=100)
    with pytest.warns(UserWarning, match=r"test\.csv: no test example of class\(es\) 'c'"):
        load_user_dataset(train, test_path=test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_user_dataset(train, test_path=write_csv(tmp_path / "full.csv", ["a", "b", "c"], start=100))


def test_train_test_folders_with_an_empty_test_class_folder(tmp_path):
    for split, n in (("train", 3), ("test", 1)):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                (tmp_path / split / cls / f"{i}.txt").write_text(f"{cls} {i}")
    (tmp_path / "test" / "c").mkdir()
    with pytest.raises(DataError, match=r"class folder .*test/c is empty"):
        load_user_dataset(tmp_path)


@pytest.mark.parametrize("split, sizes, fragment", [
    ("train", (0, 2, 2), "the training split is empty (training 0, validation 2, test 2 examples): add examples"),
    ("val", (4, 0, 2), "the validation split is empty (training 4, validation 0, test 2 examples): add examples or"
                       " use a larger val_fraction (--val-fraction)"),
    ("test", (4, 2, 0), "the test split is empty (training 4, validation 2, test 0 examples): add examples, use a"
                        " larger test_fraction (--test-fraction) or give a test file (--test-dataset)"),
])
def test_check_splits_names_the_empty_split(split, sizes, fragment):
    def part(n):
        return [f"t{i}" for i in range(n)], np.arange(n, dtype=np.int32) % 2

    data = TextDataset(*part(sizes[0]), *part(sizes[1]), *part(sizes[2]), label_names=["a", "b"], source="src.csv")
    with pytest.raises(DataError) as info:
        data.check_splits()
    assert str(info.value) == f"src.csv: {fragment}"


def test_check_splits_refuses_a_class_without_training_example():
    labels = np.zeros(3, dtype=np.int32)
    data = TextDataset(["x"] * 3, labels, ["y"], labels[:1], ["z"], labels[:1], label_names=["a", "b"], source="s")
    with pytest.raises(DataError, match=r"s: class\(es\) 'b' have no training example"):
        data.check_splits()


# --- limit -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -5, True, 2.5, "10"])
def test_limit_refuses_what_is_not_a_positive_whole_number(generated_dataset, n):
    with pytest.raises(DataError, match=rf"limit must be a whole number of examples >= 1 \(or None for no limit\),"
                                        rf" got {n!r}"):
        generated_dataset.limit(n)


def test_limit_none_is_no_limit_and_a_limit_limits(generated_dataset):
    assert generated_dataset.limit(None) is generated_dataset
    assert generated_dataset.limit(np.int64(40), seed=1).sizes() == {"train": 40, "val": 10, "test": 40}


def test_limit_that_drops_a_class_from_training_is_refused():
    labels = np.array([0] * 50 + [1], dtype=np.int32)
    data = TextDataset([f"t{i}" for i in range(51)], labels, ["v"], labels[:1], ["w"], labels[:1],
                       label_names=["a", "b"])
    with pytest.raises(DataError, match="limit 1 leaves class"):
        data.limit(1, seed=0)
