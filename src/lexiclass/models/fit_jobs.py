"""Fitting NBSVM's logistic regressions in threads: one job per model (or one per NBSVM model with the
``batched-lbfgs`` solver), the largest first, one progress bar per NBSVM model.

`lexiclass.models.nbsvm` prepares the jobs (``NBSVMClassifier.prepare_fit``: counted n-grams, NB ratios,
norms) and collects their results (``finish_fit``); `run_jobs` runs the jobs of one or several models in
one pool, so the two members of an ensemble share it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
import scipy.sparse as sp

from lexiclass.models.batched_logistic import fit_logistic_columns
from lexiclass.progress import progress
from lexiclass.resources import usable_cpus


class FitJob:
    """One logistic-regression fit: a model's NB-scaled, normalised rows, built in float32 over shared indices."""

    threads_itself = False  # many of these run in a pool of threads

    def __init__(self, owner, row, indices, indptr, n_features, ratio, norms, target):
        self.owner, self.row, self.indices, self.indptr = owner, row, indices, indptr
        self.n_features, self.ratio, self.norms, self.target = n_features, ratio, norms, target

    @property
    def size(self) -> int:
        return len(self.indices)

    def steps(self):
        return 1

    def __call__(self, tick=lambda n: None):
        # deferred: scikit-learn's import is ~1.5 s of start-up, and prediction needs none of it
        from sklearn.linear_model import LogisticRegression
        owner, indices, indptr = self.owner, self.indices, self.indptr
        data = np.empty(len(indices), dtype=np.float32)
        n = len(indptr) - 1
        for a in range(0, n, owner.chunk_size):  # by blocks of rows: no float64 array of all non-zeros
            b = min(a + owner.chunk_size, n)
            lo, hi = int(indptr[a]), int(indptr[b])
            part = self.ratio[indices[lo:hi]]
            if self.norms is not None:
                part = part / np.repeat(self.norms[a:b], np.diff(indptr[a : b + 1])).astype(np.float32)
            data[lo:hi] = part
        x = sp.csr_matrix((data, indices, indptr), shape=(n, self.n_features), copy=False)
        if owner.solver == "liblinear":
            model = LogisticRegression(C=owner.linear_c, solver="liblinear", dual=True, max_iter=owner.max_iter,
                                       random_state=owner.seed, class_weight=owner.class_weight)
        else:
            model = LogisticRegression(C=owner.linear_c, solver="lbfgs", max_iter=owner.max_iter,
                                       class_weight=owner.class_weight)
        model.fit(x, self.target)
        del x, data
        tick(1)
        return [(model.coef_[0] * self.ratio, float(model.intercept_[0]), self.ratio)]


class BatchedFitJob:
    """All of a model's logistic regressions (one per class, or one for two classes) fitted together
    by `lexiclass.models.batched_logistic`: one pass over the binary matrix serves every class, and
    the job uses ``n_jobs`` threads itself."""

    threads_itself = True

    def __init__(self, owner, indices, indptr, n_features, ratio, norms, targets):
        self.owner, self.indices, self.indptr, self.n_features = owner, indices, indptr, n_features
        self.ratio, self.norms, self.targets = ratio, norms, targets

    @property
    def size(self) -> int:
        return len(self.indices) * self.targets.shape[1]

    def steps(self):
        return self.targets.shape[1]  # models; each counts when its fit stops

    def __call__(self, tick=lambda n: None):
        owner, targets = self.owner, self.targets
        weight = None
        if owner.class_weight == "balanced":  # scikit-learn's rule, per binary problem: n / (2 * class count)
            positives = targets.sum(axis=0)
            weight = np.where(targets, len(targets) / (2.0 * np.maximum(positives, 1)),
                              len(targets) / (2.0 * np.maximum(len(targets) - positives, 1)))
        coef, intercept, _ = fit_logistic_columns(
            self.indices, self.indptr, self.n_features, self.ratio, targets, norms=self.norms,
            sample_weight=weight, c=owner.linear_c, max_iter=owner.max_iter,
            n_jobs=owner.n_jobs or usable_cpus(), on_progress=tick)
        return [(coef[m] * self.ratio[m], float(intercept[m]), self.ratio[m]) for m in range(len(intercept))]


def run_jobs(models: list, job_lists: list[list], n_jobs: int | None) -> None:
    """Run every model's fitting jobs, in ``n_jobs`` threads (the sparse products and liblinear release
    the GIL), the largest first, or one after another when the jobs use threads themselves; one
    progress bar per model; then let each model collect its results (``model.finish_fit``)."""
    bars = []
    for model, jobs in zip(models, job_lists):
        total = sum(job.steps() for job in jobs)
        bars.append(progress(total=total, desc=f"fitting {model.analyzer} model{'s' if total > 1 else ''}",
                             unit="model"))
    results = [[None] * len(jobs) for jobs in job_lists]
    order = sorted(((i, j) for i, jobs in enumerate(job_lists) for j in range(len(jobs))),
                   key=lambda ij: -job_lists[ij[0]][ij[1]].size)
    workers = min(n_jobs or usable_cpus(), len(order))
    if any(job.threads_itself for jobs in job_lists for job in jobs):
        workers = 1
    try:
        if workers <= 1:
            for i, j in order:
                results[i][j] = job_lists[i][j](bars[i].update)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(job_lists[i][j], bars[i].update): (i, j) for i, j in order}
                for future in as_completed(futures):
                    i, j = futures[future]
                    results[i][j] = future.result()
    finally:
        for bar in bars:
            bar.close()
    for model, result in zip(models, results):
        model.finish_fit(result)
