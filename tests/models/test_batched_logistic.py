"""The lockstep L-BFGS of lexiclass.models.batched_logistic against scikit-learn's LogisticRegression."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from lexiclass.models.batched_logistic import BinaryMatrix, ColumnAlgebra, fit_logistic_columns


def problem(seed=0, n=300, features=60, k=3, density=0.15):
    """A binary CSR matrix, per-column ratios and norms, and targets that depend on the features."""
    rng = np.random.default_rng(seed)
    b = (rng.random((n, features)) < density).astype(np.float32)
    b[5] = 0  # a text without any feature
    matrix = sp.csr_matrix(b)
    ratio = rng.normal(0, 1, (k, features)).astype(np.float32)
    norms = np.sqrt(b @ (ratio.astype(np.float64) ** 2).T)
    norms[norms == 0] = 1.0
    truth = rng.normal(0, 2, (features, k))
    targets = (b @ truth + rng.normal(0, 1, (n, k))) > 0
    return matrix, ratio, norms, targets


def scaled(matrix, ratio, norms, column):
    """Column's features as scikit-learn sees them: B * r_k, each row divided by its norm."""
    return sp.csr_matrix(matrix.multiply(ratio[column].astype(np.float64)).multiply(1.0 / norms[:, [column]]))


def test_products_match_scipy_in_any_number_of_threads():
    matrix, _, _, _ = problem(features=40, k=4)
    rng = np.random.default_rng(1)
    table = rng.normal(size=(40, 4)).astype(np.float32)
    g = rng.normal(size=(matrix.shape[0], 4)).astype(np.float32)
    for n_jobs in (1, 2, 3):
        b = BinaryMatrix(matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32), 40, n_jobs)
        np.testing.assert_allclose(b.times(table), matrix @ table.astype(np.float64), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(b.transposed_times(g), matrix.T @ g, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("indices, indptr", [([0, 5], [0, 1, 2]), ([0, -1], [0, 1, 2]), ([0, 1], [0, 2, 1]),
                                             ([0, 1], [0, 1, 3])])
def test_a_bad_csr_structure_is_refused_before_any_compiled_loop(indices, indptr):
    with pytest.raises(ValueError, match="not a CSR structure of 5 columns"):
        BinaryMatrix(np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int32), 5)


def test_column_algebra_in_threads_covers_every_row():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(101, 3)).astype(np.float32), rng.normal(size=(101, 3)).astype(np.float32)
    for n_jobs in (1, 2, 4):
        algebra = ColumnAlgebra(101, n_jobs)
        np.testing.assert_allclose(algebra.dots(a, b), (a.astype(np.float64) * b).sum(axis=0), rtol=1e-6)
        y = a.copy()
        algebra.add_scaled(y, b, np.array([1.0, -2.0, 0.5]))
        np.testing.assert_allclose(y, a + b * np.array([1.0, -2.0, 0.5], dtype=np.float32), rtol=1e-6)
        # A shorter array than the algebra's rows (the coefficients without the intercept row).
        y = a[:100].copy()
        algebra.add_scaled(y, b[:100], np.ones(3))
        np.testing.assert_allclose(y, a[:100] + b[:100], rtol=1e-6)
        algebra.close()


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_same_optimum_as_scikit_learn(class_weight):
    matrix, ratio, norms, targets = problem()
    targets[:, 2] = np.arange(len(targets)) % 7 == 0  # an imbalanced column
    weight = None
    if class_weight == "balanced":
        positives = targets.sum(axis=0)
        weight = np.where(targets, len(targets) / (2.0 * positives), len(targets) / (2.0 * (len(targets) - positives)))
    coef, intercept, iterations = fit_logistic_columns(
        matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32), matrix.shape[1], ratio, targets,
        norms=norms, sample_weight=weight, c=3.0, tol=1e-9, n_jobs=2)
    assert coef.shape == (3, 60) and coef.dtype == np.float32 and intercept.shape == (3,)
    assert (iterations > 0).all()
    for k in range(3):
        reference = LogisticRegression(C=3.0, tol=1e-10, max_iter=10_000, class_weight=class_weight)
        reference.fit(scaled(matrix, ratio, norms, k), targets[:, k])
        np.testing.assert_allclose(coef[k], reference.coef_[0], rtol=2e-3, atol=2e-3)
        assert intercept[k] == pytest.approx(reference.intercept_[0], abs=2e-3)


def test_groups_of_columns_give_the_same_fit_and_max_iter_is_kept():
    matrix, ratio, norms, targets = problem(seed=3, k=4)
    args = (matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32), matrix.shape[1], ratio, targets)
    whole = fit_logistic_columns(*args, norms=norms, c=10.0)
    one_by_one = fit_logistic_columns(*args, norms=norms, c=10.0, history_bytes=1)
    np.testing.assert_allclose(whole[0], one_by_one[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(whole[2], one_by_one[2])
    stopped = []
    fit_logistic_columns(*args, norms=norms, c=10.0, on_progress=stopped.append)
    assert sum(stopped) == 4 and all(n > 0 for n in stopped)
    stopped = []
    capped = fit_logistic_columns(*args, norms=norms, c=10.0, max_iter=2, on_progress=stopped.append)
    assert (capped[2] <= 2).all() and sum(stopped) == 4  # columns cut off by max_iter count as stopped


def test_a_column_without_positives_converges_to_a_low_intercept():
    matrix, ratio, norms, targets = problem(seed=4, k=2)
    targets[:, 1] = False
    coef, intercept, _ = fit_logistic_columns(matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32),
                                              matrix.shape[1], ratio, targets, norms=norms, c=1.0)
    assert np.all(np.isfinite(coef)) and np.isfinite(intercept).all()
    assert intercept[1] < -5  # probability of the absent class ~ 0
