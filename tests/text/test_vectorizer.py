import numpy as np
import pytest

from lexiclass.text.vectorizer import Vectorizer, words

TRAIN = ["The movie was great, great fun!", "A boring movie.", "Great acting; boring plot", "fun fun fun"]


def test_int_mode_lowercases_strips_punctuation_and_reserves_0_and_1():
    vec = Vectorizer("int", max_tokens=50).adapt(TRAIN)
    vocab = vec.vocabulary
    assert vocab[:2] == ["", "[UNK]"]
    assert "great" in vocab and "great," not in vocab and "Great" not in vocab
    (ids,) = vec.token_ids(["GREAT movie, zebra!"])
    assert ids.dtype == np.int32
    assert list(ids) == [vocab.index("great"), vocab.index("movie"), 1]  # unseen word -> 1


def test_lengths_stay_variable():
    vec = Vectorizer("int", max_tokens=50).adapt(TRAIN)
    ids = vec.token_ids(["fun", "fun fun fun fun", ""])
    assert [len(x) for x in ids] == [1, 4, 0]


def test_adapted_on_training_text_only():
    vec = Vectorizer("int", max_tokens=50).adapt(TRAIN)
    assert "zebra" not in vec.vocabulary


def test_max_tokens_caps_the_vocabulary():
    vec = Vectorizer("int", max_tokens=5).adapt(TRAIN)
    assert len(vec.vocabulary) == 5
    assert max(int(i.max()) for i in vec.token_ids(TRAIN)) <= 4


@pytest.mark.parametrize("mode", ["int", "multi_hot", "tf_idf"])
def test_save_and_load_restore_identical_outputs(tmp_path, mode):
    vec = Vectorizer(mode, max_tokens=40, ngrams=2).adapt(TRAIN)
    vec.save(tmp_path)
    again = Vectorizer.load(tmp_path)
    assert again.vocabulary == vec.vocabulary
    probe = ["great movie", "boring boring plot fun", "unseen words here"]
    if mode == "int":
        for a, b in zip(vec.token_ids(probe), again.token_ids(probe)):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(vec.vectors(probe), again.vectors(probe), rtol=0, atol=1e-7)


def test_bigram_multi_hot_vectors():
    vec = Vectorizer("multi_hot", max_tokens=100, ngrams=2).adapt(TRAIN)
    vocab = vec.vocabulary
    assert "great fun" in vocab and "boring movie" in vocab and "movie boring" not in vocab
    row = vec.vectors(["great fun"])[0]
    assert row.shape == (len(vocab),)  # one entry per n-gram; the corpus has fewer than max_tokens
    assert row[vocab.index("great fun")] == 1 and row[vocab.index("great")] == 1 and row.sum() == 3


def test_tf_idf_weights_rarer_ngrams_higher():
    vec = Vectorizer("tf_idf", max_tokens=100, ngrams=2).adapt(TRAIN)
    vocab = vec.vocabulary
    row = vec.vectors(["movie acting"])[0]
    assert row[vocab.index("acting")] > row[vocab.index("movie")] > 0


def test_words_are_ascii_lowercased_and_split_on_ascii_space_only():
    # TensorFlow lower-cases A-Z only and splits on ASCII white space: so does lexiclass.
    assert words("ÉCOLE Straße\u00a0NBSP A-B") == ["École", "straße\u00a0nbsp", "ab"]


@pytest.mark.parametrize("mode", ["multi_hot", "tf_idf"])
def test_sparse_vectors_built_in_parts_equal_one_part(monkeypatch, mode):
    import lexiclass.text.vectorizer as vectorizer_module

    texts = TRAIN * 3 + ["", "unknown words only", "great great great fun"]
    vec = Vectorizer(mode, max_tokens=100, ngrams=2).adapt(TRAIN)
    whole = vec.sparse_vectors(texts)
    monkeypatch.setattr(vectorizer_module, "FLUSH_ENTRIES", 3)  # a part every few texts, mid-list
    parts = vec.sparse_vectors(texts)
    assert parts.shape == whole.shape == (len(texts), len(vec.vocabulary))
    assert parts.dtype == whole.dtype == np.float32
    np.testing.assert_array_equal(parts.indptr, whole.indptr)
    np.testing.assert_array_equal(parts.indices, whole.indices)
    np.testing.assert_array_equal(parts.data, whole.data)
    # and the values are what the mode means: 1 per n-gram, or count x idf
    row = parts[len(texts) - 1].toarray()[0]
    great = vec.vocabulary.index("great")
    expected = 1.0 if mode == "multi_hot" else 3 * vec.idf_weights[great]
    assert row[great] == pytest.approx(expected)
    assert parts[len(texts) - 3].nnz == 0  # the empty text
