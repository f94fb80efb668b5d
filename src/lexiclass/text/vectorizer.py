"""`Vectorizer`: text -> token ids (sequence models) or n-gram vectors (bag of words), in Python and NumPy.

It computes exactly what Keras' ``TextVectorization`` with its default
``lower_and_strip_punctuation`` standardization and whitespace split computes (tested
against it), so runs saved by earlier lexiclass versions load unchanged, and no Keras
backend needs TensorFlow to turn text into model inputs:

1. lower-case A-Z only (TensorFlow's ``tf.strings.lower`` is ASCII-only);
2. delete ASCII punctuation ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``;
3. split on runs of ASCII whitespace (space, tab, newline, CR, VT, FF);
4. ``int``: each word's index in the vocabulary (0 = padding, 1 = out-of-vocabulary).
   ``multi_hot`` / ``tf_idf``: every run of 1..``ngrams`` words joined by one space,
   counted into a (vocabulary,) vector: 1.0 where present, or count x IDF; n-grams
   outside the vocabulary land in index 0 ("[UNK]").

The vocabulary is the most frequent tokens of the training texts, ties broken by the
token in reverse code-point order, as ``TextVectorization.adapt`` orders them.
Lengths are kept variable here; truncation and padding happen in `lexiclass.text.batching`.

``tokenizer="sentencepiece"`` replaces step 3's words by sub-word pieces of a SentencePiece
model learned from the training texts after steps 1-2 (`lexiclass.text.subword`): ``int``
ids are then piece ids (still 0 = padding, 1 = out-of-vocabulary) and n-grams are runs of
pieces. The default ``tokenizer="word"`` is the path above, unchanged.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np

from lexiclass.atomic import write_bytes as atomic_write_bytes, write_text as atomic_write_text
from lexiclass.errors import LexiclassError, first_line
from lexiclass.progress import progress
from lexiclass.run_dir import read_json
from lexiclass.text.subword import SubwordModel
from lexiclass.text.tokens import ngrams, words

VOCAB_FILE = "vocabulary.txt"
SPEC_FILE = "vectorizer.json"
IDF_FILE = "idf_weights.npy"
PAD, OOV = "", "[UNK]"
TOKENIZERS = ("word", "sentencepiece")
PROGRESS_MIN_TEXTS = 5000  # about a second of n-gram counting: below this no progress bar
FLUSH_ENTRIES = 1 << 20  # sparse_vectors turns its lists into arrays every this many entries


class Vectorizer:
    """Token ids or n-gram vectors over a vocabulary learned by `adapt`; see the module docstring.

    Args:
        output_mode: ``"int"`` (token ids), ``"multi_hot"`` or ``"tf_idf"`` (n-gram vectors).
        max_tokens: vocabulary size, reserved tokens included (two for ``int``: padding and
            "[UNK]"; one for the others: "[UNK]").
        ngrams: the longest n-gram (vector modes only).
        tokenizer: ``"word"`` (whitespace words) or ``"sentencepiece"`` (sub-word pieces learned by `adapt`).
    """

    def __init__(self, output_mode: str = "int", max_tokens: int = 20000, ngrams: int | None = None,
                 tokenizer: str = "word"):
        if tokenizer not in TOKENIZERS:
            raise LexiclassError(f"tokenizer {tokenizer!r} is not one of {', '.join(TOKENIZERS)}")
        self.output_mode = output_mode
        self.max_tokens = max_tokens
        self.ngrams = ngrams if output_mode != "int" else None
        self.tokenizer = tokenizer
        self.subword = None  # the learned `SubwordModel` (tokenizer "sentencepiece" only)
        self.vocabulary: list[str] | None = None  # reserved tokens first
        self.idf_weights: np.ndarray | None = None  # (vocabulary,) float32, tf_idf only
        self._index: dict[str, int] = {}

    @property
    def reserved(self) -> list[str]:
        return [PAD, OOV] if self.output_mode == "int" else [OOV]

    def _tokens(self, text: str) -> list[str]:
        tokens = self.tokens(text)
        return tokens if self.output_mode == "int" else ngrams(tokens, self.ngrams)

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``, one per `token_ids` id: words, or sub-word pieces (``▁`` starts a word).

        Out-of-vocabulary tokens keep their own spelling (their id is 1).
        """
        return words(text) if self.subword is None else self.subword.encode_pieces(text)

    def _set_vocabulary(self, vocabulary: list[str], idf_weights: np.ndarray | None = None) -> "Vectorizer":
        self.vocabulary = list(vocabulary)
        self._index = {token: i for i, token in enumerate(self.vocabulary)}
        self.idf_weights = idf_weights
        return self

    def adapt(self, texts: list[str]) -> "Vectorizer":
        """Build the vocabulary (and IDF weights) from ``texts`` (training texts only), showing progress."""
        counts, documents = Counter(), Counter()
        texts = list(texts)
        if self.tokenizer == "sentencepiece":
            self.subword = SubwordModel.learn(texts, self.max_tokens)
            if self.output_mode == "int":  # the pieces are the vocabulary, in their own id order
                return self._set_vocabulary(self.subword.pieces())
        for text in progress(texts, total=len(texts), desc="building vocabulary", unit="text"):
            tokens = self._tokens(text)
            counts.update(tokens)
            if self.output_mode == "tf_idf":
                documents.update(set(tokens))
        # Most frequent first; ties by the token itself, in reverse order (TextVectorization's order).
        learned = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        learned = [token for token, _ in learned[:max(self.max_tokens - len(self.reserved), 0)]]
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.array([math.log(1 + len(texts) / (1 + documents[t])) for t in learned], dtype=np.float32)
            # "[UNK]" gets the mean IDF: the real one is unknown after a single pass.
            idf = np.concatenate([[idf.mean() if len(idf) else 0.0], idf]).astype(np.float32)
        return self._set_vocabulary(self.reserved + learned, idf)

    def _require(self, *modes: str) -> None:
        if self.vocabulary is None:
            raise LexiclassError("the vectorizer has no vocabulary yet: adapt() or load() it first")
        if self.output_mode not in modes:
            raise LexiclassError(f"this needs a {' or '.join(modes)} vectorizer, not {self.output_mode}")

    def token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """Variable-length int32 token ids per text (``int`` mode only); 1 for a word not in the vocabulary."""
        self._require("int")
        if self.subword is not None:
            return self.subword.encode(list(texts))
        get = self._index.get
        return [np.array([get(w, 1) for w in words(text)], dtype=np.int32) for text in texts]

    def sparse_vectors(self, texts: list[str]):
        """(len(texts), vocabulary) float32 CSR matrix of n-gram vectors (vector modes only)."""
        import scipy.sparse  # deferred on purpose: ~0.5 s to import, and only n-gram vectors need it

        self._require("multi_hot", "tf_idf")
        get = self._index.get
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        # Python lists cost 8 bytes per entry, twice the arrays' 4, so they become arrays every
        # ~1M entries (benchmarks/bow_memory.py: building peaks at 1.2x the matrix for multi-hot, 1.8x
        # for TF-IDF, where the lists took 2.9x).
        index_parts, value_parts, indices, counts = [], [], [], []
        tf_idf = self.output_mode == "tf_idf"

        def flush():
            part = np.asarray(indices, dtype=np.int32)
            index_parts.append(part)
            if tf_idf:
                value_parts.append(np.asarray(counts, dtype=np.float32) * self.idf_weights[part])
            indices.clear()
            counts.clear()

        # A training set takes seconds (once per fit); a prediction batch stays silent.
        quiet = {"disable": True} if len(texts) < PROGRESS_MIN_TEXTS else {}
        for row, text in enumerate(progress(texts, total=len(texts), desc="n-gram vectors", unit="text", **quiet)):
            found = Counter(get(token, 0) for token in self._tokens(text))  # index -> count
            indices.extend(found)
            if tf_idf:
                counts.extend(found.values())
            indptr[row + 1] = indptr[row] + len(found)
            if len(indices) >= FLUSH_ENTRIES:
                flush()
        flush()
        indices = np.concatenate(index_parts)
        del index_parts
        values = np.concatenate(value_parts).astype(np.float32, copy=False) if tf_idf else \
            np.ones(len(indices), dtype=np.float32)
        del value_parts
        matrix = scipy.sparse.csr_matrix((values, indices, indptr), shape=(len(texts), len(self.vocabulary)))
        matrix.sort_indices()
        return matrix

    def vectors(self, texts: list[str]) -> np.ndarray:
        """(len(texts), vocabulary) float32 n-gram vectors (vector modes only)."""
        return self.sparse_vectors(texts).toarray()

    def keras_layer(self):
        """An equivalent Keras ``TextVectorization`` layer (TensorFlow; used to export a SavedModel)."""
        import keras  # deferred on purpose: Keras loads its backend framework (seconds), only export needs it

        self._require("int", "multi_hot", "tf_idf")
        if self.tokenizer != "word":
            raise LexiclassError(f"a {self.tokenizer} vectorizer has no Keras TextVectorization equivalent")
        # TextVectorization adds padding and "[UNK]" to an int vocabulary itself; it accepts "[UNK]" first otherwise.
        vocabulary = self.vocabulary[2:] if self.output_mode == "int" else self.vocabulary
        kwargs = dict(max_tokens=self.max_tokens, output_mode=self.output_mode, vocabulary=vocabulary)
        if self.output_mode == "int":
            kwargs["ragged"] = True  # every text keeps its own length
        else:
            kwargs["ngrams"] = self.ngrams
            if self.output_mode == "tf_idf":
                kwargs["idf_weights"] = self.idf_weights
        return keras.layers.TextVectorization(**kwargs)

    # --- persistence ------------------------------------------------------------------
    def spec(self) -> dict:
        spec = {"output_mode": self.output_mode, "max_tokens": self.max_tokens, "ngrams": self.ngrams}
        if self.tokenizer != "word":  # word runs keep the file earlier versions wrote
            spec["tokenizer"] = self.tokenizer
        return spec

    def save(self, directory: str | os.PathLike) -> None:
        self._require("int", "multi_hot", "tf_idf")
        directory = Path(directory)
        # One token per line: tokens never contain newlines (splitting is on whitespace).
        atomic_write_text(directory / VOCAB_FILE, "\n".join(self.vocabulary) + "\n")
        atomic_write_text(directory / SPEC_FILE, json.dumps(self.spec(), indent=2) + "\n")
        if self.output_mode == "tf_idf":
            buf = io.BytesIO()
            np.save(buf, np.asarray(self.idf_weights, dtype=np.float32))
            atomic_write_bytes(directory / IDF_FILE, buf.getvalue())
        if self.subword is not None:
            self.subword.save(directory)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Vectorizer":
        """Restore a saved vectorizer; every file is checked and a damaged one named in a one-line error."""
        directory = Path(directory)
        spec = _read_spec(directory / SPEC_FILE)
        self = cls(spec["output_mode"], spec["max_tokens"], spec["ngrams"], spec.get("tokenizer", "word"))
        vocabulary = _read_vocabulary(directory / VOCAB_FILE, spec)
        idf = _read_idf(directory / IDF_FILE, len(vocabulary)) if self.output_mode == "tf_idf" else None
        if self.tokenizer == "sentencepiece":
            # An int vocabulary is the model's pieces; an n-gram vocabulary is checked by the model alone.
            pieces = vocabulary if self.output_mode == "int" else None
            self.subword = SubwordModel.load(directory, pieces, self.max_tokens)
        return self._set_vocabulary(vocabulary, None if idf is None else idf.astype(np.float32))


def _read_spec(path: Path) -> dict:
    spec = read_json(path)
    mode, max_tokens, ngrams = spec.get("output_mode"), spec.get("max_tokens"), spec.get("ngrams")
    if mode not in ("int", "multi_hot", "tf_idf"):
        raise LexiclassError(f"{path} is damaged: output_mode {mode!r} is not int, multi_hot or tf_idf")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 3 <= max_tokens <= 10_000_000:
        raise LexiclassError(f"{path} is damaged: max_tokens {max_tokens!r} is not an integer in [3, 10,000,000]")
    if mode != "int" and (isinstance(ngrams, bool) or not isinstance(ngrams, int) or not 1 <= ngrams <= 10):
        raise LexiclassError(f"{path} is damaged: ngrams {ngrams!r} is not an integer in [1, 10]")
    if spec.get("tokenizer", "word") not in TOKENIZERS:
        raise LexiclassError(f"{path} is damaged: tokenizer {spec.get('tokenizer')!r} is not one of "
                             f"{', '.join(TOKENIZERS)}")
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
        raise LexiclassError(f"{path} is damaged: {first_line(exc, 200)}") from None
    if idf.ndim != 1 or len(idf) != size or not np.issubdtype(idf.dtype, np.floating) or not np.isfinite(idf).all():
        raise LexiclassError(f"{path} is damaged: expected {size} finite IDF weights, got shape {idf.shape}")
    return idf
