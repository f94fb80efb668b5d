"""Multi-label data: JSON label lists, delimited CSV/TSV fields and fastText lines become 0/1 label matrices,
split by iterative stratification; every problem is one line naming file, line and field."""

import json
from pathlib import Path

import numpy as np
import pytest

from lexiclass.config import TrainConfig
from lexiclass.data import load_dataset
from lexiclass.data.dataset import TextDataset
from lexiclass.data.splits import multilabel_split
from lexiclass.data.user_files import load_user_dataset, read_labelled
from lexiclass.errors import DataError

GOEMOTIONS = Path("/work/shared/data/goemotions")
LABELS = ["art", "news", "sport", "tech"]


def label_sets(n: int, seed: int = 0) -> list[tuple]:
    """``n`` label sets over `LABELS`: one, two or three labels, and every tenth text none."""
    rng = np.random.default_rng(seed)
    sets = []
    for i in range(n):
        k = 0 if i % 10 == 9 else int(rng.integers(1, 4))
        sets.append(tuple(sorted(rng.choice(LABELS, size=k, replace=False))))
    return sets


def write_jsonl(path, sets, field="labels", start=0):
    lines = [json.dumps({"text": f"text number {start + i}", field: list(s)}) for i, s in enumerate(sets)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_table(path, sets, separator="|", delimiter=","):
    lines = ["text" + delimiter + "label"]
    lines += [f"text number {i}{delimiter}{separator.join(s)}" for i, s in enumerate(sets)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_fasttext(path, sets, start=0):
    lines = [" ".join(f"__label__{label}" for label in s) + f" text number {start + i}" for i, s in enumerate(sets)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows_match(data: TextDataset, truth: dict) -> None:
    """Every split's matrix row is the set its text was written with."""
    for split in ("train", "val", "test"):
        texts, labels = getattr(data, f"{split}_texts"), getattr(data, f"{split}_labels")
        for text, row in zip(texts, labels):
            assert {data.label_names[j] for j in np.flatnonzero(row)} == set(truth[text]), text


def truth_of(sets, start=0):
    return {f"text number {start + i}": s for i, s in enumerate(sets)}


# --- formats --------------------------------------------------------------------------------------------


def test_jsonl_label_lists_make_a_multi_label_dataset(tmp_path):
    sets = label_sets(200)
    data = load_user_dataset(write_jsonl(tmp_path / "d.jsonl", sets, field="label"))
    assert data.multi_label and data.label_names == LABELS and data.num_classes == 4
    assert data.train_labels.dtype == np.uint8 and data.train_labels.shape == (data.sizes()["train"], 4)
    assert sum(data.sizes().values()) == 200
    rows_match(data, truth_of(sets))
    assert 0 < data.label_cardinality("train") < 3


def test_jsonl_labels_field_is_read_without_label_column(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [("a", "b"), ("b",), ()])
    assert read_labelled(path) == (["text number 0", "text number 1", "text number 2"], [("a", "b"), ("b",), ()])
    with pytest.raises(DataError, match=r"d\.jsonl, line 1: no field 'tags'"):
        read_labelled(path, label_column="tags")  # the alias is only for the default name


def test_jsonl_repeats_collapse_and_a_scalar_is_a_one_label_set(tmp_path):
    lines = [{"text": "one", "label": ["a", "b", "a"]}, {"text": "two", "label": "b"}, {"text": "three", "label": 7},
             {"text": "four", "label": []}]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)), encoding="utf-8")
    assert read_labelled(path)[1] == [("a", "b"), ("b",), ("7",), ()]


def test_json_array_with_label_lists(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"text": "x", "labels": ["a"]}, {"text": "y", "labels": ["a", "b"]}]))
    assert read_labelled(path)[1] == [("a",), ("a", "b")]


def test_csv_split_on_the_separator(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\none," a | b |"\ntwo,\nthree,c\nfour,a||a\n', encoding="utf-8")
    from lexiclass.data.user_files import read_records

    records = read_records(path, label_separator="|")
    assert records.labels == [("a", "b"), (), ("c",), ("a",)]
    assert records.locations == [2, 3, 4, 5]
    with pytest.raises(DataError, match=r"d\.csv, line 3: field 'label' is empty"):
        read_labelled(path)  # without a separator a field holds one label, as before


def test_csv_with_separator_loads_and_matches(tmp_path):
    sets = label_sets(150, seed=2)
    data = load_user_dataset(write_table(tmp_path / "d.csv", sets), label_separator="|")
    assert data.multi_label and data.label_names == LABELS
    rows_match(data, truth_of(sets))


def test_tsv_with_a_comma_separator(tmp_path):
    sets = label_sets(150, seed=3)
    data = load_user_dataset(write_table(tmp_path / "d.tsv", sets, separator=",", delimiter="\t"),
                             label_separator=",")
    assert data.multi_label
    rows_match(data, truth_of(sets))


def test_fasttext_single_label_stays_single_label(tmp_path):
    sets = [("pos",) if i % 2 else ("neg",) for i in range(60)]
    path = write_fasttext(tmp_path / "d.txt", sets)
    texts, labels = read_labelled(path)
    assert texts[:2] == ["text number 0", "text number 1"] and labels[:2] == ["neg", "pos"]
    data = load_user_dataset(path)
    assert not data.multi_label and data.train_labels.dtype == np.int32 and data.label_names == ["neg", "pos"]


@pytest.mark.parametrize("suffix", [".txt", ".ft", ".fasttext"])
def test_fasttext_several_labels_make_it_multi_label(tmp_path, suffix):
    sets = [s or ("art",) for s in label_sets(150, seed=4)]
    data = load_user_dataset(write_fasttext(tmp_path / f"d{suffix}", sets))
    assert data.multi_label and data.label_names == LABELS
    rows_match(data, truth_of(sets))


def test_fasttext_text_keeps_its_words_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("\n  __label__a\t__label__b  Hello,  world __label__c\r\n\n__label__a one\n", encoding="utf-8")
    assert read_labelled(path) == (["Hello,  world __label__c", "one"], [("a", "b"), ("a",)])


def test_forced_multi_label_makes_one_label_sets(tmp_path):
    rows = "".join(f"text number {i},{'abc'[i % 3]}\n" for i in range(30))
    (tmp_path / "d.csv").write_text("text,label\n" + rows, encoding="utf-8")
    data = load_user_dataset(tmp_path / "d.csv", multi_label=True)
    assert data.multi_label and data.train_labels.shape[1] == 3
    assert (data.train_labels.sum(axis=1) == 1).all() and data.label_cardinality("test") == 1.0
    write_fasttext(tmp_path / "d.txt", [("x",) if i % 2 else ("y",) for i in range(30)])
    assert load_user_dataset(tmp_path / "d.txt", multi_label=True).train_labels.ndim == 2


def test_texts_without_labels_are_kept_as_zero_rows(tmp_path):
    sets = label_sets(200, seed=5)
    data = load_user_dataset(write_jsonl(tmp_path / "d.jsonl", sets))
    empty = sum(1 for s in sets if not s)
    assert empty == 20
    assert sum(int((getattr(data, f"{s}_labels").sum(axis=1) == 0).sum()) for s in ("train", "val", "test")) == empty


# --- errors ---------------------------------------------------------------------------------------------

GOOD = "".join(json.dumps({"text": f"t{i}", "labels": [["a", "b"], ["b"]][i % 2]}) + "\n" for i in range(6))


@pytest.mark.parametrize("bad, fragment", [
    ({"text": "x", "labels": ["a", [1, 2]]}, "line 7: field 'labels[1]' must be a string or integer label, got list"
                                             " [1, 2]"),
    ({"text": "x", "labels": [{"name": "a"}]}, "line 7: field 'labels[0]' must be a string or integer label, got dict"),
    ({"text": "x", "labels": ["a", ""]}, "line 7: field 'labels[1]' is empty"),
    ({"text": "x", "labels": [True]}, "line 7: field 'labels[0]' must be a string or integer label, got bool True"),
])
def test_bad_list_elements_are_refused_by_line_and_field(tmp_path, bad, fragment):
    path = tmp_path / "d.jsonl"
    path.write_text(GOOD + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_user_dataset(path)
    assert fragment in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("line, fragment", [
    ("just some text", "line 3: no __label__ prefix at the start of the line, got 'just some text'"),
    ("__label__a __label__b", "line 3: no text after the label(s) 'a', 'b'"),
    ("__label__ text", "line 3: field '__label__' is empty"),
    ("text __label__a", "line 3: no __label__ prefix"),
])
def test_bad_fasttext_lines(tmp_path, line, fragment):
    path = tmp_path / "d.txt"
    path.write_text(f"__label__a one\n__label__b two\n{line}\n__label__a three\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_labelled(path)
    assert fragment in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_label_in_a_test_file_names_its_line(tmp_path):
    sets = [s or ("art",) for s in label_sets(100, seed=6)]
    write_jsonl(tmp_path / "train.jsonl", sets)
    write_jsonl(tmp_path / "test.jsonl", [("art",), ("news", "weather")], start=1000)
    with pytest.raises(DataError, match=r"test\.jsonl, line 2: label 'weather' does not occur in the training data"):
        load_user_dataset(tmp_path / "train.jsonl", test_path=tmp_path / "test.jsonl")


def test_a_label_with_too_few_examples_is_learned_from_training_with_a_warning(tmp_path):
    # Tagged text has many rare labels (news topics seen once or twice): they are trained on, not refused.
    sets = [("a",), ("b",)] * 10
    write_jsonl(tmp_path / "one.jsonl", sets + [("a", "rare")])
    with pytest.warns(UserWarning, match=r"one\.jsonl: 1 of 3 labels have fewer than 3 examples \('rare' \(1\)\)"):
        data = load_user_dataset(tmp_path / "one.jsonl")
    assert data.class_counts("train")["rare"] == 1 and data.class_counts("test")["rare"] == 0
    write_jsonl(tmp_path / "two.jsonl", sets + [("a", "rare"), ("rare",)])
    with pytest.warns(UserWarning, match=r"'rare' \(2\)"):
        data = load_user_dataset(tmp_path / "two.jsonl")
    assert data.class_counts("train")["rare"] >= 1
    write_jsonl(tmp_path / "val.jsonl", [("a",), ("b",)], start=100)  # a validation file: 2 are enough
    with pytest.warns(UserWarning, match=r"val\.jsonl: no validation example of label\(s\) 'rare'"):
        data = load_user_dataset(tmp_path / "two.jsonl", val_path=tmp_path / "val.jsonl")
    assert data.class_counts("train")["rare"] >= 1 and data.class_counts("test")["rare"] >= 1


def test_multi_label_with_class_folders_is_refused(tmp_path):
    for cls in ("neg", "pos"):
        (tmp_path / "ds" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "ds" / cls / f"{i}.txt").write_text(f"{cls} {i}")
    assert not load_user_dataset(tmp_path / "ds").multi_label
    for options in ({"multi_label": True}, {"label_separator": "|"}):
        with pytest.raises(DataError, match=r"ds: class folders give each text one label .*not read from folders"):
            load_user_dataset(tmp_path / "ds", **options)


def test_multi_label_with_imdb_is_refused_in_one_line():
    with pytest.raises(DataError, match=r"^imdb has one label per review \(pos or neg\): --multi-label needs your"
                                        r" own data [^\n]*$"):
        load_dataset(TrainConfig(dataset="imdb", multi_label=True))


def test_an_empty_separator_is_refused(tmp_path):
    with pytest.raises(DataError, match="label_separator must be a non-empty string"):
        load_user_dataset(write_table(tmp_path / "d.csv", label_sets(30)), label_separator="")


# --- the split ------------------------------------------------------------------------------------------


def random_matrix(n=600, n_labels=12, seed=0):
    """Labels of very different frequencies (about 40% down to 1%), some texts with none."""
    rng = np.random.default_rng(seed)
    rates = np.geomspace(0.4, 0.01, n_labels)
    return (rng.random((n, n_labels)) < rates).astype(np.uint8)


def test_multilabel_split_is_seeded_and_a_partition():
    Y = random_matrix()
    keep, held = multilabel_split(Y, 0.2, seed=3)
    again = multilabel_split(Y, 0.2, seed=3)
    assert np.array_equal(keep, again[0]) and np.array_equal(held, again[1])
    assert not np.array_equal(held, multilabel_split(Y, 0.2, seed=4)[1])
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(len(Y)))
    assert (np.diff(keep) > 0).all() and (np.diff(held) > 0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.5])
def test_multilabel_split_reaches_both_parts_and_keeps_the_fraction(seed, fraction):
    Y = random_matrix(seed=seed)
    keep, held = multilabel_split(Y, fraction, seed=seed)
    counts = Y.sum(axis=0)
    for label in range(Y.shape[1]):
        if counts[label] >= 2:
            assert Y[keep, label].any() and Y[held, label].any(), (label, counts[label])
        if counts[label] >= 30:  # stratified: each common label near the fraction, not left to chance
            assert abs(Y[held, label].sum() / counts[label] - fraction) < 0.05
    assert abs(len(held) / len(Y) - fraction) < 0.03
    empty = np.flatnonzero(Y.sum(axis=1) == 0)
    assert abs(np.isin(empty, held).sum() - round(len(empty) * fraction)) <= 1


def test_multilabel_split_of_rare_labels():
    # a label of two texts: one on each side; a label of one text: training
    Y = np.zeros((40, 3), dtype=np.uint8)
    Y[:, 0] = 1
    Y[[3, 17], 1] = 1
    Y[25, 2] = 1
    keep, held = multilabel_split(Y, 0.1, seed=0)
    assert Y[keep, 1].sum() == 1 and Y[held, 1].sum() == 1 and 25 in keep
    # labels that overlap in a cycle cannot all reach both parts; every one still reaches training
    cycle = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.uint8)
    keep, held = multilabel_split(cycle, 0.5, seed=0)
    assert cycle[keep].any(axis=0).all()
    assert multilabel_split(cycle, 0.0, seed=0)[1].size == 0


def test_multilabel_split_keeps_single_text_labels_for_training_at_any_fraction():
    Y = np.zeros((30, 9), dtype=np.uint8)
    Y[:, 0] = 1
    Y[np.arange(8), np.arange(1, 9)] = 1  # eight labels of one text each
    for seed in range(3):
        keep, held = multilabel_split(Y, 0.7, seed=seed)
        assert Y[keep].any(axis=0).all() and abs(len(held) - 21) <= 2


def test_every_label_reaches_training_in_small_overlapping_data():
    # small, dense data: a label's texts are often placed by rarer labels first, then moved back to training
    for seed in range(100):
        rng = np.random.default_rng(seed)
        Y = (rng.random((20, 8)) < np.geomspace(0.4, 0.08, 8)).astype(np.uint8)
        for fraction in (0.2, 0.5, 0.8):
            keep, _ = multilabel_split(Y, fraction, seed=seed)
            assert (Y[keep].sum(axis=0) >= (Y.sum(axis=0) > 0)).all(), (seed, fraction)


def test_a_kept_label_is_held_by_swapping_texts():
    from lexiclass.data.splits import _cover_both_parts

    # a: texts 0, 1, both kept; text 0 alone has s, text 1 alone brings b to the kept part
    Y = np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]], dtype=bool)
    held = np.array([False, False, True, True, False, True])
    _cover_both_parts(Y, held)
    assert Y[~held].any(axis=0).all() and Y[held][:, [0, 1, 3]].any(axis=0).all()
    assert held.tolist() == [False, True, False, True, False, True]


def test_multilabel_split_refuses_a_bad_fraction():
    with pytest.raises(ValueError, match="split fraction"):
        multilabel_split(random_matrix(), 1.0, seed=0)


def test_same_seed_same_dataset(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", label_sets(200, seed=7))
    a, b = load_user_dataset(path, seed=9), load_user_dataset(path, seed=9)
    assert a.test_texts == b.test_texts and a.val_texts == b.val_texts
    assert load_user_dataset(path, seed=10).test_texts != a.test_texts


def test_val_path_gives_the_validation_split(tmp_path):
    sets = [s or ("art",) for s in label_sets(100, seed=8)]
    write_jsonl(tmp_path / "train.jsonl", sets)
    val_sets = [("news",), ("art", "tech"), ()]
    write_jsonl(tmp_path / "val.jsonl", val_sets, start=500)
    with pytest.warns(UserWarning, match=r"val\.jsonl: no validation example of label\(s\) 'sport'"):
        data = load_user_dataset(tmp_path / "train.jsonl", val_path=tmp_path / "val.jsonl", test_fraction=0.2)
    assert data.val_texts == ["text number 500", "text number 501", "text number 502"]
    assert data.val_labels.tolist() == [[0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0]]
    sizes = data.sizes()
    assert sizes["train"] + sizes["test"] == 100 and 15 <= sizes["test"] <= 25  # no validation held out of train
    rows_match(data, {**truth_of(sets), **truth_of(val_sets, start=500)})


def test_val_path_with_single_label_data_and_a_missing_class_warns(tmp_path):
    rows = "".join(f"text number {i},{'ab'[i % 2]}\n" for i in range(40))
    (tmp_path / "d.csv").write_text("text,label\n" + rows, encoding="utf-8")
    (tmp_path / "v.csv").write_text("text,label\nval one,a\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"v\.csv: no validation example of class\(es\) 'b'"):
        data = load_user_dataset(tmp_path / "d.csv", val_path=tmp_path / "v.csv")
    assert not data.multi_label and data.val_texts == ["val one"] and data.sizes()["train"] == 32


def test_a_label_set_in_the_test_file_makes_the_data_multi_label(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [("a",), ("b",)] * 10)
    write_jsonl(tmp_path / "test.jsonl", [("a", "b")], start=100)
    data = load_user_dataset(tmp_path / "train.jsonl", test_path=tmp_path / "test.jsonl")
    assert data.multi_label and data.test_labels.tolist() == [[1, 1]]


# --- the dataset's 2-D labels ------------------------------------------------------------------------------


def dataset_2d():
    train = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0], [0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    return TextDataset([f"t{i}" for i in range(5)], train, ["v"], train[:1], ["u", "w"], train[1:3],
                       label_names=["a", "b", "c"], source="s")


def test_class_counts_and_cardinality_of_label_matrices():
    data = dataset_2d()
    assert data.multi_label and data.num_classes == 3
    assert data.class_counts("train") == {"a": 3, "b": 2, "c": 2}
    assert data.class_counts("test") == {"a": 1, "b": 1, "c": 0}
    assert data.label_cardinality("train") == pytest.approx(7 / 5) and data.label_cardinality("test") == 1.0
    single = TextDataset(["x", "y"], np.array([0, 1], np.int32), ["z"], np.array([1], np.int32), ["w"],
                         np.array([0], np.int32), label_names=["a", "b"])
    assert not single.multi_label and single.label_cardinality() == 1.0 and single.class_counts() == {"a": 1, "b": 1}


def test_check_splits_names_a_label_without_training_example():
    data = dataset_2d()
    data.train_labels = data.train_labels.copy()
    data.train_labels[:, 2] = 0
    with pytest.raises(DataError, match=r"s: label\(s\) 'c' have no training example"):
        data.check_splits()
    dataset_2d().check_splits()


def test_limit_takes_rows_of_label_matrices():
    data = dataset_2d()
    limited = data.limit(4, seed=0)
    assert limited.multi_label and limited.train_labels.shape == (4, 3)
    for text, row in zip(limited.train_texts, limited.train_labels):
        assert row.tolist() == data.train_labels[int(text[1:])].tolist()
    with pytest.raises(DataError, match=r"limit 1 leaves label\(s\) .* without a training example"):
        data.limit(1, seed=0)


# --- real data ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not GOEMOTIONS.is_dir(), reason="GoEmotions is not in ../shared/data")
def test_goemotions_loads_with_its_official_split():
    data = load_user_dataset(GOEMOTIONS / "train.jsonl", test_path=GOEMOTIONS / "test.jsonl",
                             val_path=GOEMOTIONS / "dev.jsonl")
    assert data.multi_label and data.num_classes == 28
    assert data.train_labels.shape == (43410, 28) and data.val_labels.shape == (5426, 28)
    assert data.test_labels.shape == (5427, 28)
    assert data.label_names[:3] == ["admiration", "amusement", "anger"] and "neutral" in data.label_names
    assert data.class_counts("train")["neutral"] == 14219 and data.class_counts("train")["grief"] == 77
    assert data.label_cardinality("train") == pytest.approx(1.1772, abs=1e-4)
    assert data.label_cardinality("val") == pytest.approx(1.1758, abs=1e-4)
    assert (data.train_labels.sum(axis=1) >= 1).all()
