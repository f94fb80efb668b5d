"""Bidirectional LSTM over token embeddings: learned (``bilstm``) or frozen GloVe (``glove-bilstm``)."""

import logging

import keras

from lexiclass.models.heads import classification_head, layer_dtype


def glove_embedding(config, vocabulary) -> keras.layers.Embedding:
    """An Embedding holding GloVe vectors for the vocabulary, frozen unless ``glove_trainable``.

    The matrix is assigned as the layer's weights, not through a ``Constant``
    initializer, so it is saved once in the weights and not again in the model config.
    """
    from lexiclass.embeddings.glove import embedding_matrix, load_glove

    matrix, coverage = embedding_matrix(vocabulary, load_glove(config.glove), config.max_tokens)
    logging.getLogger(__name__).info(
        "GloVe (%s): %d of %d vocabulary words have a vector (%.1f%%)", config.glove, coverage["found"],
        coverage["found"] + coverage["missing"], 100 * coverage["coverage"])
    layer = keras.layers.Embedding(config.max_tokens, matrix.shape[1], mask_zero=True,
                                   trainable=config.glove_trainable, dtype=layer_dtype(config),
                                   name="glove_embedding")
    layer.build((None, None))
    layer.set_weights([matrix])
    return layer


def build_bilstm(config, num_classes: int, vocabulary=None, glove: bool = False) -> keras.Model:
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, seq)
    dtype = layer_dtype(config)
    if glove:
        embedding = glove_embedding(config, vocabulary)
    else:
        embedding = keras.layers.Embedding(config.max_tokens, config.embed_dim, mask_zero=True, dtype=dtype,
                                           name="embedding")
    x = embedding(inputs)  # (batch, seq, dim), mask (batch, seq)
    lstm = keras.layers.LSTM(config.lstm_units, dtype=dtype)
    x = keras.layers.Bidirectional(lstm, dtype=dtype, name="bilstm")(x)  # (batch, 2 * units)
    x = keras.layers.Dropout(config.dropout, dtype=dtype, name="dropout")(x)
    outputs = classification_head(x, num_classes, config.multi_label)
    return keras.Model(inputs, outputs, name="glove_bilstm" if glove else "bilstm")


def build_glove_bilstm(config, num_classes: int, vocabulary=None) -> keras.Model:
    return build_bilstm(config, num_classes, vocabulary, glove=True)
