"""Binary CSR rows (int32 column indices + indptr, no values) as the n-gram models build and read them in blocks."""

from __future__ import annotations

import numpy as np

DEFAULT_CHUNK = 1000


def sorted_unique(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, how often each occurs). NumPy 2's ``np.unique`` hashes, and was
    50x slower than sorting on these arrays."""
    x = np.sort(x)
    first = np.ones(len(x), dtype=bool)
    np.not_equal(x[1:], x[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return x[starts], np.diff(np.append(starts, len(x)))


def sparse_dot(indices: np.ndarray, indptr: np.ndarray, table: np.ndarray, block: int = DEFAULT_CHUNK) -> np.ndarray:
    """``B @ table`` for the binary CSR matrix ``B`` given by (indices, indptr), by blocks of rows
    so that no array of the full number of non-zeros is ever made."""
    import scipy.sparse as sp  # deferred: prediction imports this module and needs no SciPy

    rows = len(indptr) - 1
    out = np.empty((rows, table.shape[1]), dtype=table.dtype)
    for a in range(0, rows, block):
        b = min(a + block, rows)
        lo, hi = int(indptr[a]), int(indptr[b])
        part = sp.csr_matrix((np.ones(hi - lo, dtype=table.dtype), indices[lo:hi], indptr[a : b + 1] - lo),
                             shape=(b - a, table.shape[0]))
        out[a:b] = part @ table
    return out


def row_blocks(indptr: np.ndarray, block: int):
    """(first row, end row, first non-zero, end non-zero) of consecutive blocks of ``block`` rows."""
    n = len(indptr) - 1
    for a in range(0, n, block):
        b = min(a + block, n)
        yield a, b, int(indptr[a]), int(indptr[b])


def stack_indptr(indptrs: list[np.ndarray]) -> np.ndarray:
    out = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for indptr in indptrs:
        out.append(indptr[1:] + offset)
        offset += int(indptr[-1])
    return np.concatenate(out)
