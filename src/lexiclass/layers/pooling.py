"""Global max pooling over time that respects the padding mask."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lexiclass")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Maximum over the time axis of the unmasked positions only.

    Keras 3's ``GlobalMaxPooling1D`` ignores the mask, so padded positions enter the
    max and a text's prediction depends on how much padding its batch has. Here
    padded positions are excluded; a text with no real token at all pools to zeros.

    Args:
        **kwargs: base `keras.layers.Layer` arguments.

    Masking: consumes a ``(batch, seq)`` mask and passes none on.

    Example:
    >>> x = keras.ops.ones((2, 5, 8))
    >>> mask = keras.ops.convert_to_tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], "bool")
    >>> MaskedGlobalMaxPooling1D()(x, mask=mask).shape
    (2, 8)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)  # (batch, seq, 1)
        lowest = ops.convert_to_tensor(float("-inf"), dtype=inputs.dtype)
        pooled = ops.max(ops.where(mask, inputs, lowest), axis=1)  # (batch, features)
        has_tokens = ops.any(mask, axis=1)  # (batch, 1)
        return ops.where(has_tokens, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
