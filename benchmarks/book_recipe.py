"""The book's positional Transformer recipe (Deep Learning with Python, ch. 11, listings 11-21 to 11-25), as
the baseline that lexiclass's speed is measured against. Reference code for benchmarks only.

Written from the seed's notes (../shared/seed/chapter11-notes.txt). Ported only where Keras 3
requires: ``tf.newaxis`` / ``tf.range`` / ``tf.shape`` become ``keras.ops`` (the same
computation), and ``compute_mask`` uses ``keras.ops.not_equal``. Everything else is as
the book has it: fixed 600-token padding from ``TextVectorization(output_sequence_length=600)``
in a ``tf.data`` pipeline, learned position embeddings, ``MultiHeadAttention(key_dim=embed_dim)``,
``GlobalMaxPooling1D`` (which ignores the padding mask), RMSprop, batch 32, float32.
"""

from __future__ import annotations

import keras
from keras import layers, ops

SEQUENCE_LENGTH, VOCAB_SIZE, EMBED_DIM, DENSE_DIM, NUM_HEADS, BATCH_SIZE = 600, 20000, 256, 32, 2, 32


class BookTransformerEncoder(layers.Layer):
    def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.dense_dim, self.num_heads = embed_dim, dense_dim, num_heads
        self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.dense_proj = keras.Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm_1 = layers.LayerNormalization()
        self.layernorm_2 = layers.LayerNormalization()

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = mask[:, None, :]  # (batch, 1, seq): the attention layer expects 3D
        attention_output = self.attention(inputs, inputs, attention_mask=mask)
        proj_input = self.layernorm_1(inputs + attention_output)
        proj_output = self.dense_proj(proj_input)
        return self.layernorm_2(proj_input + proj_output)

    def get_config(self):
        config = super().get_config()
        config.update({"embed_dim": self.embed_dim, "num_heads": self.num_heads, "dense_dim": self.dense_dim})
        return config


class BookPositionalEmbedding(layers.Layer):
    def __init__(self, sequence_length, input_dim, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_embeddings = layers.Embedding(input_dim=input_dim, output_dim=output_dim)
        self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=output_dim)
        self.sequence_length, self.input_dim, self.output_dim = sequence_length, input_dim, output_dim

    def call(self, inputs):
        length = ops.shape(inputs)[-1]
        positions = ops.arange(0, length, 1)
        return self.token_embeddings(inputs) + self.position_embeddings(positions)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def get_config(self):
        config = super().get_config()
        config.update({"output_dim": self.output_dim, "sequence_length": self.sequence_length,
                       "input_dim": self.input_dim})
        return config


def build_book_model() -> keras.Model:
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = BookPositionalEmbedding(SEQUENCE_LENGTH, VOCAB_SIZE, EMBED_DIM)(inputs)
    x = BookTransformerEncoder(EMBED_DIM, DENSE_DIM, NUM_HEADS)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def book_vectorization(train_texts) -> layers.TextVectorization:
    """The book's ``TextVectorization``: 20,000 words, int ids padded or cut to 600, adapted on training text."""
    import tensorflow as tf

    vectorization = layers.TextVectorization(max_tokens=VOCAB_SIZE, output_mode="int",
                                             output_sequence_length=SEQUENCE_LENGTH)
    vectorization.adapt(tf.data.Dataset.from_tensor_slices(list(train_texts)).batch(1024))
    return vectorization


def book_dataset(vectorization, texts, labels=None):
    """Raw texts -> (batch of 32, 600) ids in ``tf.data``, as the book's ``int_train_ds`` (4 parallel maps)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(list(texts) if labels is None else (list(texts), labels))
    ds = ds.batch(BATCH_SIZE)
    if labels is None:
        return ds.map(vectorization, num_parallel_calls=4)
    return ds.map(lambda x, y: (vectorization(x), y), num_parallel_calls=4)
