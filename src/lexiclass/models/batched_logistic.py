"""Many L2-regularised binary logistic regressions on one binary sparse matrix, fitted together.

NBSVM (`lexiclass.models.nbsvm`) fits one logistic regression per class (one-vs-rest),
and each sees the same binary document-n-gram matrix ``B`` (texts x n-grams) through its
own scaling: model k's features are ``x_ik = B_ij * r_kj / norm_ik`` (its NB ratio ``r_k``,
then each row L2-normalised). Fitted one by one with scikit-learn's L-BFGS, a 20-class
fit read the character matrix (75M non-zeros) twice per iteration per class, and spent
most of the rest in the solver's float64 bookkeeping (docs/performance.md, "N-gram
models"). Here the K problems run in lockstep on a (features, K) float32 array, which
changes three things and not the objective (scikit-learn's, minimised at least to the same
gradient tolerance; see the stopping rule below):

- one pass over ``B`` computes all K columns' products, and the passes run in
  ``n_jobs`` threads over blocks of rows (the compiled loops release the GIL);
- the line search costs no pass over ``B`` at all: along a direction ``p`` the logits
  are ``z + t * zp`` with ``zp = d * (B @ (r * p))`` computed once, so each trial step is
  O(texts x K) (``logistic_line_search``); the search is exact enough for the strong
  Wolfe conditions, so each iteration takes one forward and one transposed pass;
- the L-BFGS two-loop recursion runs on all K columns at once in float32 (with float64
  dot products), with one history per column.

Objective of column k (scikit-learn's for ``LogisticRegression(solver="lbfgs")``):
``f_k(w, b) = (1 / S_k) sum_i s_ik log(1 + exp(-y'_ik z_ik)) + |w|^2 / (2 C S_k)``
with ``z_ik = d_ik * (B_i . (r_k * w)) + b``, ``y'`` in {-1, +1}, sample weights ``s``
(1, or "balanced" class weights) and ``S_k = sum_i s_ik``; the intercept is not
penalised. A column stops after ``max_iter`` iterations, or when both the largest
absolute component of its gradient is below ``tol`` (scipy's ``pgtol``, which
scikit-learn sets to its ``tol``) and its last iteration lowered f by less than ``ftol``
(relative). The second condition is lexiclass's: NB-scaled, normalised rows have
components of ~0.02, so right after the intercept has moved to the class's base rate
every gradient component can be below 1e-4 while f is still 10x its minimum; on the
20-class proxy (docs/performance.md) the gradient test alone stopped 2 of 20 character
models after 2-5 iterations (test accuracy 26.9%; scikit-learn's path 44.8%; both
conditions, 46.9%).

Memory: parameters, gradient, direction and the ``memory`` pairs of history are
(features + 1) x K float32 arrays; `fit_logistic_columns` fits the K columns in groups
small enough that the history stays under ``history_bytes``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

HISTORY_BYTES = 768 << 20  # history pairs of one group of columns
FTOL = 1e-3  # see the module docstring: a small gradient alone is not convergence here
C1, C2 = 1e-4, 0.1  # Armijo and curvature constants of the (strong) Wolfe line search


# --- passes over the binary matrix B --------------------------------------------------------------
@numba.njit(nogil=True, cache=True)
def _rows_times(indices, indptr, first, end, table, out):
    """``out[i - first] = sum of table[j] over the n-grams j of text i``: rows first..end of B @ table."""
    k = table.shape[1]
    for i in range(first, end):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for c in range(k):
                out[i - first, c] += table[j, c]


@numba.njit(nogil=True, cache=True)
def _rows_times_one(indices, indptr, first, end, table, out):
    """`_rows_times` for one column (1-D table and out): the sum stays in a register."""
    for i in range(first, end):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            total += table[indices[p]]
        out[i - first] = total


@numba.njit(nogil=True, cache=True)
def _rows_transposed_times(indices, indptr, first, end, g, out):
    """``out[j] += g[i]`` for every n-gram j of texts first..end: their share of B.T @ g."""
    k = g.shape[1]
    for i in range(first, end):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for c in range(k):
                out[j, c] += g[i, c]


@numba.njit(nogil=True, cache=True)
def _rows_transposed_times_one(indices, indptr, first, end, g, out):
    """`_rows_transposed_times` for one column (1-D g and out)."""
    for i in range(first, end):
        value = g[i]
        for p in range(indptr[i], indptr[i + 1]):
            out[indices[p]] += value


class _RowBlocks:
    """Consecutive blocks of rows, one per thread, and the threads' pool (closed by `close`)."""

    def __init__(self, bounds):
        self.blocks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a] or [(0, 0)]
        self.pool = ThreadPoolExecutor(max_workers=len(self.blocks)) if len(self.blocks) > 1 else None

    def _map(self, fn):
        if self.pool is None:
            return [fn(*block) for block in self.blocks]
        return list(self.pool.map(lambda block: fn(*block), self.blocks))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


class BinaryMatrix(_RowBlocks):
    """The binary CSR matrix B (texts x features) given by its column ``indices`` and row ``indptr``,
    with ``B @ V`` and ``B.T @ G`` for (features, K) and (texts, K) arrays in ``n_jobs`` threads."""

    def __init__(self, indices: np.ndarray, indptr: np.ndarray, n_features: int, n_jobs: int = 1):
        # The compiled loops do not check bounds: check the structure once, O(non-zeros).
        if (len(indptr) < 1 or indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0)
                or (len(indices) and (indices.min() < 0 or indices.max() >= n_features))):
            raise ValueError(f"not a CSR structure of {n_features} columns: indptr must rise from 0 to "
                             f"len(indices) = {len(indices)} and every index lie in [0, {n_features})")
        self.indices, self.indptr, self.n_features = indices, indptr, n_features
        self.n_rows = len(indptr) - 1
        # Row blocks with about the same number of non-zeros each.
        cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], max(1, n_jobs) + 1)[1:-1])
        super().__init__(np.unique(np.concatenate([[0], cuts, [self.n_rows]])))

    def times(self, table: np.ndarray) -> np.ndarray:
        """(texts, K) float64 = B @ table, table (features, K) float32."""
        out = np.zeros((self.n_rows, table.shape[1]))

        def block(first, end):
            if table.shape[1] == 1:
                _rows_times_one(self.indices, self.indptr, first, end, table[:, 0], out[first:end, 0])
            else:
                _rows_times(self.indices, self.indptr, first, end, table, out[first:end])

        self._map(block)
        return out

    def transposed_times(self, g: np.ndarray) -> np.ndarray:
        """(features, K) float32 = B.T @ g, g (texts, K) float32; one partial sum per thread."""
        def block(first, end):
            out = np.zeros((self.n_features, g.shape[1]), dtype=np.float32)
            if g.shape[1] == 1:
                _rows_transposed_times_one(self.indices, self.indptr, first, end, g[:, 0], out[:, 0])
            else:
                _rows_transposed_times(self.indices, self.indptr, first, end, g, out)
            return out

        parts = self._map(block)
        total = parts[0]
        for part in parts[1:]:
            total += part
        return total


# --- column-wise vector algebra (float32 arrays, float64 sums), over blocks of rows in threads ------
@numba.njit(nogil=True, cache=True)
def _column_dots_rows(a, b, first, end, out):
    for j in range(first, min(end, a.shape[0])):
        for c in range(a.shape[1]):
            out[c] += np.float64(a[j, c]) * b[j, c]


@numba.njit(nogil=True, cache=True)
def _add_scaled_rows(y, x, scale, first, end):
    for j in range(first, min(end, y.shape[0])):
        for c in range(y.shape[1]):
            y[j, c] += scale[c] * x[j, c]


class ColumnAlgebra(_RowBlocks):
    """Dot products and ``y += x * scale`` of (rows, K) float32 arrays, column by column, in
    ``n_jobs`` threads over blocks of rows (memory-bound: the L-BFGS history is read here)."""

    def __init__(self, n_rows: int, n_jobs: int = 1):
        super().__init__(np.linspace(0, n_rows, max(1, n_jobs) + 1).astype(np.int64))

    def dots(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(K,) float64: each column of a dotted with the same column of b."""
        def part(first, end):
            out = np.zeros(a.shape[1])
            _column_dots_rows(a, b, first, end, out)
            return out

        return np.sum(self._map(part), axis=0)

    def add_scaled(self, y: np.ndarray, x: np.ndarray, scale: np.ndarray) -> None:
        """``y += x * scale`` (one scale per column), in place."""
        scale = np.asarray(scale, dtype=np.float32)
        self._map(lambda first, end: _add_scaled_rows(y, x, scale, first, end))


def _logistic_terms(z: np.ndarray, y: np.ndarray, weight: np.ndarray):
    """Weighted losses, d loss / d z and d^2 loss / d z^2 per text and column; y in {0, 1}."""
    sign = np.where(y, -1.0, 1.0)  # the loss is log(1 + exp(sign * z))
    loss = np.logaddexp(0.0, sign * z)
    p = 1.0 / (1.0 + np.exp(-z))  # sigmoid(z)
    return weight * loss, weight * (p - y), weight * p * (1.0 - p)


def logistic_line_search(z, zp, y, weight, reg, ww, wp, pp, f0, slope0, t0, active, max_steps: int = 30):
    """Step t per column along a descent direction, meeting the strong Wolfe conditions.

    phi_k(t) = sum_i weight_ik loss(y_ik, z_ik + t zp_ik) + reg_k / 2 |w_k + t p_k|^2 is convex
    in t, so safeguarded Newton steps on phi'(t) = 0 inside a bracket [lo, hi] (phi' < 0 at
    lo, > 0 or no sufficient decrease at hi) converge; every trial is O(texts x K).
    z, zp, y, weight: (texts, K); reg, ww (= w.w), wp, pp, f0 (= phi(0)), slope0 (= phi'(0) < 0),
    t0: (K,); active: (K,) bool. Returns (t, phi(t)); t = 0 where no step decreased phi.
    """
    def phi(t):  # (K,) each: phi(t), phi'(t), phi''(t)
        loss, d1, d2 = _logistic_terms(z + t * zp, y, weight)
        return (loss.sum(axis=0) + 0.5 * reg * (ww + 2 * t * wp + t * t * pp),
                (d1 * zp).sum(axis=0) + reg * (wp + t * pp), (d2 * zp * zp).sum(axis=0) + reg * pp)

    t = np.where(active, t0, 0.0)
    lo, hi = np.zeros_like(t), np.full_like(t, np.inf)
    done = ~active
    f_t = f0.copy()
    for _ in range(max_steps):
        if done.all():
            break
        f, g, h = phi(t)
        armijo = f <= f0 + C1 * t * slope0
        accept = ~done & armijo & (np.abs(g) <= C2 * np.abs(slope0))
        f_t = np.where(accept, f, f_t)
        done |= accept
        too_far = ~armijo | (g > 0)
        lo = np.where(~done & ~too_far, t, lo)
        hi = np.where(~done & too_far, t, hi)
        newton = t - g / np.maximum(h, 1e-300)
        inside = (newton > lo) & (newton < hi) & np.isfinite(newton)
        fallback = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * t)
        t = np.where(done, t, np.where(inside, newton, fallback))
    # Columns still searching keep the best step that decreased phi, if any (numerical limits).
    if not done.all():
        f_lo = phi(lo)[0]
        left = ~done
        t = np.where(left, np.where(f_lo < f0, lo, 0.0), t)
        f_t = np.where(left, np.where(f_lo < f0, f_lo, f0), f_t)
    return t, f_t


def _search_direction(algebra: ColumnAlgebra, grad, s_hist, y_hist, rho, newest: int, stored: int) -> np.ndarray:
    """-H grad per column, H the L-BFGS inverse Hessian of the ``stored`` newest (s, y) pairs: the
    two-loop recursion (columns without a pair in a slot have rho = 0 there). grad: (features + 1, K)."""
    memory, k = len(rho), grad.shape[1]
    q = grad.copy()
    order = [(newest - i) % memory for i in range(stored)]
    alpha = np.zeros((memory, k))
    for slot in order:
        alpha[slot] = rho[slot] * algebra.dots(s_hist[slot], q)
        algebra.add_scaled(q, y_hist[slot], -alpha[slot])
    if stored:
        sy = algebra.dots(s_hist[newest], y_hist[newest])
        yy = algebra.dots(y_hist[newest], y_hist[newest])
        gamma = np.where(yy > 0, sy / np.maximum(yy, 1e-300), 1.0)
    else:
        gamma = 1.0 / np.maximum(np.sqrt(algebra.dots(grad, grad)), 1.0)
    q *= gamma.astype(np.float32)
    for slot in reversed(order):
        beta = rho[slot] * algebra.dots(y_hist[slot], q)
        algebra.add_scaled(q, s_hist[slot], alpha[slot] - beta)
    return np.negative(q, out=q)


def _fit_group(matrix: BinaryMatrix, algebra: ColumnAlgebra, ratio, scale, y, weight, c, tol, ftol, max_iter, memory,
               on_progress):
    """L-BFGS on the columns of one group. ratio: (features, K) float32; scale: (texts, K) per-row
    factors (1 / norm) or None; y, weight: (texts, K). -> (coef (features, K) float32, intercept (K,),
    iterations (K,))."""
    n_features, k = ratio.shape
    total = weight.sum(axis=0)  # (K,) S_k
    weight = weight / total  # f is a weighted mean, as in scikit-learn
    reg = 1.0 / (c * total)  # (K,) the L2 term is reg_k / 2 |w_k|^2
    # The (features + 1) x K parameters: the coefficients, then one row for the intercepts.
    theta = np.zeros((n_features + 1, k), dtype=np.float32)
    coef = theta[:n_features]

    def logits_of(direction):  # (texts, K): d * (B @ (r * direction)) + intercept row
        zp = matrix.times(ratio * direction[:n_features])
        if scale is not None:
            zp *= scale
        return zp + direction[n_features].astype(np.float64)

    def gradient(d1):  # d1: (texts, K) d loss / d z, weighted
        grad = np.empty_like(theta)
        g = d1 * scale if scale is not None else d1
        grad[:n_features] = matrix.transposed_times(g.astype(np.float32))
        grad[:n_features] *= ratio
        algebra.add_scaled(grad[:n_features], coef, reg)
        grad[n_features] = d1.sum(axis=0)
        return grad

    z = np.zeros((matrix.n_rows, k))
    loss, d1, _ = _logistic_terms(z, y, weight)
    f = loss.sum(axis=0)
    grad = gradient(d1)
    s_hist = np.zeros((memory, n_features + 1, k), dtype=np.float32)
    y_hist = np.zeros_like(s_hist)
    rho = np.zeros((memory, k))
    stored, newest = 0, -1
    iterations = np.zeros(k, dtype=np.int64)
    # Every column takes at least one step: at zero a small gradient says nothing (see the docstring).
    active = np.ones(k, dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        before = int(active.sum())
        direction = _search_direction(algebra, grad, s_hist, y_hist, rho, newest, stored)
        direction[:, ~active] = 0.0
        slope = algebra.dots(grad, direction)
        not_descent = active & (slope >= 0)
        if not_descent.any():  # lost curvature information: steepest descent for those columns
            direction[:, not_descent] = -grad[:, not_descent]
            slope = algebra.dots(grad, direction)
        zp = logits_of(direction)
        ww, wp, pp = (algebra.dots(coef, coef), algebra.dots(coef, direction[:n_features]),
                      algebra.dots(direction[:n_features], direction[:n_features]))
        t, f_new = logistic_line_search(z, zp, y, weight, reg, ww, wp, pp, f, slope, np.ones(k), active)
        moved = active & (t > 0)
        active &= moved  # a column that cannot decrease any more has converged as far as float32 goes
        if not moved.any():
            break
        iterations += moved
        newest = (newest + 1) % memory
        stored = min(stored + 1, memory)
        step = np.multiply(direction, t.astype(np.float32), out=s_hist[newest])  # s = t p
        theta += step
        z += t * zp
        _, d1, _ = _logistic_terms(z, y, weight)  # f at the new point came from the line search
        decrease = np.where(moved, (f - f_new) / np.maximum(np.abs(f_new), 1e-12), 0.0)
        f = np.where(moved, f_new, f)
        new_grad = gradient(d1)
        np.subtract(new_grad, grad, out=y_hist[newest])  # y = change of the gradient
        sy = algebra.dots(s_hist[newest], y_hist[newest])
        rho[newest] = np.where(moved & (sy > 1e-12), 1.0 / np.where(sy > 1e-12, sy, 1.0), 0.0)
        grad = new_grad
        active &= (np.abs(grad).max(axis=0) > tol) | (decrease > ftol)
        if on_progress is not None and (done := before - int(active.sum())):
            on_progress(done)
    if on_progress is not None and active.any():  # stopped by max_iter
        on_progress(int(active.sum()))
    return coef.copy(), theta[n_features].astype(np.float64), iterations


def fit_logistic_columns(indices, indptr, n_features: int, ratio: np.ndarray, targets: np.ndarray, *,
                         norms: np.ndarray | None = None, sample_weight: np.ndarray | None = None,
                         c: float = 1.0, tol: float = 1e-4, ftol: float = FTOL, max_iter: int = 1000, memory: int = 5,
                         n_jobs: int = 1, history_bytes: int = HISTORY_BYTES, on_progress=None):
    """Fit K binary logistic regressions on the scaled rows of one binary sparse matrix.

    Args:
        indices, indptr: CSR structure of the binary matrix B (texts x n_features).
        ratio: (K, n_features) per-column feature scaling (NBSVM's ratio r_k).
        targets: (texts, K) booleans, column k the positive class of model k.
        norms: (texts, K) per-row divisors (L2 norms of r_k * x_i), or None.
        sample_weight: (texts, K) weights of the texts in each column's loss, or None (all 1).
        c: inverse L2 strength, as scikit-learn's ``C``.
        tol, ftol, max_iter: the stopping rule (module docstring).
        memory: L-BFGS history length (pairs kept per column).
        history_bytes: the columns are fitted in groups whose history fits in this many bytes.
        n_jobs: threads for the passes over B.
        on_progress: called with the number of columns that stopped, whenever some do (the calls
            add up to K), for a progress bar.

    Returns (coef (K, n_features) float32, intercept (K,) float64, iterations (K,)).
    """
    n_texts, k = targets.shape
    matrix = BinaryMatrix(indices, indptr, n_features, n_jobs)
    algebra = ColumnAlgebra(n_features + 1, n_jobs)
    per_column = 2 * memory * 4 * (n_features + 1)
    group = max(1, min(k, history_bytes // per_column))
    coef = np.empty((k, n_features), dtype=np.float32)
    intercept = np.empty(k)
    iterations = np.empty(k, dtype=np.int64)
    try:
        for a in range(0, k, group):
            cols = slice(a, min(a + group, k))
            weight = np.ones((n_texts, cols.stop - a)) if sample_weight is None else np.asarray(
                sample_weight[:, cols], dtype=np.float64)
            scale = None if norms is None else 1.0 / np.asarray(norms[:, cols], dtype=np.float64)
            w, b, its = _fit_group(matrix, algebra, np.ascontiguousarray(ratio[cols].T, dtype=np.float32), scale,
                                   np.asarray(targets[:, cols], dtype=np.float64), weight, c, tol, ftol, max_iter,
                                   memory, on_progress)
            coef[cols], intercept[cols], iterations[cols] = w.T, b, its
    finally:
        matrix.close()
        algebra.close()
    return coef, intercept, iterations
