"""Binary word and character n-gram features, counted as 64-bit keys by compiled loops.

The n-gram models (`lexiclass.models.nbsvm`) see a text as the set of its word n-grams
or character n-grams. This module turns a chunk of texts into those sets without making
a Python string per n-gram:

1. Python prepares the text: `clean_text` (lower case, HTML line breaks out), then either
   the tokens of `word_tokens` joined by single spaces (``word``) or the cleaned text with
   runs of whitespace collapsed (``char``); the chunk becomes one array of code points.
2. A compiled loop (numba, ``nogil`` so chunks can run in threads) walks every n-gram of
   every text as a rolling polynomial hash (mod 2**64) of its characters, finished into a
   64-bit key with its length (`_finish`), and looks the key up in `KeyTable`, an
   open-addressing hash table of the vocabulary's keys.

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

import numba
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

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_BASE = _U64((0x100000001B3 * 0x9E3779B1) & _MASK64 | 1)  # odd multiplier of the rolling hash
_GOLDEN = _U64(0x9E3779B97F4A7C15)  # mixes the n-gram's length into its key
_MIX = _U64(0xBF58476D1CE4E5B9)  # splitmix64's first multiplier
_EMPTY = _U64(_MASK64)  # a free slot of the table
_ONE, _SHIFT31 = _U64(1), _U64(31)
_SPACE = _U64(ord(" ") + 1)  # a space as `prepare` codes it


def clean_text(text: str) -> str:
    """Lower-case ``text`` and replace HTML line breaks with spaces (both analyzers use this)."""
    return _HTML_BREAK.sub(" ", text.lower())


def word_tokens(text: str) -> list[str]:
    """The word analyzer's tokens: see `_TOKEN`."""
    return _TOKEN.findall(clean_text(text))


def prepare(texts: list[str], analyzer: str) -> tuple[str, np.ndarray, np.ndarray]:
    """A chunk of texts as one string plus its code points (+1, so NUL still hashes) and the
    (n + 1) offsets of each prepared text in it. n-grams never cross a text's end."""
    if analyzer == "word":
        pieces = [" ".join(word_tokens(text)) for text in texts]
    else:
        pieces = [_WHITE_SPACES.sub(" ", clean_text(text)) for text in texts]
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)), out=offsets[1:])
    joined = "".join(pieces)
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(_U64) + _ONE
    return joined, codes, offsets


# --- compiled kernels ------------------------------------------------------------------------
@numba.njit(inline="always")
def _finish(h, length):
    """Spread a polynomial hash and the string's length over all 64 bits (half of splitmix64's
    finaliser), so the top bits can index the table."""
    z = (h + _U64(length) * _GOLDEN) * _MIX
    return z ^ (z >> _SHIFT31)


@numba.njit(nogil=True, cache=True)
def _units(codes, start, end, word, unit_start, unit_end):
    """Fill unit_start/unit_end with the [start, end) spans of one text's units (characters, or
    space-separated tokens when ``word``); -> the number of units."""
    if not word:
        for i in range(end - start):
            unit_start[i] = start + i
            unit_end[i] = start + i + 1
        return end - start
    count = 0
    if end > start:
        unit_start[0] = start
        for j in range(start, end):
            if codes[j] == _SPACE:
                unit_end[count] = j
                count += 1
                unit_start[count] = j + 1
        unit_end[count] = end
        count += 1
    return count


@numba.njit(nogil=True, cache=True)
def _text_keys(codes, start, end, word, min_n, max_n, unit_start, unit_end, keys, starts, lengths):
    """Every n-gram (min_n..max_n units) of codes[start:end], with repeats: its key, first code
    and length in characters, written to keys/starts/lengths; -> how many."""
    units = _units(codes, start, end, word, unit_start, unit_end)
    count = 0
    for i in range(units):
        h = _U64(0)
        pos = unit_start[i]
        for n in range(1, max_n + 1):
            last = i + n - 1
            if last >= units:
                break
            while pos < unit_end[last]:  # extend the hash over the next unit (and the space before it)
                h = h * _BASE + codes[pos]
                pos += 1
            if n >= min_n:
                length = unit_end[last] - unit_start[i]
                keys[count] = _finish(h, length)
                starts[count] = unit_start[i]
                lengths[count] = length
                count += 1
    return count


@numba.njit(inline="always")
def _lookup(slots, key, shift, high, cmask):
    """Column of ``key`` in the table, -1 if absent (linear probing from the key's top bits)."""
    mask = len(slots) - 1
    slot = np.int64(key >> shift)
    wanted = key & high
    while True:
        found = slots[slot]
        if found == _EMPTY:
            return -1
        if found & high == wanted:
            return np.int64(found & cmask)
        slot = (slot + 1) & mask


@numba.njit(nogil=True, cache=True)
def _buffers(offsets, word, min_n, max_n):
    """Work arrays big enough for the chunk's longest text: its units' spans, its n-grams' keys,
    starts and lengths, its distinct columns, and a hash set of twice their number."""
    longest = 0
    for t in range(len(offsets) - 1):
        longest = max(longest, offsets[t + 1] - offsets[t])
    room = max(1, longest * (max_n - min_n + 1))
    set_size = 1
    while set_size < 2 * room:
        set_size *= 2
    return (np.empty(longest + 1, np.int64), np.empty(longest + 1, np.int64), np.empty(room, np.uint64),
            np.empty(room, np.int64), np.empty(room, np.int64), np.empty(room, np.int64),
            np.empty(set_size, np.int64))


@numba.njit(nogil=True, cache=True)
def _distinct_keys(codes, offsets, word, min_n, max_n):
    """The distinct n-gram keys of each text, concatenated (each text's sorted); -> (keys, per-text counts)."""
    unit_start, unit_end, keys, starts, lengths, _, _ = _buffers(offsets, word, min_n, max_n)
    n_texts = len(offsets) - 1
    out = np.empty(max(1, len(codes) * (max_n - min_n + 1)), np.uint64)
    counts = np.zeros(n_texts, np.int64)
    total = 0
    for t in range(n_texts):
        n = _text_keys(codes, offsets[t], offsets[t + 1], word, min_n, max_n, unit_start, unit_end, keys, starts,
                       lengths)
        mine = np.sort(keys[:n])
        for i in range(n):
            if i == 0 or mine[i] != mine[i - 1]:
                out[total] = mine[i]
                total += 1
                counts[t] += 1
    return out[:total], counts


@numba.njit(nogil=True, cache=True)
def _text_columns(codes, start, end, word, min_n, max_n, slots, shift, high, cmask, buffers, named, new):
    """Distinct known columns of one text into buffers[5], in order of first occurrence; -> how
    many. Repeats are found in a hash set sized to the text (buffers[6]), so the cost follows
    the text, not the vocabulary. With a non-empty ``named``, a column seen for the first
    time is marked and appended to ``new`` as (column, first code, length): new[0, 0] counts
    the entries, from row 1 on."""
    unit_start, unit_end, keys, starts, lengths, cols, found = buffers
    n = _text_keys(codes, start, end, word, min_n, max_n, unit_start, unit_end, keys, starts, lengths)
    size = 1
    while size < 2 * n:  # load factor <= 1/2
        size *= 2
    found[:size] = -1
    distinct = 0
    for i in range(n):
        col = _lookup(slots, keys[i], shift, high, cmask)
        if col < 0:
            continue
        slot = np.int64((_U64(col) * _GOLDEN) >> _SHIFT31) & (size - 1)
        while found[slot] != -1 and found[slot] != col:
            slot = (slot + 1) & (size - 1)
        if found[slot] == col:
            continue  # met earlier in this text
        found[slot] = col
        cols[distinct] = col
        distinct += 1
        if len(named) and not named[col]:
            named[col] = True
            at = new[0, 0] + 1
            new[at, 0], new[at, 1], new[at, 2] = col, starts[i], lengths[i]
            new[0, 0] = at
    return distinct


@numba.njit(nogil=True, cache=True)
def _columns(codes, offsets, word, min_n, max_n, slots, shift, high, cmask, named):
    """The binary document-n-gram rows of a chunk as CSR (indices int32, indptr int64), and the
    columns it named (see `_text_columns`)."""
    buffers = _buffers(offsets, word, min_n, max_n)
    n_texts = len(offsets) - 1
    bound = max(1, len(codes) * (max_n - min_n + 1))
    indices = np.empty(bound, np.int32)
    indptr = np.zeros(n_texts + 1, np.int64)
    new = np.zeros((bound + 1 if len(named) else 1, 3), np.int64)
    for t in range(n_texts):
        k = _text_columns(codes, offsets[t], offsets[t + 1], word, min_n, max_n, slots, shift, high, cmask, buffers,
                          named, new)
        at = indptr[t]
        indices[at : at + k] = np.sort(buffers[5][:k])  # sorted rows: a canonical CSR matrix
        indptr[t + 1] = at + k
    return indices[: indptr[n_texts]], indptr, new[1 : new[0, 0] + 1]


@numba.njit(nogil=True, cache=True)
def _score(codes, offsets, word, min_n, max_n, slots, shift, high, cmask, table):
    """``B @ table`` for the chunk's binary rows ``B``, without building B: (texts, table columns) float64."""
    buffers = _buffers(offsets, word, min_n, max_n)
    n_texts = len(offsets) - 1
    out = np.zeros((n_texts, table.shape[1]), np.float64)
    none_named = np.zeros(0, np.bool_)
    no_new = np.zeros((1, 3), np.int64)
    for t in range(n_texts):
        k = _text_columns(codes, offsets[t], offsets[t + 1], word, min_n, max_n, slots, shift, high, cmask, buffers,
                          none_named, no_new)
        cols = buffers[5]
        for i in range(k):
            row = table[cols[i]]
            for j in range(table.shape[1]):
                out[t, j] += row[j]
    return out


@numba.njit(nogil=True, cache=True)
def _whole_keys(codes, offsets):
    """The key of each whole string codes[offsets[i]:offsets[i+1]]."""
    out = np.empty(len(offsets) - 1, np.uint64)
    for i in range(len(offsets) - 1):
        h = _U64(0)
        for j in range(offsets[i], offsets[i + 1]):
            h = h * _BASE + codes[j]
        out[i] = _finish(h, offsets[i + 1] - offsets[i])
    return out


@numba.njit(nogil=True, cache=True)
def _fill_table(slots, keys, shift, high):
    """Insert keys (column = position) by linear probing; slots start all EMPTY."""
    mask = len(slots) - 1
    for col in range(len(keys)):
        slot = np.int64(keys[col] >> shift)
        while slots[slot] != _EMPTY:
            slot = (slot + 1) & mask
        slots[slot] = (keys[col] & high) | _U64(col)


# --- Python side ------------------------------------------------------------------------------
def string_keys(strings: list[str]) -> np.ndarray:
    """The key of each string, as the counters compute it for an n-gram with that text."""
    _, codes, offsets = _join(strings)
    return _whole_keys(codes, offsets)


def _join(strings: list[str]):
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)), out=offsets[1:])
    joined = "".join(strings)
    return joined, np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(_U64) + _ONE, offsets


class KeyTable:
    """An open-addressing (linear probing, load factor <= 1/2) table from 64-bit n-gram keys to
    columns 0..len(keys)-1. A slot holds the key with its low bits replaced by the column
    (``key & ~cmask | column``), so a probe is one read; keys are compared on their high bits."""

    def __init__(self, keys: np.ndarray):
        keys = np.ascontiguousarray(keys, dtype=_U64)
        bits = max(4, int(np.ceil(np.log2(2 * max(1, len(keys))))))
        self.shift = _U64(64 - bits)
        self.cmask = _U64((1 << max(1, int(len(keys)).bit_length())) - 1)  # > every column: no slot equals EMPTY
        self.high = ~self.cmask
        self.slots = np.full(1 << bits, _EMPTY, dtype=_U64)
        _fill_table(self.slots, keys, self.shift, self.high)

    def _args(self):
        return self.slots, self.shift, self.high, self.cmask


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
        return _distinct_keys(*args)[0]

    def rows(self, texts: list[str], table: KeyTable, names: "Names | None" = None):
        """CSR (indices int32 sorted per row, indptr int64) of each text's known columns. With
        ``names``, columns seen for the first time get their n-gram string."""
        joined, *args = self._prepared(texts)
        named = np.zeros(0, dtype=np.bool_) if names is None else names.named
        indices, indptr, new = _columns(*args, *table._args(), named)
        for col, start, length in new.tolist():
            names.strings[col] = joined[start : start + length]
        return indices, indptr

    def score(self, texts: list[str], table: KeyTable, weights: np.ndarray) -> np.ndarray:
        """(texts, weights columns) float64: the sum of ``weights[col]`` over each text's distinct known columns."""
        _, *args = self._prepared(texts)
        return _score(*args, *table._args(), np.ascontiguousarray(weights))
