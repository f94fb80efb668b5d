"""Bag of n-grams: multi-hot or TF-IDF vector -> Dense(16, relu) -> Dropout(0.5) -> classifier."""

import keras

from lexiclass.models.heads import classification_head


def build_bow(config, num_classes: int, vocabulary=None) -> keras.Model:
    inputs = keras.Input(shape=(config.max_tokens,), name="ngram_vector")  # (batch, max_tokens)
    x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(inputs)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    return keras.Model(inputs, classification_head(x, num_classes), name="bow")
