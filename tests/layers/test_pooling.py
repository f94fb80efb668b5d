import json

import keras
import numpy as np

from lexiclass.layers import MaskedGlobalMaxPooling1D


def test_padding_never_enters_the_max():
    x = np.array([[[1.0, -5.0], [2.0, -4.0], [100.0, 100.0]]], dtype="float32")  # last step is padding
    mask = np.array([[True, True, False]])
    out = keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D()(x, mask=mask))
    np.testing.assert_array_equal(out, [[2.0, -4.0]])
    # Keras' own layer takes no mask, so padding enters its max: the pitfall this layer exists for.
    assert keras.ops.convert_to_numpy(keras.layers.GlobalMaxPooling1D()(x))[0, 0] == 100.0


def test_without_mask_it_is_a_plain_max_and_empty_rows_pool_to_zero():
    x = np.array([[[1.0], [3.0]], [[-2.0], [-1.0]]], dtype="float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D()(x)), [[3.0], [-1.0]])
    out = keras.ops.convert_to_numpy(MaskedGlobalMaxPooling1D()(x, mask=np.array([[False, False], [True, False]])))
    np.testing.assert_array_equal(out, [[0.0], [-2.0]])


def test_mask_is_consumed_in_a_model_and_config_round_trips(tmp_path):
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    pooled = MaskedGlobalMaxPooling1D(name="pool")(x)
    model = keras.Model(tokens, pooled)
    assert model.get_layer("pool").compute_mask(None, np.ones((1, 2), bool)) is None
    ids = np.array([[1, 2, 0, 0, 0], [4, 0, 0, 0, 0]])
    weights = model.layers[1].get_weights()[0]
    np.testing.assert_allclose(model.predict(ids, verbose=0)[1], weights[4], atol=1e-7)
    config = json.loads(json.dumps(model.get_layer("pool").get_config()))
    assert MaskedGlobalMaxPooling1D.from_config(config).name == "pool"
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "m.keras").predict(ids, verbose=0),
                                  model.predict(ids, verbose=0))


def test_a_training_step_reaches_real_tokens_only():
    keras.utils.set_random_seed(0)
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True, name="embedding")(tokens)  # (batch, seq, 4), mask (batch, seq)
    x = MaskedGlobalMaxPooling1D()(x)  # (batch, 4)
    model = keras.Model(tokens, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    before = model.get_layer("embedding").get_weights()[0].copy()
    model.train_on_batch(np.array([[1, 2, 0, 0], [3, 0, 0, 0]]), np.array([1.0, 0.0]))
    after = model.get_layer("embedding").get_weights()[0]
    changed = np.abs(after - before).max(axis=1) > 0  # (10,) which token rows the step moved
    assert not changed[0]  # padding never takes part in the max
    assert not changed[4:].any()  # tokens not in the batch
    assert changed[3]  # the only token of the second text is its max everywhere
