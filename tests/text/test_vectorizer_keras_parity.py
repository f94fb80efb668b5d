"""The plain-Python vectorizer computes exactly what Keras' TextVectorization computes.

Runs saved before lexiclass stopped using TextVectorization must load and predict the
same, and export rebuilds a TextVectorization from the vocabulary: both need the two to
agree on every text. TextVectorization needs TensorFlow, so these tests run on the
TensorFlow backend only (the CI's default run).
"""

import keras
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lexiclass.text.vectorizer import Vectorizer

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TextVectorization needs TensorFlow")

# Characters where the two could disagree: ASCII and non-ASCII capitals, every ASCII punctuation
# mark, ASCII and non-ASCII white space, Korean, accents, emoji and the reserved token's spelling.
ALPHABET = list("aAbBzZ09 \t\n\r\x0b\x0c.,!?'\"-_[](){}<>/\\|@#$%^&*+=~`:;") + [
    "\u00a0", "\u2003", "\u3000", "\u0085", "ÉÀ", "ß", "한", "국", "어", "😀", "[UNK]", "İ"]
TEXTS = st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)
CORPUS = ["The movie was GREAT, great fun!", "A boring movie.", "Great acting; boring plot", "fun fun fun",
          "정말 재밌다!! 정말", "Straße ÉCOLE école", "tab\tsep\nline\x0bvt\x0cff\u00a0nbsp", "", "   ...  "]


def keras_layer(mode, max_tokens, ngrams=None):
    kwargs = dict(max_tokens=max_tokens, output_mode=mode)
    kwargs.update(ragged=True) if mode == "int" else kwargs.update(ngrams=ngrams)
    return keras.layers.TextVectorization(**kwargs)


@pytest.mark.parametrize("mode,ngrams", [("int", None), ("multi_hot", 2), ("tf_idf", 3)])
def test_adapt_builds_the_same_vocabulary_and_idf(mode, ngrams):
    layer = keras_layer(mode, 30, ngrams)
    layer.adapt(CORPUS)
    ours = Vectorizer(mode, 30, ngrams).adapt(CORPUS)
    assert ours.vocabulary == [str(t) for t in layer.get_vocabulary()]  # same tokens, same order (ties too)
    if mode == "tf_idf":
        store = {}
        layer.save_own_variables(store)
        np.testing.assert_allclose(ours.idf_weights, np.asarray(store["idf_weights"]), rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_token_ids_equal_text_vectorization(texts):
    ours = Vectorizer("int", 40).adapt(CORPUS + texts[:1])
    layer = ours.keras_layer()
    expected = [list(row) for row in layer(texts).numpy()]
    assert [list(row) for row in ours.token_ids(texts)] == expected


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(TEXTS, min_size=1, max_size=4), mode=st.sampled_from(["multi_hot", "tf_idf"]))
def test_ngram_vectors_equal_text_vectorization(texts, mode):
    ours = Vectorizer(mode, 60, ngrams=2).adapt(CORPUS + texts[:1])
    expected = np.asarray(ours.keras_layer()(texts))  # (texts, vocabulary)
    np.testing.assert_allclose(ours.vectors(texts), expected, rtol=1e-6)

