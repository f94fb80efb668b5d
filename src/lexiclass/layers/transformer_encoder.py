"""The chapter-11 Transformer encoder block, in ``keras.ops`` only."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lexiclass")
class TransformerEncoder(keras.layers.Layer):
    """Self-attention plus a position-wise feed-forward projection, each with a residual and LayerNorm.

    ``x = layernorm_1(inputs + attention(inputs, inputs, inputs))``, then
    ``layernorm_2(x + dense_proj(x))`` where ``dense_proj`` is
    ``Dense(dense_dim, relu) -> Dense(embed_dim)`` (post-norm, as in the book).

    Args:
        embed_dim: size of each token vector, in and out.
        dense_dim: hidden size of the feed-forward projection.
        num_heads: attention heads; each has ``key_dim = embed_dim``, as in the book.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Masking: a ``(batch, seq)`` padding mask (e.g. from ``Embedding(mask_zero=True)``)
    becomes a ``(batch, 1, seq)`` attention mask, so no token attends to padding.
    The mask is passed on unchanged to the next layer. Padded positions still get
    outputs; downstream layers must ignore them (see `MaskedGlobalMaxPooling1D`).

    Example:
    >>> tokens = keras.Input(shape=(None,), dtype="int32")
    >>> x = keras.layers.Embedding(20000, 256, mask_zero=True)(tokens)
    >>> x = TransformerEncoder(embed_dim=256, dense_dim=32, num_heads=2)(x)  # (batch, seq, 256)
    """

    def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.dense_dim = dense_dim
        self.num_heads = num_heads
        self.supports_masking = True
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=embed_dim, dtype=self.dtype_policy, name="attention"
        )
        self.dense_proj = keras.Sequential(
            [
                keras.layers.Dense(dense_dim, activation="relu", dtype=self.dtype_policy, name="dense_hidden"),
                keras.layers.Dense(embed_dim, dtype=self.dtype_policy, name="dense_out"),
            ],
            name="dense_proj",
        )
        self.layernorm_1 = keras.layers.LayerNormalization(dtype=self.dtype_policy, name="layernorm_1")
        self.layernorm_2 = keras.layers.LayerNormalization(dtype=self.dtype_policy, name="layernorm_2")

    def build(self, input_shape):
        # Build sublayers now so that a saved model's weights load before the first call.
        self.attention.build(input_shape, input_shape)
        self.dense_proj.build(input_shape)
        self.layernorm_1.build(input_shape)
        self.layernorm_2.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, mask=None, return_attention_scores=False, training=None):
        attention_mask = None
        if mask is not None:
            attention_mask = ops.expand_dims(ops.cast(mask, "bool"), axis=1)  # (batch, 1, seq)
        attended = self.attention(
            inputs, inputs, inputs, attention_mask=attention_mask,
            return_attention_scores=return_attention_scores, training=training,
        )
        if return_attention_scores:
            attended, scores = attended  # scores: (batch, heads, seq, seq)
        x = self.layernorm_1(inputs + attended)  # (batch, seq, embed_dim)
        outputs = self.layernorm_2(x + self.dense_proj(x))  # (batch, seq, embed_dim)
        return (outputs, scores) if return_attention_scores else outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"embed_dim": self.embed_dim, "dense_dim": self.dense_dim, "num_heads": self.num_heads})
        return config
