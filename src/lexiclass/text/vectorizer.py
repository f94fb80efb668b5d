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
        """Build the vocabulary from ``texts`` (training texts only), showing progress."""
        import tensorflow as tf

        from lexiclass.progress import progress

        texts = list(texts)

        def batches():  # a generator, so the progress bar advances as TensorFlow reads
            with progress(total=len(texts), desc="building vocabulary", unit="text") as bar:
                for start in range(0, len(texts), batch_size):
                    chunk = texts[start:start + batch_size]
                    yield chunk
                    bar.update(len(chunk))

        self.layer = self._make_layer()
        signature = tf.TensorSpec(shape=(None,), dtype=tf.string)
        self.layer.adapt(tf.data.Dataset.from_generator(batches, output_signature=signature))
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
        """Restore a saved vectorizer; every file is checked and a damaged one named in a one-line error."""
        directory = Path(directory)
        spec = _read_spec(directory / SPEC_FILE)
        vocabulary = _read_vocabulary(directory / VOCAB_FILE, spec)
        self = cls(spec["output_mode"], spec["max_tokens"], spec["ngrams"])
        idf = None
        if self.output_mode == "tf_idf":
            idf = _read_idf(directory / IDF_FILE, len(vocabulary))
        if self.output_mode == "int":
            vocabulary = vocabulary[2:]  # TextVectorization adds the padding "" and OOV "[UNK]" tokens itself
        try:
            self.layer = self._make_layer(vocabulary=vocabulary, idf_weights=idf)
        except Exception as exc:  # TextVectorization's own checks (e.g. a token it reserves)
            raise LexiclassError(f"{directory / VOCAB_FILE} is damaged: {str(exc).splitlines()[0][:200]}") from None
        return self


def _read_spec(path: Path) -> dict:
    from lexiclass.run_dir import read_json

    spec = read_json(path)
    mode, max_tokens, ngrams = spec.get("output_mode"), spec.get("max_tokens"), spec.get("ngrams")
    if mode not in ("int", "multi_hot", "tf_idf"):
        raise LexiclassError(f"{path} is damaged: output_mode {mode!r} is not int, multi_hot or tf_idf")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 3 <= max_tokens <= 10_000_000:
        raise LexiclassError(f"{path} is damaged: max_tokens {max_tokens!r} is not an integer in [3, 10,000,000]")
    if mode != "int" and (isinstance(ngrams, bool) or not isinstance(ngrams, int) or not 1 <= ngrams <= 10):
        raise LexiclassError(f"{path} is damaged: ngrams {ngrams!r} is not an integer in [1, 10]")
    return spec


def _read_vocabulary(path: Path, spec: dict) -> list[str]:
    """One token per line; for ``int`` vectorizers the first two are padding "" and "[UNK]"."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise LexiclassError(f"{path} is missing: is {path.parent} a lexiclass run directory?") from None
    except UnicodeDecodeError as exc:
        raise LexiclassError(f"{path} is damaged: not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise LexiclassError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.endswith("\n"):
        raise LexiclassError(f"{path} is damaged: truncated (it must end with a newline)")
    vocabulary = text.split("\n")[:-1]
    reserved = ["", "[UNK]"] if spec["output_mode"] == "int" else ["[UNK]"]
    if vocabulary[:len(reserved)] != reserved:
        raise LexiclassError(f"{path} is damaged: it must start with the reserved tokens {reserved}")
    if len(vocabulary) > spec["max_tokens"]:
        raise LexiclassError(f"{path} is damaged: {len(vocabulary):,} tokens, more than max_tokens = "
                             f"{spec['max_tokens']:,}")
    seen = set()
    for line, token in enumerate(vocabulary, start=1):
        if token in seen:
            raise LexiclassError(f"{path}, line {line}: token {token[:40]!r} appears twice")
        seen.add(token)
    return vocabulary


def _read_idf(path: Path, size: int) -> np.ndarray:
    try:
        idf = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise LexiclassError(f"{path} is missing: is {path.parent} a lexiclass run directory?") from None
    except (OSError, ValueError, EOFError) as exc:
        raise LexiclassError(f"{path} is damaged: {str(exc).splitlines()[0][:200]}") from None
    if idf.ndim != 1 or len(idf) != size or not np.issubdtype(idf.dtype, np.floating) or not np.isfinite(idf).all():
        raise LexiclassError(f"{path} is damaged: expected {size} finite IDF weights, got shape {idf.shape}")
    return idf
