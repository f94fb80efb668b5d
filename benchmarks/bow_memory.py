"""Memory of building bow's training matrix (`Vectorizer.sparse_vectors`) on IMDB's training reviews.

    python benchmarks/bow_memory.py --imdb-archive ../shared/data/aclImdb_v1.tar.gz [--texts 20000] [--ngrams 2]

Runs in a child process per mode (``multi_hot`` and ``tf_idf``) so each peak is its own: the
child loads the reviews, adapts lexiclass's bow vectorizer (bigrams, 20,000 n-grams: bow's
defaults), then builds the sparse matrix of ``--texts`` reviews. Printed side by side: the
matrix's own bytes (values + indices + indptr, the part any method must hold), and how much
the peak resident memory grew while building it (``ru_maxrss`` after minus before), with
the CPU model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(args) -> None:
    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.progress import configure
    from lexiclass.text.pipeline import make_vectorizer

    configure(enabled=False)
    data = load_imdb(args.imdb_archive, seed=1337)
    texts = list(data.train_texts[: args.texts])
    config = TrainConfig(model="bow", bow_mode=args.mode, ngrams=args.ngrams)
    vectorizer = make_vectorizer(config, "bow")
    vectorizer.adapt(texts)
    tracemalloc.start()  # Python and NumPy allocations made while building, at their peak
    matrix = vectorizer.sparse_vectors(texts)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    own = (matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 2**20
    print(json.dumps(dict(mode=args.mode, nnz=int(matrix.nnz), matrix_mb=round(own, 1),
                          peak_mb=round(peak, 1))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-archive")
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--ngrams", type=int, default=2)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        child(args)
        return
    from machine import describe_cpu

    print("command:", " ".join([sys.executable, *sys.argv]))
    print("cpu:", describe_cpu())
    print("| mode | non-zeros | matrix MB | peak allocated while building, MB | peak / matrix |")
    print("|---|---|---|---|---|")
    for mode in ("multi_hot", "tf_idf"):
        cmd = [sys.executable, __file__, "--mode", mode, "--texts", str(args.texts), "--ngrams", str(args.ngrams)]
        if args.imdb_archive:
            cmd += ["--imdb-archive", args.imdb_archive]
        row = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        print(f"| {mode} | {row['nnz']:,} | {row['matrix_mb']} | {row['peak_mb']} | "
              f"{row['peak_mb'] / row['matrix_mb']:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
