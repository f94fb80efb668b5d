"""Issue 14, item 1: self-training of nbsvm-ensemble with IMDB's unlabelled reviews, on validation.

Usage::

    .venv/bin/python benchmarks/self_training.py [--archive PATH] [--keep 10000 25000 50000]
        [--save-probs DIR]

Protocol (validation only; the test split is not read): lexiclass's IMDB split (20,000 train /
5,000 validation, seed 1337). nbsvm-ensemble (its defaults) is fit on the 20,000 training
reviews and labels the 50,000 ``train/unsup`` reviews. For each ``--keep`` k, the k most
confident of them (k/2 per predicted class, so the pseudo-labels stay balanced) join the
training set with their predicted labels and a second ensemble is fit on both. Printed, per k:
the pseudo-labels' share of the unlabelled set, validation accuracy of the second model alone
and of its log-space mix with the first, fit wall and CPU time. ``--save-probs`` writes every
model's validation probabilities (``.npy``) for stacking experiments.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_cpu  # noqa: E402

from lexiclass.data import load_imdb  # noqa: E402
from lexiclass.data.unlabeled import imdb_unlabeled_texts  # noqa: E402
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier  # noqa: E402
from lexiclass.progress import configure  # noqa: E402

SEED = 1337
DEFAULT_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"


def fit(texts, labels):
    wall, cpu = time.perf_counter(), time.process_time()
    model = NBSVMEnsembleClassifier(seed=SEED).fit(texts, labels)
    return model, time.perf_counter() - wall, time.process_time() - cpu


def confident(proba: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` most confident rows, ``keep // k`` per predicted class (k classes)."""
    predicted, confidence = proba.argmax(1), proba.max(1)
    chosen = []
    for label in range(proba.shape[1]):
        rows = np.flatnonzero(predicted == label)
        chosen.append(rows[np.argsort(-confidence[rows], kind="stable")[: keep // proba.shape[1]]])
    return np.sort(np.concatenate(chosen))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", default=str(DEFAULT_ARCHIVE))
    ap.add_argument("--keep", type=int, nargs="+", default=[10_000, 25_000, 50_000])
    ap.add_argument("--save-probs", type=Path, default=None)
    args = ap.parse_args()
    configure(enabled=False)
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"seed: {SEED} (split and model)  |  cpu: {describe_cpu()}")
    data = load_imdb(args.archive, seed=SEED)
    unsup = imdb_unlabeled_texts(args.archive)
    yt, yv = np.asarray(data.train_labels), np.asarray(data.val_labels)
    tiny = np.finfo(np.float64).tiny

    base, wall, cpu = fit(data.train_texts, yt)
    p_base = base.predict_proba(data.val_texts)
    print(f"base (20,000 labelled)      val {np.mean(p_base.argmax(1) == yv):.4f}   fit {wall:6.1f} s wall / {cpu:6.1f} CPU s")
    t = time.perf_counter()
    p_unsup = base.predict_proba(unsup)
    print(f"labelled {len(unsup)} unlabelled reviews in {time.perf_counter() - t:.1f} s")
    if args.save_probs:
        args.save_probs.mkdir(parents=True, exist_ok=True)
        np.save(args.save_probs / "base.npy", p_base)
    del base
    for keep in args.keep:
        rows = confident(p_unsup, keep)
        texts = list(data.train_texts) + [unsup[i] for i in rows]
        labels = np.concatenate([yt, p_unsup[rows].argmax(1)])
        model, wall, cpu = fit(texts, labels)
        p = model.predict_proba(data.val_texts)
        del model
        mixes = []
        for w in (0.3, 0.5, 0.7):
            z = (1 - w) * np.log(np.maximum(p_base, tiny)) + w * np.log(np.maximum(p, tiny))
            mixes.append(f"w={w}: {np.mean(z.argmax(1) == yv):.4f}")
        print(f"+{len(rows):>6} pseudo (confidence >= {p_unsup[rows].max(1).min():.3f})  val {np.mean(p.argmax(1) == yv):.4f}"
              f"  | mix with base {'  '.join(mixes)}  | fit {wall:6.1f} s wall / {cpu:6.1f} CPU s", flush=True)
        if args.save_probs:
            np.save(args.save_probs / f"self{keep}.npy", p)


if __name__ == "__main__":
    main()
