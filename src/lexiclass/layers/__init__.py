"""Custom Keras layers. Importing this package registers them for `keras.models.load_model`."""

from lexiclass.layers.pooling import MaskedGlobalMaxPooling1D
from lexiclass.layers.positional_embedding import PositionalEmbedding
from lexiclass.layers.transformer_encoder import TransformerEncoder

__all__ = ["MaskedGlobalMaxPooling1D", "PositionalEmbedding", "TransformerEncoder"]
