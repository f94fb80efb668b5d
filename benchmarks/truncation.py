"""Effect of the long-review policy (keep the head, the tail, or head + tail of a review) on accuracy.

    python benchmarks/truncation.py RUN_DIR --imdb-archive ../shared/data/aclImdb_v1.tar.gz [--split val]

Scores a trained sequence-model run on one split with each policy applied at prediction
time (the run was trained with its own policy, printed first), and counts how many
reviews are longer than the run's sequence length, the only ones a policy changes.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    import numpy as np

    import lexiclass
    from lexiclass.data import load_dataset
    from lexiclass.text.pipeline import predict_probabilities

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--imdb-archive", default=os.environ.get("LEXICLASS_IMDB_ARCHIVE"))
    parser.add_argument("--split", choices=("val", "test"), default="val")
    args = parser.parse_args()

    predictor = lexiclass.load(args.run_dir)
    config = predictor.config.updated({"imdb_archive": args.imdb_archive} if args.imdb_archive else {})
    data = load_dataset(config)
    texts, labels = getattr(data, f"{args.split}_texts"), getattr(data, f"{args.split}_labels")
    lengths = np.array([len(ids) for ids in predictor.vectorizer.token_ids(texts)])
    long = lengths > config.sequence_length
    print(f"$ python benchmarks/truncation.py {' '.join(sys.argv[1:])}")
    print(f"run trained with truncation={predictor.config.truncation!r}; {args.split} split: {len(texts)} reviews, "
          f"{long.sum()} ({long.mean():.1%}) longer than {config.sequence_length} tokens "
          f"(median length {np.median(lengths):.0f}, mean of min(length, {config.sequence_length}) "
          f"{np.minimum(lengths, config.sequence_length).mean():.0f})\n")
    print(f"| policy at prediction | {args.split} accuracy | accuracy on the {long.sum()} long reviews |")
    print("|---|---|---|")
    for policy in ("head", "tail", "head+tail"):
        probs = predict_probabilities(predictor.model, predictor.vectorizer, texts,
                                      config.updated({"truncation": policy}), "sequence")
        correct = probs.argmax(1) == labels
        print(f"| {policy} | {correct.mean():.2%} | {correct[long].mean():.2%} |", flush=True)


if __name__ == "__main__":
    main()
