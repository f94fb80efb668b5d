"""Issue 14, item 1: NBSVM + document vectors learned with IMDB's unlabelled reviews, on validation.

Usage::

    .venv/bin/python benchmarks/accuracy_93.py [--archive PATH] [--corpus train+unsup|unsup]
        [--epochs 10] [--ngrams 2] [--sample 1e-4] [--min-count 3] [--dim 100] [--infer-epochs 10]

Protocol (validation only; the test split is not read): lexiclass's IMDB split (20,000 train /
5,000 validation, seed 1337). The NBSVM ensemble (nbsvm-ensemble's defaults) is fit on the
20,000 training reviews; a PV-DBOW vector model (gensim Doc2Vec, dm=0, targets = word 1-2-grams)
is trained without labels on the 50,000 ``train/unsup`` reviews, plus the 20,000 training
reviews with ``--corpus train+unsup``; every labelled review (training and validation) gets
its vector by inference; a logistic regression on the normalised vectors gives a second
probability. Printed: validation accuracy of the NBSVM alone, the vector head alone (for
head C = 0.3, 1, 3) and their log-space mix ``(1-w) log p_nbsvm + w log p_docvec`` for
w = 0.1 .. 0.5, and the wall time of each step. This is the same computation as
`lexiclass.models.docvec.NBSVMDocVecClassifier` (``--model nbsvm-docvec``), laid out so
that one vector model serves every head C and weight.

The final candidate was scored on test once, by the CLI (see docs/results.md, "93% on IMDB
(issue 14)"):

    lexiclass train --model nbsvm-docvec --imdb-archive ../shared/data/aclImdb_v1.tar.gz \\
        --out runs/imdb/nbsvm-docvec --no-refit-on-val
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_cpu  # noqa: E402

from lexiclass.data import load_imdb  # noqa: E402
from lexiclass.data.unlabeled import imdb_unlabeled_texts  # noqa: E402
from lexiclass.models.docvec import NBSVMDocVecClassifier  # noqa: E402
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier  # noqa: E402

SEED = 1337
DEFAULT_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", default=str(DEFAULT_ARCHIVE))
    ap.add_argument("--corpus", choices=("train+unsup", "unsup"), default="train+unsup")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--ngrams", type=int, default=2)
    ap.add_argument("--sample", type=float, default=1e-4)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--infer-epochs", type=int, default=10)
    args = ap.parse_args()

    started = time.time()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"seed: {SEED} (split seed {SEED}, Doc2Vec seed {SEED})")
    print("machine:", platform.platform(), "|", describe_cpu())
    data = load_imdb(args.archive, seed=SEED)
    unsup = imdb_unlabeled_texts(args.archive)
    yt, yv = np.asarray(data.train_labels), np.asarray(data.val_labels)
    print(f"data: {len(data.train_texts)} train / {len(data.val_texts)} val / {len(unsup)} unlabelled")

    t = time.time()
    nbsvm = NBSVMEnsembleClassifier(seed=SEED).fit(data.train_texts, yt)
    p_nb = nbsvm.predict_proba(data.val_texts)
    print(f"nbsvm-ensemble              val {np.mean(p_nb.argmax(1) == yv):.4f}   fit+score {time.time() - t:6.1f} s")

    # The vector model: NBSVMDocVecClassifier's own code, with the chosen corpus.
    model = NBSVMDocVecClassifier(dim=args.dim, epochs=args.epochs, ngrams=args.ngrams, min_count=args.min_count,
                                  sample=args.sample, infer_epochs=args.infer_epochs, seed=SEED)
    t = time.time()
    model.unlabeled_texts = unsup
    model._fit_vectors(list(data.train_texts) if args.corpus == "train+unsup" else [], yt)
    print(f"vector model ({args.corpus}, {len(model.vector_model_.wv)} n-grams)   train {time.time() - t:6.1f} s")
    t = time.time()
    x_train, x_val = model.transform(data.train_texts), model.transform(data.val_texts)
    print(f"inferring {len(data.train_texts) + len(data.val_texts)} vectors        {time.time() - t:6.1f} s")

    tiny = np.finfo(np.float64).tiny
    for c in (0.3, 1.0, 3.0):
        head = LogisticRegression(C=c, max_iter=2000).fit(x_train, yt)
        p_dv = head.predict_proba(x_val)
        mixes = []
        for w in (0.1, 0.2, 0.3, 0.4, 0.5):
            z = (1 - w) * np.log(np.maximum(p_nb, tiny)) + w * np.log(np.maximum(p_dv, tiny))
            mixes.append(f"w={w}: {np.mean(z.argmax(1) == yv):.4f}")
        print(f"head C={c:<4} alone {np.mean(p_dv.argmax(1) == yv):.4f} | mix " + "  ".join(mixes))
        if c == 1.0:
            model.nbsvm_, model.classes_ = nbsvm, nbsvm.classes_
            model.head_coef_, model.head_intercept_ = head.coef_.astype(float), head.intercept_.astype(float)
            with tempfile.TemporaryDirectory() as tmp:
                model.save(tmp)
                print(f"saved size (head C=1): {dir_size(Path(tmp)) / 1e6:.1f} MB")
    print(f"total wall time {time.time() - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
