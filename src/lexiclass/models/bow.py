"""Bag of n-grams: multi-hot or TF-IDF vector -> Dense(16, relu) -> Dropout(0.5) -> classifier."""

import keras

from lexiclass.models.heads import classification_head, layer_dtype


def build_bow(config, num_classes: int, vocabulary=None) -> keras.Model:
    # The vectors have one entry per vocabulary n-gram: max_tokens, or fewer on a small corpus.
    width = len(vocabulary) if vocabulary is not None else config.max_tokens
    inputs = keras.Input(shape=(width,), name="ngram_vector")  # (batch, width)
    dtype = layer_dtype(config)
    x = keras.layers.Dense(config.hidden_units, activation="relu", dtype=dtype, name="hidden")(inputs)
    x = keras.layers.Dropout(config.dropout, dtype=dtype, name="dropout")(x)
    return keras.Model(inputs, classification_head(x, num_classes, config.multi_label), name="bow")
