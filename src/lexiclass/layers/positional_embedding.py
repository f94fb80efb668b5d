"""Token embeddings plus position embeddings (learned, as in the book, or fixed sinusoids)."""

import math

import keras
import numpy as np
from keras import ops


def sinusoidal_table(sequence_length, output_dim):
    """The fixed encoding of "Attention Is All You Need": PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    positions = np.arange(sequence_length, dtype=np.float64)[:, None]  # (seq, 1)
    rates = np.exp(-math.log(10000.0) * (np.arange(0, output_dim, 2) / output_dim))  # (ceil(d/2),)
    table = np.zeros((sequence_length, output_dim))
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: output_dim // 2])
    return table.astype("float32")  # (seq, output_dim)


@keras.saving.register_keras_serializable(package="lexiclass")
class PositionalEmbedding(keras.layers.Layer):
    """Sum of a token embedding and an embedding of each token's position ``0 .. length - 1``.

    Args:
        sequence_length: the longest sequence the layer accepts (number of positions).
        input_dim: vocabulary size (token ids are ``0 .. input_dim - 1``; 0 is padding).
        output_dim: size of each embedding vector.
        position_encoding: ``"learned"`` (an ``Embedding(sequence_length, output_dim)``,
            the book's choice) or ``"sinusoidal"`` (fixed, no weights).
        **kwargs: base `keras.layers.Layer` arguments.

    Masking: produces the mask ``inputs != 0``, so padding (id 0) is masked for the
    layers that follow. Inputs may be shorter than ``sequence_length`` (e.g. in
    length-bucketed batches); positions always start at 0, so a text gets the same
    vectors whatever padding follows it.

    Example:
    >>> tokens = keras.Input(shape=(None,), dtype="int32")
    >>> x = PositionalEmbedding(600, 20000, 256)(tokens)  # (batch, seq, 256), mask (batch, seq)
    """

    def __init__(self, sequence_length, input_dim, output_dim, position_encoding="learned", **kwargs):
        super().__init__(**kwargs)
        if position_encoding not in ("learned", "sinusoidal"):
            raise ValueError(f"position_encoding must be 'learned' or 'sinusoidal', got {position_encoding!r}")
        self.sequence_length = sequence_length
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.position_encoding = position_encoding
        self.token_embeddings = keras.layers.Embedding(input_dim, output_dim, dtype=self.dtype_policy,
                                                       name="token_embedding")
        self.position_embeddings = None
        if position_encoding == "learned":
            self.position_embeddings = keras.layers.Embedding(sequence_length, output_dim, dtype=self.dtype_policy,
                                                              name="position_embedding")

    def build(self, input_shape):
        self.token_embeddings.build(input_shape)
        if self.position_embeddings is not None:
            self.position_embeddings.build((self.sequence_length,))
        else:
            self.sinusoids = ops.convert_to_tensor(sinusoidal_table(self.sequence_length, self.output_dim))
        super().build(input_shape)

    def call(self, inputs):
        length = ops.shape(inputs)[-1]
        if self.position_embeddings is not None:
            positions = self.position_embeddings(ops.arange(0, length))  # (seq, output_dim)
        else:
            positions = ops.cast(self.sinusoids[:length], self.compute_dtype)  # (seq, output_dim)
        return self.token_embeddings(inputs) + positions  # (batch, seq, output_dim)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "sequence_length": self.sequence_length,
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "position_encoding": self.position_encoding,
        })
        return config
