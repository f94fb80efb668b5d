import json

import keras
import numpy as np

from lexiclass.layers import TransformerEncoder


def make(embed_dim=8, dense_dim=4, num_heads=2):
    return TransformerEncoder(embed_dim=embed_dim, dense_dim=dense_dim, num_heads=num_heads, name="enc")


def test_output_shape_and_sublayers():
    layer = make()
    x = np.random.default_rng(0).normal(size=(3, 5, 8)).astype("float32")
    assert tuple(layer(x).shape) == (3, 5, 8)
    assert layer.attention.name == "attention" and layer.dense_proj.name == "dense_proj"
    assert layer.attention.get_config()["key_dim"] == 8  # key_dim = embed_dim, as in the book


def test_attention_scores_ignore_padding():
    layer = make()
    x = np.random.default_rng(1).normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    _, scores = layer(x, mask=mask, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)  # (batch, heads, seq, seq)
    assert scores.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(scores[0, :, :3, 3:], 0, atol=1e-7)
    np.testing.assert_allclose(scores.sum(-1), 1, atol=1e-5)


def test_real_positions_do_not_depend_on_padding():
    layer = make()
    rng = np.random.default_rng(2)
    real = rng.normal(size=(1, 4, 8)).astype("float32")
    short = layer(real, mask=np.ones((1, 4), bool))
    padded = np.concatenate([real, rng.normal(size=(1, 9, 8)).astype("float32")], axis=1)
    long = layer(padded, mask=np.array([[1] * 4 + [0] * 9], bool))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(short), keras.ops.convert_to_numpy(long)[:, :4], atol=1e-5)


def test_mask_propagates_through_a_model():
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(tokens)
    x = make()(x)
    model = keras.Model(tokens, x)
    ids = np.array([[3, 4, 0, 0]])
    out_mask = model.layers[-1].compute_mask(None, mask=ids != 0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out_mask), ids != 0)


def test_training_step_changes_weights():
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(tokens)
    x = make()(x)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(tokens, out)
    model.compile("rmsprop", "binary_crossentropy")
    before = [w.copy() for w in model.get_layer("enc").get_weights()]
    model.fit(np.array([[1, 2, 3, 0], [4, 5, 0, 0]]), np.array([0, 1]), epochs=1, verbose=0)
    after = model.get_layer("enc").get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_config_round_trip_through_json():
    layer = make(embed_dim=16, dense_dim=7, num_heads=3)
    config = json.loads(json.dumps(layer.get_config()))
    assert {k: config[k] for k in ("embed_dim", "dense_dim", "num_heads", "name")} == {
        "embed_dim": 16, "dense_dim": 7, "num_heads": 3, "name": "enc"}
    again = TransformerEncoder.from_config(config)
    assert again.get_config() == layer.get_config()


def test_save_and_load_give_identical_predictions(tmp_path):
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(tokens)
    out = keras.layers.Dense(2)(make()(x))
    model = keras.Model(tokens, out)
    ids = np.array([[1, 5, 7, 0, 0], [3, 2, 9, 4, 6]])
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")  # no custom_objects: the layer is registered
    np.testing.assert_array_equal(model.predict(ids, verbose=0), again.predict(ids, verbose=0))
