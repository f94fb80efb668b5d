"""The compiled loops of `lexiclass.text.ngrams`: n-gram keys, table lookups, rows and scores.

Imported only when texts are counted in bulk (training, files, long inputs): numba's import and
the load of its cached machine code take ~0.6 s, more than scoring a few texts in Python
(`lexiclass.text.ngrams` says when each path runs; both give the same columns, tested).
Every kernel is ``nogil`` so chunks can run in threads.
"""

from __future__ import annotations

import numba
import numpy as np

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_BASE = _U64((0x100000001B3 * 0x9E3779B1) & _MASK64 | 1)  # odd multiplier of the rolling hash
_GOLDEN = _U64(0x9E3779B97F4A7C15)  # mixes the n-gram's length into its key
_MIX = _U64(0xBF58476D1CE4E5B9)  # splitmix64's first multiplier
_EMPTY = _U64(_MASK64)  # a free slot of the table
_ONE, _SHIFT31 = _U64(1), _U64(31)
_SPACE = _U64(ord(" ") + 1)  # a space as `prepare` codes it


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
def distinct_keys(codes, offsets, word, min_n, max_n):
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
def columns(codes, offsets, word, min_n, max_n, slots, shift, high, cmask, named):
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
def score(codes, offsets, word, min_n, max_n, slots, shift, high, cmask, table):
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
def whole_keys(codes, offsets):
    """The key of each whole string codes[offsets[i]:offsets[i+1]]."""
    out = np.empty(len(offsets) - 1, np.uint64)
    for i in range(len(offsets) - 1):
        h = _U64(0)
        for j in range(offsets[i], offsets[i + 1]):
            h = h * _BASE + codes[j]
        out[i] = _finish(h, offsets[i + 1] - offsets[i])
    return out


@numba.njit(nogil=True, cache=True)
def fill_table(slots, keys, shift, high):
    """Insert keys (column = position) by linear probing; slots start all EMPTY."""
    mask = len(slots) - 1
    for col in range(len(keys)):
        slot = np.int64(keys[col] >> shift)
        while slots[slot] != _EMPTY:
            slot = (slot + 1) & mask
        slots[slot] = (keys[col] & high) | _U64(col)


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
        fill_table(self.slots, keys, self.shift, self.high)

    def args(self):
        return self.slots, self.shift, self.high, self.cmask
