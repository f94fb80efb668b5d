import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lexiclass.text.batching import (SequenceBatches, ladder_step, length_ladder, pad, prediction_batches, round_up,
                                     size_ladder, truncate)


def test_truncation_policies():
    ids = np.arange(1, 21, dtype=np.int32)
    assert list(truncate(ids, 8, "head")) == list(range(1, 9))
    assert list(truncate(ids, 8, "tail")) == list(range(13, 21))
    assert list(truncate(ids, 8, "head+tail")) == [1, 2, 15, 16, 17, 18, 19, 20]
    assert list(truncate(ids[:5], 8, "tail")) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="unknown truncation policy"):
        truncate(ids, 8, "middle")


def test_pad_and_round_up():
    out = pad([np.array([3, 4]), np.array([5])], 4)
    np.testing.assert_array_equal(out, [[3, 4, 0, 0], [5, 0, 0, 0]])
    assert [round_up(n, 8) for n in (0, 1, 8, 9)] == [8, 8, 8, 16]


def lengths_seqs(lengths):
    return [np.arange(1, n + 1, dtype=np.int32) for n in lengths]


def test_bucketed_batches_pad_to_their_own_longest_member():
    seqs = lengths_seqs([3, 50, 4, 49, 5, 48])
    batches = SequenceBatches(seqs, batch_size=2, mode="bucket", multiple=8)
    shapes = [x.shape for x in batches]
    assert shapes == [(2, 8), (2, 48), (2, 56)]
    assert batches.padding_fraction() < SequenceBatches(seqs, batch_size=2, mode="fixed", fixed_length=600).padding_fraction()


def test_fixed_batches_use_the_fixed_length():
    batches = SequenceBatches(lengths_seqs([3, 7, 2]), batch_size=2, mode="fixed", fixed_length=10)
    assert [x.shape for x in batches] == [(2, 10), (1, 10)]


def test_order_maps_rows_back_to_inputs():
    seqs = lengths_seqs([9, 2, 7, 1, 5])
    batches = SequenceBatches(seqs, batch_size=2)
    rows = np.concatenate([x[:, :1] for x in batches])[:, 0]  # first token is 1 for every sequence
    lengths_in_batch_order = [len(seqs[i]) for i in batches.order]
    assert lengths_in_batch_order == sorted(lengths_in_batch_order)
    assert len(rows) == 5


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=60), st.integers(1, 9), st.integers(0, 5))
def test_every_example_appears_exactly_once_per_epoch(lengths, batch_size, seed):
    seqs = lengths_seqs(lengths)
    labels = np.arange(len(seqs))
    batches = SequenceBatches(seqs, labels, batch_size=batch_size, shuffle=True, seed=seed, window=2)
    for _ in range(2):
        seen = []
        for x, y in batches:
            assert x.shape[1] % 8 == 0 and x.shape[1] >= max(len(seqs[i]) for i in y)
            for row, i in zip(x, y):
                np.testing.assert_array_equal(row[: len(seqs[i])], seqs[i])  # contents intact
                assert not row[len(seqs[i]):].any()  # zeros after
            seen.extend(y.tolist())
        assert sorted(seen) == list(range(len(seqs)))


def test_shuffle_changes_every_epoch_and_is_seeded():
    seqs = lengths_seqs(list(range(1, 200)))
    a = SequenceBatches(seqs, np.arange(199), batch_size=8, shuffle=True, seed=1, window=4)
    b = SequenceBatches(seqs, np.arange(199), batch_size=8, shuffle=True, seed=1, window=4)
    epoch1 = [y.tolist() for _, y in a]
    epoch2 = [y.tolist() for _, y in a]
    assert epoch1 != epoch2
    assert epoch1 == [y.tolist() for _, y in b]


def test_dataset_accepts_every_batch_shape():
    seqs = lengths_seqs([3, 30, 4, 60])
    ds = SequenceBatches(seqs, np.array([0, 1, 0, 1]), batch_size=2).dataset()
    shapes = [tuple(x.shape) for x, _ in ds]
    assert shapes == [(2, 8), (2, 64)]


# --- prediction batches: a bounded set of shapes ---------------------------------------

@pytest.mark.parametrize("multiple,max_length", [(8, 600), (4, 64), (1, 50), (8, 5), (16, 100_000)])
def test_length_ladder_is_short_and_covers_every_length(multiple, max_length):
    ladder = length_ladder(multiple, max_length)
    assert ladder[-1] == max_length and ladder == sorted(set(ladder))
    assert all(step % multiple == 0 for step in ladder[:-1])
    for length in range(0, max_length + 1, max(1, max_length // 997)):  # padding stays under ~1.5x + multiple
        step = ladder_step(ladder, length)
        assert step >= length and step <= max(multiple, 1.5 * length + multiple)
    assert len(ladder) <= 2 + np.log(max(max_length / multiple, 1)) / np.log(1.5)  # logarithmic, not linear


def test_size_ladder_is_powers_of_two_then_the_batch_size():
    assert size_ladder(32) == [1, 2, 4, 8, 16, 32]
    assert size_ladder(20) == [1, 2, 4, 8, 16, 20]
    assert size_ladder(1) == [1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 70), min_size=1, max_size=50), st.integers(1, 12))
def test_prediction_batches_cover_every_text_once_in_ladder_shapes(lengths, batch_size):
    seqs = lengths_seqs(lengths)
    ladder = length_ladder(4, 70)
    seen = []
    for idx, x in prediction_batches(seqs, batch_size, ladder):
        assert x.shape[0] in size_ladder(batch_size) and x.shape[0] >= len(idx) and x.shape[1] in ladder
        for row, i in zip(x, idx):
            np.testing.assert_array_equal(row[: len(seqs[i])], seqs[i])  # contents intact
            assert not row[len(seqs[i]):].any()  # zeros after
        assert not x[len(idx):].any()  # padding rows are all padding
        seen.extend(idx.tolist())
    assert sorted(seen) == list(range(len(seqs)))


def test_bucketed_padding_never_goes_past_the_sequence_length():
    """sequence_length 300 is not a multiple of 8: a 300-token batch must stay 300 wide, not 304
    (a positional embedding knows only 300 positions)."""
    sequences = [np.ones(300, dtype=np.int32), np.ones(297, dtype=np.int32)]
    batches = SequenceBatches(sequences, batch_size=2, mode="bucket", fixed_length=300, multiple=8)
    assert [x.shape for x in batches] == [(2, 300)]
    short = SequenceBatches([np.ones(5, dtype=np.int32)], batch_size=2, mode="bucket", fixed_length=300, multiple=8)
    assert [x.shape for x in short] == [(1, 8)]


def test_positional_transformer_trains_with_a_sequence_length_not_a_multiple_of_bucket_multiple(tmp_path):
    from lexiclass.training.fit import train
    from tests.conftest import make_dataset, tiny_config

    info = train(tiny_config("positional-transformer", sequence_length=30, epochs=1, bucket_multiple=8),
                 tmp_path / "r", dataset=make_dataset(), verbose=0)
    assert info["status"] == "complete"
