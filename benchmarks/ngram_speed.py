"""N-gram models: fit time, accuracy, scoring speed, peak memory and model size, old vs new vs TF-IDF.

Every candidate runs in its own subprocess, one after another, so that its peak RSS
(``VmHWM`` from /proc/self/status, read by the child at its end) is its own; the parent
prints one table. Speeds are only comparable within one run of this script (the
machines are shared and noisy): compare the ratios, not the seconds.

Candidates (``--paths``):
- ``old``: nbsvm-ensemble as it was before issue 12 (``git show BASE:src/lexiclass/models/nbsvm.py``,
  imported from a temporary copy: CountVectorizer features, float64, serial one-vs-rest fits);
- ``new``: `lexiclass.models.nbsvm_ensemble.NBSVMEnsembleClassifier` as it is now (hashed n-gram
  counting, float32, threaded fits), with default settings;
- ``new-serial``: the same with ``n_jobs=1``;
- ``new-lbfgs``: the same with ``solver="lbfgs"`` (scikit-learn's L-BFGS, one fit per
  class, the default before the lockstep solver of `lexiclass.models.batched_logistic`);
- ``new-liblinear``: the same with ``solver="liblinear"`` (the solver of the old path:
  the old model, counted the new way);
- ``new-prune``: the same with ``min_abs_ratio`` (``--min-abs-ratio``, default 0.05);
- ``tfidf``: the baseline of the goal: sublinear TF-IDF word uni+bigrams (min_df=2) and
  scikit-learn logistic regression (binary: liblinear dual, C=100 as in
  benchmarks/beyond_book.py; K > 2: the default multinomial lbfgs, C=10, max_iter=1000).

Tasks (``--task``):
- ``imdb``: what ``lexiclass train --model nbsvm-ensemble`` does: fit on the 20,000-review
  train split, score validation (5,000), refit on train + validation (``--no-refit`` skips
  it), score the 25,000 test reviews. Split and seed 1337 as `lexiclass.data.load_imdb`.
- ``topics20``: a 20-class proxy for 20 Newsgroups (11,314 train / 7,532 test texts), built
  here from the same IMDB archive, since there is no internet: every labelled review is
  tied to its movie by the archive's ``urls_*.txt`` files; the reviews of each movie are
  paired in file-id order and each pair, joined by a blank line, is one text (about 2,600
  characters, 20 Newsgroups posts average about 1,900); a text's class is
  ``crc32(movie id) % 20``, so a class is a fixed, arbitrary set of about 700 movies. A
  movie's texts fall in train and test alike, so the signal is movie-specific vocabulary
  (titles, names, plot words), as newsgroup vocabulary is for 20 Newsgroups; unlike
  20 Newsgroups the classes are not topics and sentiment words carry nothing.

Example (the commands behind docs/performance.md, "N-gram models")::

    .venv/bin/python benchmarks/ngram_speed.py --task imdb --paths new tfidf old
    .venv/bin/python benchmarks/ngram_speed.py --task topics20 --paths new new-liblinear tfidf
    .venv/bin/python benchmarks/ngram_speed.py --task score   # scoring speed only, one process
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = "/work/shared/data/aclImdb_v1.tar.gz"
BASE = "123e020"  # the last commit with the pre-issue-12 nbsvm.py
NUMPY_BASE = "23b5c45"  # the last commit counting n-grams with whole-array NumPy (before lexiclass.text.ngrams)
SEED = 1337
PATHS = ("old", "new", "new-serial", "new-lbfgs", "new-liblinear", "new-prune", "tfidf")


# --- data ---------------------------------------------------------------------------------
def imdb(archive: str):
    from lexiclass.data import load_imdb

    d = load_imdb(archive)
    return dict(train=(d.train_texts, np.asarray(d.train_labels)), val=(d.val_texts, np.asarray(d.val_labels)),
                test=(d.test_texts, np.asarray(d.test_labels)))


def topics20(archive: str, n_train: int = 11_314, n_test: int = 7_532, classes: int = 20):
    """The 20-class proxy described in the module docstring; deterministic."""
    from lexiclass.data.imdb import locate_imdb

    root = locate_imdb(archive)
    by_movie: dict[str, list[tuple[int, str]]] = {}
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            urls = (root / split / f"urls_{label}.txt").read_text(encoding="utf-8").splitlines()
            for path in (root / split / label).iterdir():
                review_id = int(path.name.split("_")[0])
                movie = urls[review_id].split("/title/")[1].split("/")[0]
                by_movie.setdefault(movie, []).append((review_id + (0 if split == "train" else 10**6),
                                                       path.read_text(encoding="utf-8")))
    texts, labels = [], []
    for movie in sorted(by_movie):
        reviews = [text for _, text in sorted(by_movie[movie])]
        for i in range(0, len(reviews) - 1, 2):
            texts.append(reviews[i] + "\n\n" + reviews[i + 1])
            labels.append(zlib.crc32(movie.encode()) % classes)
    order = np.random.default_rng(SEED).permutation(len(texts))[: n_train + n_test]
    texts = [texts[i] for i in order]
    labels = np.asarray(labels)[order]
    return dict(train=(texts[:n_train], labels[:n_train]), val=None, test=(texts[n_train:], labels[n_train:]))


# --- candidates ---------------------------------------------------------------------------
def old_module(commit: str = BASE):
    """nbsvm.py as it was at ``commit``, from git, as a module of its own (baseline only)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:src/lexiclass/models/nbsvm.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"nbsvm_{commit}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"nbsvm_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TfidfLogReg:
    """Baseline only (not part of the library): sublinear TF-IDF uni+bigrams + logistic regression."""

    def fit(self, texts, labels):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from lexiclass.text.ngrams import word_tokens

        self.vectorizer = TfidfVectorizer(tokenizer=word_tokens, lowercase=False, token_pattern=None,
                                          ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float64)
        x = self.vectorizer.fit_transform(texts)
        if len(np.unique(labels)) == 2:
            self.model = LogisticRegression(C=100.0, solver="liblinear", dual=True, max_iter=1000, random_state=SEED)
        else:
            self.model = LogisticRegression(C=10.0, max_iter=1000, random_state=SEED)
        self.model.fit(x, labels)
        return self

    def predict_proba(self, texts):
        return self.model.predict_proba(self.vectorizer.transform(texts))

    def save(self, directory):  # for the size column only: weights + idf as float64, vocabulary as UTF-8
        vocab = "\n".join(self.vectorizer.vocabulary_).encode()
        Path(directory, "vocabulary.txt").write_bytes(vocab)
        np.savez_compressed(Path(directory, "weights.npz"), coef=self.model.coef_, idf=self.vectorizer.idf_)


def build(path: str, min_abs_ratio: float):
    if path == "tfidf":
        return TfidfLogReg()
    if path == "old":
        return old_module().NBSVMEnsembleClassifier()
    from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier

    extra = {"new-serial": dict(n_jobs=1), "new-liblinear": dict(solver="liblinear"),
             "new-lbfgs": dict(solver="lbfgs"),
             "new-prune": dict(min_abs_ratio=min_abs_ratio)}.get(path, {})
    return NBSVMEnsembleClassifier(**extra)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def child(task: str, path: str, archive: str, refit: bool, min_abs_ratio: float, score_repeats: int) -> dict:
    """One candidate, start to end, in this process; returns its row."""
    from lexiclass.progress import configure

    configure(enabled=False)
    data = imdb(archive) if task == "imdb" else topics20(archive)
    rss_data = peak_rss_mb()
    row = {"path": path, "task": task}
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    started, cpu = time.perf_counter(), time.process_time()
    model = build(path, min_abs_ratio).fit(train_x, train_y)
    row["fit_s"], row["fit_cpu_s"] = time.perf_counter() - started, time.process_time() - cpu
    if data["val"] is not None:
        val_x, val_y = data["val"]
        row["val_acc"] = float(np.mean(np.argmax(model.predict_proba(val_x), axis=1) == val_y))
        if refit:
            del model
            started, cpu = time.perf_counter(), time.process_time()
            model = build(path, min_abs_ratio).fit(train_x + val_x, np.concatenate([train_y, val_y]))
            row["refit_s"], row["refit_cpu_s"] = time.perf_counter() - started, time.process_time() - cpu
    rates, cpu_rates = [], []
    for _ in range(score_repeats):
        started, cpu = time.perf_counter(), time.process_time()
        proba = model.predict_proba(test_x)
        rates.append(len(test_x) / (time.perf_counter() - started))
        cpu_rates.append(len(test_x) / (time.process_time() - cpu))
    row["test_acc"] = float(np.mean(np.argmax(proba, axis=1) == test_y))
    row["score_per_s"] = statistics.median(rates)
    row["score_per_cpu_s"] = statistics.median(cpu_rates)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        row["size_mb"] = dir_size(Path(tmp)) / 1e6
    row["peak_rss_mb"] = peak_rss_mb()
    row["rss_after_data_mb"] = rss_data
    return row


SCORERS = ("old", "numpy", "new", "new-serial", "tfidf")


def score_only(archive: str, n_train: int, n_score: int, repeats: int, paths) -> None:
    """Scoring speed in one process: every path fitted on the same ``n_train`` IMDB reviews,
    then scoring the same ``n_score`` test reviews, alternating, ``repeats`` times. The first
    path is the baseline of the ratios. ``numpy`` is nbsvm.py at NUMPY_BASE (whole-array NumPy
    counting), ``old`` at BASE (CountVectorizer), ``new`` today's compiled counting."""
    from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier
    from lexiclass.progress import configure

    configure(enabled=False)
    data = imdb(archive)
    (x, y), (test_x, _) = data["train"], data["test"]
    pick = np.random.default_rng(SEED).permutation(len(x))[:n_train]
    x, y = [x[i] for i in pick], y[pick]
    texts = [test_x[i] for i in np.random.default_rng(SEED + 1).permutation(len(test_x))[:n_score]]
    makers = {"old": lambda: old_module().NBSVMEnsembleClassifier(),
              "numpy": lambda: old_module(NUMPY_BASE).NBSVMEnsembleClassifier(),
              "new": NBSVMEnsembleClassifier, "new-serial": lambda: NBSVMEnsembleClassifier(n_jobs=1),
              "tfidf": TfidfLogReg}
    models = {name: makers[name]().fit(x, y) for name in paths}
    models[paths[0]].predict_proba(texts[:10])  # warm-up: compiled kernels load from numba's cache
    for model in models.values():
        model.predict_proba(texts[:10])
    rates = {name: ([], []) for name in models}
    probas = {}
    for _ in range(repeats):
        for name, model in models.items():
            started, cpu = time.perf_counter(), time.process_time()
            probas[name] = model.predict_proba(texts)
            rates[name][0].append(len(texts) / (time.perf_counter() - started))
            rates[name][1].append(len(texts) / (time.process_time() - cpu))
    base = paths[0]
    print(f"scoring {n_score} IMDB test reviews, models fitted on {n_train} train reviews, {repeats} alternating "
          f"runs (medians); baseline {base}")
    base_wall, base_cpu = (statistics.median(v) for v in rates[base])
    for name, (wall, cpu) in rates.items():
        wall, cpu = statistics.median(wall), statistics.median(cpu)
        diff = np.abs(probas[name] - probas[base]).max()
        agree = np.mean(probas[name].argmax(1) == probas[base].argmax(1))
        print(f"{name:<11} {wall:8.0f} reviews/s ({wall / base_wall:5.2f}x)  {cpu:8.0f} reviews per CPU s "
              f"({cpu / base_cpu:5.2f}x)  max |p - p_{base}| {diff:.1e}, same class {agree:.2%}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=("imdb", "topics20", "score"), default="imdb",
                        help="score: old vs new scoring speed only, in one process (--score-train, --score-texts)")
    parser.add_argument("--score-train", type=int, default=2000)
    parser.add_argument("--score-texts", type=int, default=2000)
    parser.add_argument("--score-paths", nargs="+", choices=SCORERS, default=["numpy", "new", "new-serial", "tfidf"],
                        help="score: the scorers to compare; the first is the baseline of the ratios")
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=["new", "tfidf", "old"])
    parser.add_argument("--archive", default=ARCHIVE)
    parser.add_argument("--no-refit", action="store_true", help="imdb: skip the refit on train + validation")
    parser.add_argument("--min-abs-ratio", type=float, default=0.05)
    parser.add_argument("--score-repeats", type=int, default=1, help="scoring runs per candidate (median)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        row = child(args.task, args.child, args.archive, not args.no_refit, args.min_abs_ratio, args.score_repeats)
        print("ROW " + json.dumps(row), flush=True)
        return 0
    print(f"CPU: {cpu_model()} x {os.cpu_count()}; command: {' '.join([sys.executable] + sys.argv)}")
    if args.task == "score":
        score_only(args.archive, args.score_train, args.score_texts, max(3, args.score_repeats), args.score_paths)
        return 0
    rows = []
    for path in args.paths:
        command = [sys.executable, __file__, "--child", path, "--task", args.task, "--archive", args.archive,
                   "--min-abs-ratio", str(args.min_abs_ratio), "--score-repeats", str(args.score_repeats)]
        if args.no_refit:
            command.append("--no-refit")
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        lines = [line for line in done.stdout.splitlines() if line.startswith("ROW ")]
        if done.returncode or not lines:
            print(f"{path}: failed ({done.returncode})\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(lines[-1][4:]))
        print(f"  done: {rows[-1]}", flush=True)
    base = next((r for r in rows if r["path"] == "tfidf"), None)
    print(f"\ntask {args.task}" + ("" if args.task != "imdb" or args.no_refit else " (fit on train, refit on train+val)"))
    # Wall seconds suffer from other processes on a shared machine; CPU seconds (all threads
    # of the child) much less, so both are shown, and the ratio to TF-IDF for each.
    header = (f"{'path':<11} {'fit s':>7} {'cpu s':>7} {'refit s':>7} {'cpu s':>7} {'x tfidf':>7} {'cpu x':>6} "
              f"{'val acc':>7} {'test acc':>8} {'score/s':>7} {'/cpu s':>7} {'peak RSS MB':>11} {'size MB':>7}")
    print(header)
    nan = float("nan")
    for r in rows:
        wall, cpu = r.get("refit_s", r["fit_s"]), r.get("refit_cpu_s", r["fit_cpu_s"])
        ratio = wall / base.get("refit_s", base["fit_s"]) if base else nan
        cpu_ratio = cpu / base.get("refit_cpu_s", base["fit_cpu_s"]) if base else nan
        print(f"{r['path']:<11} {r['fit_s']:7.1f} {r['fit_cpu_s']:7.1f} {r.get('refit_s', nan):7.1f} "
              f"{r.get('refit_cpu_s', nan):7.1f} {ratio:7.2f} {cpu_ratio:6.2f} {r.get('val_acc', nan):7.4f} "
              f"{r['test_acc']:8.4f} {r['score_per_s']:7.0f} {r['score_per_cpu_s']:7.0f} {r['peak_rss_mb']:11.0f} "
              f"{r['size_mb']:7.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
