"""`Vectorizer`: Keras `TextVectorization`, adapted on training text only, saved and restored identically.

Two kinds:
- ``int``: text -> token ids (0 = padding, 1 = out-of-vocabulary), lower-cased,
  punctuation stripped, split on whitespace. Lengths are kept variable here;
  truncation and padding happen in `lexiclass.text.batching`.
- ``multi_hot`` / ``tf_idf`` with ``ngrams``: text -> a (max_tokens,) vector for the
  bag-of-words model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError

VOCAB_FILE = "vocabulary.txt"
SPEC_FILE = "vectorizer.json"
IDF_FILE = "idf_weights.npy"


def _text_vectorization(**kwargs):
    # TextVectorization is built on TensorFlow's string ops whatever the Keras backend.
    import keras

    return keras.layers.TextVectorization(**kwargs)


class Vectorizer:
    """Wraps one adapted ``TextVectorization`` layer; see the module docstring for the kinds."""

    def __init__(self, output_mode: str = "int", max_tokens: int = 20000, ngrams: int | None = None):
        self.output_mode = output_mode
        self.max_tokens = max_tokens
        self.ngrams = ngrams if output_mode != "int" else None
        self.layer = None

    def _make_layer(self, vocabulary=None, idf_weights=None):
        kwargs = dict(max_tokens=self.max_tokens, output_mode=self.output_mode, vocabulary=vocabulary)
        if self.output_mode == "int":
            kwargs["ragged"] = True  # keep every text's own length
        else:
            kwargs["ngrams"] = self.ngrams
            if self.output_mode == "tf_idf" and idf_weights is not None:
                kwargs["idf_weights"] = idf_weights
        return _text_vectorization(**kwargs)

    def adapt(self, texts: list[str], batch_size: int = 1024) -> "Vectorizer":
        import tensorflow as tf

        self.layer = self._make_layer()
        self.layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size))
        return self

    @property
    def vocabulary(self) -> list[str]:
        return [str(token) for token in self.layer.get_vocabulary()]

    def token_ids(self, texts: list[str], batch_size: int = 4096) -> list[np.ndarray]:
        """Variable-length int32 token ids per text (``int`` mode only)."""
        if self.output_mode != "int":
            raise LexiclassError("token_ids() needs an int-mode vectorizer")
        out = []
        for start in range(0, len(texts), batch_size):
            ragged = self.layer(list(texts[start:start + batch_size]))
            values = np.asarray(ragged.flat_values, dtype=np.int32)
            splits = np.asarray(ragged.row_splits)
            out.extend(np.split(values, splits[1:-1]))
        return out

    def vectors(self, texts: list[str]) -> np.ndarray:
        """(len(texts), max_tokens) float32 n-gram vectors (bag-of-words modes only)."""
        return np.asarray(self.layer(list(texts)), dtype=np.float32)

    # --- persistence ------------------------------------------------------------------
    def spec(self) -> dict:
        return {"output_mode": self.output_mode, "max_tokens": self.max_tokens, "ngrams": self.ngrams}

    def save(self, directory: str | os.PathLike) -> None:
        from lexiclass.atomic import write_bytes as atomic_write_bytes, write_text as atomic_write_text

        directory = Path(directory)
        # One token per line: tokens never contain newlines (splitting is on whitespace).
        atomic_write_text(directory / VOCAB_FILE, "\n".join(self.vocabulary) + "\n")
        atomic_write_text(directory / SPEC_FILE, json.dumps(self.spec(), indent=2) + "\n")
        if self.output_mode == "tf_idf":
            import io

            store = {}
            self.layer.save_own_variables(store)  # the public way to read the adapted IDF weights
            buf = io.BytesIO()
            np.save(buf, np.asarray(store["idf_weights"], dtype=np.float32))
            atomic_write_bytes(directory / IDF_FILE, buf.getvalue())

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Vectorizer":
        directory = Path(directory)
        try:
            spec = json.loads((directory / SPEC_FILE).read_text(encoding="utf-8"))
            vocabulary = (directory / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:-1]
        except (OSError, json.JSONDecodeError) as exc:
            raise LexiclassError(f"{directory}: cannot read the saved vectorizer: {exc}") from exc
        self = cls(spec["output_mode"], spec["max_tokens"], spec["ngrams"])
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.load(directory / IDF_FILE)
        if self.output_mode == "int":
            vocabulary = vocabulary[2:]  # TextVectorization adds the padding "" and OOV "[UNK]" tokens itself
        self.layer = self._make_layer(vocabulary=vocabulary, idf_weights=idf)
        return self
