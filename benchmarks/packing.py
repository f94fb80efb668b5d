"""What sequence packing could save in training, counted on the IMDB training reviews (no timing: work counts).

    python benchmarks/packing.py --imdb-archive ../shared/data/aclImdb_v1.tar.gz

Packing puts several short reviews in one row of ``sequence_length`` tokens (first fit, longest first) so
that almost no slot is padding. It removes padding, which length buckets (the default) already keep small;
but the attention of a packed row is computed over the whole row (a block-diagonal mask only zeroes the
cross-review scores after computing them), so its QK^T and AV work grows from sum(n_i**2) to
sequence_length**2 per row. Printed, for one epoch of the default batching and of packed rows: token slots
(padding included) and the encoder's forward matmul FLOPs (the same formula as benchmarks/vs_book.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def first_fit(lengths, width: int) -> list[list[int]]:
    """Rows of at most ``width`` tokens, filled longest review first (first-fit decreasing)."""
    rows, room = [], []
    for n in sorted(lengths, reverse=True):
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(n)
                room[r] -= n
                break
        else:
            rows.append([n])
            room.append(width - n)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imdb-archive")
    args = parser.parse_args()
    from benchmarks.vs_book import encoder_flops
    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.text.batching import truncate
    from lexiclass.text.pipeline import make_vectorizer, sequence_batches

    print(f"command: python benchmarks/packing.py {' '.join(sys.argv[1:])}")
    config = TrainConfig(model="positional-transformer")
    data = load_imdb(args.imdb_archive)
    vectorizer = make_vectorizer(config, "sequence")
    vectorizer.adapt(data.train_texts)
    batches = sequence_batches(vectorizer, data.train_texts, data.train_labels, config, shuffle=True, seed=0)
    tokens = int(batches.lengths.sum())
    shapes = [(len(idx), batches.padded_length(idx)) for idx in batches.batch_indices(0)]
    bucket_slots = sum(b * n for b, n in shapes)
    bucket_flops = sum(encoder_flops(b, n) for b, n in shapes)

    lengths = [len(truncate(s, config.sequence_length, config.truncation)) for s in batches.sequences]
    rows = first_fit(lengths, config.sequence_length)
    packed_slots = len(rows) * config.sequence_length
    # Projections and feed-forward scale with token slots; attention with each row's width squared.
    packed_flops = encoder_flops(len(rows), config.sequence_length)
    print(f"{len(lengths)} reviews, {tokens} tokens, sequence_length {config.sequence_length}")
    print("| batching | token slots | padding | encoder GFLOP/epoch | vs buckets |\n|---|---|---|---|---|")
    for name, slots, flops in (("length buckets (default)", bucket_slots, bucket_flops),
                               (f"packed rows of {config.sequence_length} ({len(rows)} rows)", packed_slots,
                                packed_flops)):
        print(f"| {name} | {slots} | {1 - tokens / slots:.1%} | {flops / 1e9:.0f} | {flops / bucket_flops:.2f}x |")


if __name__ == "__main__":
    main()
