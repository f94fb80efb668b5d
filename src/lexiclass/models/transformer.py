"""Transformer encoder classifiers: without positions (``transformer``) and with them (``positional-transformer``)."""

import keras

from lexiclass.layers import MaskedGlobalMaxPooling1D, PositionalEmbedding, TransformerEncoder
from lexiclass.models.heads import classification_head, layer_dtype


def build_transformer(config, num_classes: int, vocabulary=None, positional: bool = False) -> keras.Model:
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, seq)
    dtype = layer_dtype(config)
    if positional:
        x = PositionalEmbedding(config.sequence_length, config.max_tokens, config.embed_dim,
                                position_encoding=config.position_encoding, dtype=dtype,
                                name="positional_embedding")(inputs)
    else:
        x = keras.layers.Embedding(config.max_tokens, config.embed_dim, mask_zero=True, dtype=dtype,
                                   name="embedding")(inputs)
    # (batch, seq, embed_dim), padding mask (batch, seq)
    x = TransformerEncoder(config.embed_dim, config.dense_dim, config.num_heads, dtype=dtype,
                           name="transformer_encoder")(x)
    x = MaskedGlobalMaxPooling1D(dtype=dtype, name="max_pool")(x)  # (batch, embed_dim); padding never enters the max
    x = keras.layers.Dropout(config.dropout, dtype=dtype, name="dropout")(x)
    name = "positional_transformer" if positional else "transformer"
    return keras.Model(inputs, classification_head(x, num_classes, config.multi_label), name=name)


def build_positional_transformer(config, num_classes: int, vocabulary=None) -> keras.Model:
    return build_transformer(config, num_classes, vocabulary, positional=True)
