"""Every named model: builds, masks padding correctly, and the frozen GloVe embedding stays frozen."""

import keras
import numpy as np
import pytest

from lexiclass.models.registry import MODEL_NAMES, get_model_spec
from lexiclass.precision import PROBABILITY_TOLERANCE, resolve, tolerance
from tests.conftest import tiny_config

KERAS_MODELS = [m for m in MODEL_NAMES if m != "auto" and get_model_spec(m).needs_keras]
SEQUENCE_MODELS = [m for m in KERAS_MODELS if get_model_spec(m).create(tiny_config(m), 2).input_kind == "sequence"]


def vocab(n=200):
    return ["", "[UNK]"] + ["the", "movie", "good"] + [f"w{i}" for i in range(n - 5)]


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_padding_to_50_or_600_gives_the_same_prediction(name):
    config = tiny_config(name, sequence_length=600, dropout=0.5)
    model = get_model_spec(name).create(config, 2).build_network(vocab())
    review = np.random.default_rng(0).integers(2, 200, size=37)
    x50 = np.zeros((1, 50), "int32")
    x600 = np.zeros((1, 600), "int32")
    x50[0, :37] = x600[0, :37] = review
    p50 = model.predict(x50, verbose=0)
    p600 = model.predict(x600, verbose=0)
    # masks make padding irrelevant; bfloat16 may still round the two shapes' sums differently
    assert abs(float(p50[0, 0]) - float(p600[0, 0])) <= tolerance(PROBABILITY_TOLERANCE, resolve(config.precision, keras.backend.backend())[0])
    assert 0 < float(p50[0, 0]) < 1


@pytest.mark.parametrize("name", KERAS_MODELS)
@pytest.mark.parametrize("classes", [2, 4])
def test_output_head_follows_the_number_of_classes(name, classes):
    config = tiny_config(name)
    model = get_model_spec(name).create(config, classes).build_network(vocab())
    assert model.output_shape == (None, 1 if classes == 2 else classes)
    assert model.loss == ("binary_crossentropy" if classes == 2 else "sparse_categorical_crossentropy")


def test_glove_embedding_is_frozen_and_holds_the_vectors():
    from lexiclass.embeddings.glove import load_glove

    config = tiny_config("glove-bilstm")
    words = ["", "[UNK]", "the", "movie", "notawordxyz"] + [f"w{i}" for i in range(195)]
    model = get_model_spec("glove-bilstm").create(config, 2).build_network(words, compiled=False)
    embedding = model.get_layer("glove_embedding")
    assert embedding.trainable_weights == []  # not summary(): some Keras versions miscount there
    matrix = embedding.get_weights()[0]
    glove = load_glove()
    assert matrix.shape == (200, 50)
    np.testing.assert_array_equal(matrix[2], glove["the"])
    np.testing.assert_array_equal(matrix[3], glove["movie"])
    assert not matrix[[0, 1, 4]].any()
    assert "Constant" not in str(embedding.get_config())  # the matrix is not duplicated into the config


def test_unknown_model_name_lists_the_choices():
    from lexiclass.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown model 'gpt'; choose one of bow, bilstm"):
        get_model_spec("gpt")


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_bfloat16_precision_computes_in_bfloat16_and_outputs_float32(name):
    config = tiny_config(name, precision="bfloat16")
    model = get_model_spec(name).create(config, 2).build_network(vocab())
    inner = [l for l in model.layers if l.name not in ("classifier",) and not l.name.startswith("input")
             and l.name not in ("token_ids", "ngram_vector")]
    assert all(l.compute_dtype == "bfloat16" for l in inner), [(l.name, l.compute_dtype) for l in inner]
    assert all(w.dtype == "float32" for w in model.weights if "embedding" in w.path or "kernel" in w.path)
    x = np.ones((2, 200 if name == "bow" else 7), "int32" if name != "bow" else "float32")
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float32 and np.all((out > 0) & (out < 1))
