"""Binary word and character n-gram features: 64-bit keys counted by compiled loops, or strings for a few texts.

The n-gram models (`lexiclass.models.nbsvm`) see a text as the set of its word n-grams
or character n-grams. This module turns a chunk of texts into those sets without making
a Python string per n-gram:

1. Python prepares the text: `clean_text` (lower case, HTML line breaks out), then either
   the tokens of `word_tokens` joined by single spaces (``word``) or the cleaned text with
   runs of whitespace collapsed (``char``); the chunk becomes one array of code points.
2. A compiled loop (`lexiclass.text.ngram_kernels`, numba) walks every n-gram of every
   text as a rolling polynomial hash (mod 2**64) of its characters, finished into a 64-bit
   key with its length, and looks the key up in `KeyTable`, an open-addressing hash table
   of the vocabulary's keys.
3. A few short texts (at most `PYTHON_CHARS` characters in all, before the compiled loops
   were first needed in this process) are scored in plain Python instead: their n-gram
   strings looked up in a dict of the vocabulary. That answers one prediction without
   importing numba (~0.6 s of a command that otherwise takes ~1 s); the columns are the
   same (tested), the sums agree to float64 rounding.

A key is a pure function of the n-gram's string (`string_keys` computes it for saved
vocabularies), so the vocabulary order and every saved model are the same as with the
NumPy counting this replaced (issue 12). The features are exactly scikit-learn
``CountVectorizer``'s (tested), only a key collision could merge two n-grams: the table
compares keys on their ``64 - log2(columns)`` high bits (43 for 2M columns), about one
wrong feature in 10^12 n-grams scored.

Why compiled: scoring IMDB with the NumPy version spent ~0.9 ms of CPU per review on
whole-array passes (prefix hashes, sorts, gathers) over every n-gram; one fused loop
per text touches each n-gram once (docs/performance.md, "N-gram models").
"""

from __future__ import annotations

import re
import sys
import threading

import numpy as np

# IMDB reviews carry HTML line breaks ("<br /><br />"); left in, "br" becomes the most
# frequent token and pollutes every n-gram that spans a paragraph break.
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Words (letters and digits in any script, with an inner apostrophe kept: "don't",
# "isn't") plus "!" and "?", which carry sentiment ("awful!!", "why?") that a
# punctuation-stripping tokenizer throws away. Tokens never contain whitespace.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")
# scikit-learn's char analyzer collapses runs of two or more whitespace characters to one
# space (a single newline or tab is kept as it is); the same rule keeps the features
# identical to CountVectorizer's, so models saved by lexiclass <= 0.1 still load.
_WHITE_SPACES = re.compile(r"\s\s+")

ANALYZERS = ("word", "char")


def clean_text(text: str) -> str:
    """Lower-case ``text`` and replace HTML line breaks with spaces (both analyzers use this)."""
    return _HTML_BREAK.sub(" ", text.lower())


def word_tokens(text: str) -> list[str]:
    """The word analyzer's tokens: see `_TOKEN`."""
    return _TOKEN.findall(clean_text(text))


def prepare(texts: list[str], analyzer: str) -> tuple[str, np.ndarray, np.ndarray]:
    """A chunk of texts as one string plus its code points (+1, so NUL still hashes) and the
    (n + 1) offsets of each prepared text in it. n-grams never cross a text's end."""
    pieces = _pieces(texts, analyzer)
    joined = "".join(pieces)
    return joined, _codes(joined), _offsets(pieces)


def _pieces(texts: list[str], analyzer: str) -> list[str]:
    """Each text as the analyzer sees it: its tokens joined by single spaces, or its cleaned characters."""
    if analyzer == "word":
        return [" ".join(word_tokens(text)) for text in texts]
    return [_WHITE_SPACES.sub(" ", clean_text(text)) for text in texts]


# Texts up to this many characters in all are scored in Python while the compiled loops are not loaded:
# ~0.1 s for 10,000 characters of character 3..6-grams (~0.15 ms compiled), against ~0.6 s to import numba
# and load its code. A server loads them in the background once it answers (`NBSVMClassifier.warm_up`).
PYTHON_CHARS = 10_000
_KERNELS = "lexiclass.text.ngram_kernels"


def _kernels():
    """The compiled loops (a deferred import: numba is heavy, see the module docstring)."""
    from lexiclass.text import ngram_kernels

    return ngram_kernels


def _codes(joined: str) -> np.ndarray:
    """The code points of ``joined`` + 1 (so NUL still hashes), as the compiled loops read them."""
    return np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64) + 1


def _offsets(strings: list[str]) -> np.ndarray:
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)), out=offsets[1:])
    return offsets


def string_keys(strings: list[str]) -> np.ndarray:
    """The key of each string, as the counters compute it for an n-gram with that text."""
    return _kernels().whole_keys(_codes("".join(strings)), _offsets(strings))


def text_ngrams(piece: str, word: bool, min_n: int, max_n: int) -> list[str]:
    """The distinct n-grams of one prepared text, in the compiled loops' order of first occurrence
    (by first unit, then by length). Units are the space-separated tokens (``word``) or characters."""
    if not word:
        return list(dict.fromkeys(piece[i : i + n] for i in range(len(piece))
                                  for n in range(min_n, min(max_n, len(piece) - i) + 1)))
    units = piece.split(" ") if piece else []
    return list(dict.fromkeys(" ".join(units[i : i + n]) for i in range(len(units))
                              for n in range(min_n, min(max_n, len(units) - i) + 1)))


class Vocabulary:
    """The columns of a saved vocabulary (n-gram strings, column = position), looked up either way:
    a dict of the strings for the Python path, a `KeyTable` of their keys for the compiled one; each
    is built the first time it is needed."""

    def __init__(self, strings: list[str], keys: np.ndarray | None = None):
        self.strings, self._keys = strings, keys
        self._columns: dict | None = None
        self._table = None
        self._building = threading.Lock()  # chunks score in threads: one of them builds, the others wait

    @property
    def columns(self) -> dict | None:
        """{n-gram: column}; None once the key table has replaced it (then the compiled loops are loaded)."""
        with self._building:
            if self._columns is None and self._table is None:
                self._columns = dict(zip(self.strings, range(len(self.strings))))
            return self._columns

    @property
    def table(self):
        with self._building:
            if self._table is None:
                keys = string_keys(self.strings) if self._keys is None else self._keys
                self._table = _kernels().KeyTable(keys)
                self._columns = None  # from now on every text is scored by the compiled loops
            return self._table


class Names:
    """The string of each column of a vocabulary, filled in as `Ngrams.rows` first meets it."""

    def __init__(self, size: int):
        self.strings: list = [None] * size
        self.named = np.zeros(size, dtype=np.bool_)


class Ngrams:
    """The n-grams one analyzer sees: ``word`` (1..max_n tokens of `word_tokens`, joined by a
    space) or ``char`` (min_n..max_n characters of the cleaned text, spaces included).

    Every method takes a chunk of texts; callers bound memory by chunking (the work arrays
    are a few times the chunk's characters) and may run chunks in threads."""

    def __init__(self, analyzer: str, min_n: int, max_n: int):
        if analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {ANALYZERS}, got {analyzer!r}")
        self.analyzer, self.min_n, self.max_n = analyzer, int(min_n), int(max_n)

    def _prepared(self, texts):
        joined, codes, offsets = prepare(texts, self.analyzer)
        return joined, codes, offsets, self.analyzer == "word", self.min_n, self.max_n

    def distinct_keys(self, texts: list[str]) -> np.ndarray:
        """The keys of the n-grams of every text, each text's counted once (for document frequencies)."""
        _, *args = self._prepared(texts)
        return _kernels().distinct_keys(*args)[0]

    def rows(self, texts: list[str], vocabulary: Vocabulary, names: "Names | None" = None):
        """CSR (indices int32 sorted per row, indptr int64) of each text's known columns. With ``names``
        (while a vocabulary is counted), columns seen for the first time get their n-gram string."""
        joined, *args = self._prepared(texts)
        named = np.zeros(0, dtype=np.bool_) if names is None else names.named
        indices, indptr, new = _kernels().columns(*args, *vocabulary.table.args(), named)
        for col, start, length in new.tolist():
            names.strings[col] = joined[start : start + length]
        return indices, indptr

    def score(self, texts: list[str], vocabulary: Vocabulary, weights: np.ndarray) -> np.ndarray:
        """(texts, weights columns) float64: the sum of ``weights[col]`` over each text's distinct known columns."""
        if _KERNELS not in sys.modules and sum(map(len, texts)) <= PYTHON_CHARS:
            columns = vocabulary.columns  # None if another thread just built the key table
            if columns is not None:
                return self._python_score(texts, columns, weights)
        _, *args = self._prepared(texts)
        return _kernels().score(*args, *vocabulary.table.args(), np.ascontiguousarray(weights))

    def _python_score(self, texts: list[str], columns: dict, weights: np.ndarray) -> np.ndarray:
        out = np.zeros((len(texts), weights.shape[1]), np.float64)
        word = self.analyzer == "word"
        for t, piece in enumerate(_pieces(texts, self.analyzer)):
            found = [columns[g] for g in text_ngrams(piece, word, self.min_n, self.max_n) if g in columns]
            for row in weights[found].astype(np.float64):  # row by row, in the compiled loop's order
                out[t] += row
        return out
