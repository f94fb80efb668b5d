import json

import keras
import numpy as np
import pytest

from lexiclass.layers import PositionalEmbedding
from lexiclass.layers.positional_embedding import sinusoidal_table


@pytest.mark.parametrize("encoding", ["learned", "sinusoidal"])
def test_shape_and_mask(encoding):
    layer = PositionalEmbedding(10, 50, 6, position_encoding=encoding)
    ids = np.array([[4, 5, 0, 0], [1, 2, 3, 9]])
    out = layer(ids)
    assert tuple(out.shape) == (2, 4, 6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(ids)), ids != 0)


def test_output_is_token_plus_position_embedding():
    layer = PositionalEmbedding(10, 50, 6)
    ids = np.array([[7, 7, 7]])
    out = keras.ops.convert_to_numpy(layer(ids))
    tokens = layer.token_embeddings.get_weights()[0]
    positions = layer.position_embeddings.get_weights()[0]
    np.testing.assert_allclose(out[0], tokens[7] + positions[:3], atol=1e-6)


def test_sinusoidal_table_values():
    table = sinusoidal_table(50, 8)
    assert table.shape == (50, 8)
    np.testing.assert_allclose(table[0], [0, 1] * 4, atol=1e-7)
    np.testing.assert_allclose(table[3, 0], np.sin(3.0), atol=1e-6)
    np.testing.assert_allclose(table[3, 3], np.cos(3.0 / 10000 ** (2 / 8)), atol=1e-6)
    odd = sinusoidal_table(5, 7)
    assert odd.shape == (5, 7)


def test_sinusoidal_positions_have_no_weights():
    layer = PositionalEmbedding(10, 50, 6, position_encoding="sinusoidal")
    layer(np.array([[1, 2]]))
    assert len(layer.trainable_weights) == 1  # the token embedding only


def test_a_text_gets_the_same_vectors_whatever_padding_follows():
    layer = PositionalEmbedding(20, 50, 6)
    short = keras.ops.convert_to_numpy(layer(np.array([[3, 4, 5]])))
    long = keras.ops.convert_to_numpy(layer(np.array([[3, 4, 5] + [0] * 12])))
    np.testing.assert_allclose(short, long[:, :3], atol=0)


def test_training_step_updates_both_embeddings():
    tokens = keras.Input(shape=(8,), dtype="int32")
    x = PositionalEmbedding(8, 20, 4, name="pe")(tokens)
    out = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(tokens, out)
    model.compile("sgd", "mse")
    before = [w.copy() for w in model.get_layer("pe").get_weights()]
    model.fit(np.array([[1, 2, 3, 4, 5, 6, 7, 1]]), np.array([1.0]), verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_layer("pe").get_weights()))


def test_config_round_trip_through_json():
    layer = PositionalEmbedding(600, 20000, 256, position_encoding="sinusoidal", name="pos")
    config = json.loads(json.dumps(layer.get_config()))
    assert {k: config[k] for k in ("sequence_length", "input_dim", "output_dim", "position_encoding")} == {
        "sequence_length": 600, "input_dim": 20000, "output_dim": 256, "position_encoding": "sinusoidal"}
    assert PositionalEmbedding.from_config(config).get_config() == layer.get_config()


def test_bad_encoding_is_rejected():
    with pytest.raises(ValueError, match="position_encoding must be"):
        PositionalEmbedding(5, 5, 5, position_encoding="rotary")


@pytest.mark.parametrize("encoding", ["learned", "sinusoidal"])
def test_save_and_load_give_identical_predictions(tmp_path, encoding):
    tokens = keras.Input(shape=(None,), dtype="int32")
    out = keras.layers.Dense(2)(PositionalEmbedding(12, 30, 4, position_encoding=encoding)(tokens))
    model = keras.Model(tokens, out)
    ids = np.array([[1, 5, 7, 0], [3, 2, 9, 4]])
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(ids, verbose=0), again.predict(ids, verbose=0))
