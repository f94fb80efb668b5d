import numpy as np
import pytest

from lexiclass.data.imdb import load_imdb
from lexiclass.errors import DataError
from tests.data.imdb_fixture import build_imdb_tar


@pytest.fixture
def small_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("LEXICLASS_HOME", str(tmp_path / "home"))
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(build_imdb_tar(per_folder=50, unsup=7))
    return path


def test_split_sizes_follow_the_book(small_archive):
    data = load_imdb(small_archive, expected_per_folder=50)
    assert data.sizes() == {"train": 80, "val": 20, "test": 100}
    assert data.label_names == ["neg", "pos"]
    assert data.class_counts("val") == {"neg": 10, "pos": 10}
    assert data.class_counts("test") == {"neg": 50, "pos": 50}


def test_labels_match_folders_and_unsup_is_ignored(small_archive):
    data = load_imdb(small_archive, expected_per_folder=50)
    texts = data.train_texts + data.val_texts + data.test_texts
    assert not any("UNSUP_MARKER" in t for t in texts)
    for text, label in zip(data.train_texts, data.train_labels):
        assert ("wonderful" in text) == (label == 1)
    assert "Caf\u00e9" in data.train_texts[0]


def test_split_is_seeded_and_deterministic(small_archive):
    a = load_imdb(small_archive, expected_per_folder=50)
    b = load_imdb(small_archive, expected_per_folder=50)
    c = load_imdb(small_archive, expected_per_folder=50, seed=7)
    assert a.val_texts == b.val_texts
    assert a.val_texts != c.val_texts
    assert set(a.val_texts).isdisjoint(a.train_texts)
    np.testing.assert_array_equal(a.val_labels, b.val_labels)


def test_fraction_is_an_option(small_archive):
    data = load_imdb(small_archive, val_fraction=0.1, expected_per_folder=50)
    assert data.sizes()["val"] == 10


def test_extracted_folder_is_accepted_and_reused(small_archive, tmp_path):
    load_imdb(small_archive, expected_per_folder=50)
    extracted = next((tmp_path / "home" / "datasets").iterdir())
    data = load_imdb(extracted / "aclImdb", expected_per_folder=50)
    assert data.sizes()["test"] == 100
    assert load_imdb(extracted, expected_per_folder=50).sizes()["test"] == 100  # the parent folder works too


def test_short_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LEXICLASS_HOME", str(tmp_path / "home"))
    path = tmp_path / "short.tar.gz"
    path.write_bytes(build_imdb_tar(per_folder=50, short={"test/neg": 49}))
    with pytest.raises(DataError, match=r"test/neg has 49 reviews, expected 50"):
        load_imdb(path, expected_per_folder=50)


def test_missing_archive_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_imdb(tmp_path / "nope.tar.gz")


def test_environment_variable_points_at_the_archive(small_archive, monkeypatch):
    monkeypatch.setenv("LEXICLASS_IMDB_ARCHIVE", str(small_archive))
    assert load_imdb(None, expected_per_folder=50).sizes()["train"] == 80


@pytest.mark.slow
def test_real_offline_archive_gives_the_book_split(shared_imdb_archive):
    data = load_imdb(shared_imdb_archive)
    assert data.sizes() == {"train": 20000, "val": 5000, "test": 25000}
    assert data.class_counts("train") == {"neg": 10000, "pos": 10000}
