"""Truncation and batching of token-id sequences: fixed-length padding or exact length buckets.

The book pads every review to 600 tokens. Most reviews are far shorter (median
about 180 tokens on IMDB), so most of a sequence model's work is spent on padding.
Length bucketing groups texts of similar length and pads each batch only to its own
longest member (rounded up to ``multiple``). With correct masks the model computes
the same function either way; only the amount of padding changes.
"""

from __future__ import annotations

import numpy as np


def truncate(ids: np.ndarray, length: int, policy: str = "head") -> np.ndarray:
    """Keep at most ``length`` tokens: the first ("head"), the last ("tail"), or a quarter head plus tail."""
    if len(ids) <= length:
        return ids
    if policy == "head":
        return ids[:length]
    if policy == "tail":
        return ids[-length:]
    if policy == "head+tail":
        head = length // 4  # the opening states the topic, the end the verdict
        return np.concatenate([ids[:head], ids[len(ids) - (length - head):]])
    raise ValueError(f"unknown truncation policy {policy!r}")


def pad(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """(batch, length) int32, zeros after each sequence (post-padding, like TextVectorization)."""
    out = np.zeros((len(sequences), length), dtype=np.int32)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = seq
    return out


def round_up(n: int, multiple: int) -> int:
    return max(multiple, -(-n // multiple) * multiple)


class _Batches:
    """What both kinds of batches share: a length, iteration by epoch, and a form `keras.Model.fit` takes."""

    batch_size: int
    shuffle: bool
    epoch: int

    def __len__(self) -> int:
        return -(-self.num_rows // self.batch_size)

    def batch_indices(self, epoch: int = 0) -> list[np.ndarray]:
        raise NotImplementedError

    def batch(self, idx: np.ndarray):
        raise NotImplementedError

    def __iter__(self):
        for idx in self.batch_indices(self.epoch):
            yield self.batch(idx)
        if self.shuffle:
            self.epoch += 1

    def dataset(self):
        """The batches as `keras.Model.fit` takes them on the active Keras backend.

        TensorFlow: a ``tf.data.Dataset`` with unknown (batch, length), so that one graph
        serves every shape, prefetching in the background. JAX and PyTorch: a
        ``keras.utils.PyDataset``, so that no TensorFlow is needed.
        """
        import keras

        if keras.backend.backend() != "tensorflow":
            return _py_dataset(self)
        import tensorflow as tf

        x_spec = tf.TensorSpec(shape=(None,) * self.input_rank, dtype=self.input_dtype)
        if self.labels is None:
            signature = x_spec
        else:
            # (batch,) class ids, or (batch, labels) 0/1 targets of a multi-label run
            label_shape = (None,) + self.labels.shape[1:]
            signature = (x_spec, tf.TensorSpec(shape=label_shape, dtype=tf.as_dtype(self.labels.dtype)))
        dataset = tf.data.Dataset.from_generator(lambda: iter(self), output_signature=signature)
        # A known length lets Keras show progress bars with a total and not warn about running out of data.
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self))).prefetch(2)


def _py_dataset(batches: _Batches):
    """``batches`` as a ``keras.utils.PyDataset``: batch ``i`` of the current epoch, reshuffled after each epoch."""
    import keras

    class BatchesDataset(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = batches.epoch
            self.indices = batches.batch_indices(self.epoch)

        def __len__(self):
            return len(self.indices)

        def __getitem__(self, i):
            return batches.batch(self.indices[i])

        def on_epoch_end(self):
            if batches.shuffle:
                self.epoch += 1
                self.indices = batches.batch_indices(self.epoch)

    return BatchesDataset()


class SequenceBatches(_Batches):
    """Batches of padded token ids (and labels) for `keras.Model.fit`, `evaluate` and `predict`.

    Args:
        sequences: one int32 array of token ids per text, already truncated.
        labels: int labels, or None for prediction.
        batch_size: texts per batch.
        mode: ``"bucket"`` pads each batch to its longest member rounded up to
            ``multiple``; ``"fixed"`` pads every batch to ``fixed_length``.
        shuffle: reshuffle every epoch (training). Bucketed training shuffles all
            texts, sorts them by length within windows of ``window`` batches and
            shuffles the batch order, so that batch contents and order change every
            epoch while batches stay tight. Without shuffle, bucketed batches come
            from a global sort by length; `order` maps them back to input order.
        seed: makes the shuffles reproducible (epoch ``e`` uses ``seed + e``).
        lengths: if given, bucketed batches are padded to the next of these lengths
            instead of the next multiple: a small fixed set of shapes, for backends
            that compile once per shape (JAX).
    """

    input_rank, input_dtype = 2, "int32"

    def __init__(self, sequences, labels=None, batch_size=32, mode="bucket", fixed_length=600, multiple=8,
                 shuffle=False, seed=0, window=64, lengths=None):
        self.sequences = sequences
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size = batch_size
        self.mode = mode
        self.fixed_length = fixed_length
        self.multiple = multiple
        self.shuffle = shuffle
        self.seed = seed
        self.window = window
        self.lengths_ladder = lengths
        self.lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        self.epoch = 0

    @property
    def num_rows(self) -> int:
        return len(self.sequences)

    def batch_indices(self, epoch: int = 0) -> list[np.ndarray]:
        n, bs = len(self.sequences), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable") if self.mode == "bucket" else np.arange(n)
            return [order[i:i + bs] for i in range(0, n, bs)]
        rng = np.random.default_rng(self.seed + epoch)
        order = rng.permutation(n)
        if self.mode == "bucket":
            span = bs * self.window
            order = np.concatenate([
                chunk[np.argsort(self.lengths[chunk], kind="stable")]
                for chunk in (order[i:i + span] for i in range(0, n, span))
            ])
        batches = [order[i:i + bs] for i in range(0, n, bs)]
        return [batches[i] for i in rng.permutation(len(batches))]

    @property
    def order(self) -> np.ndarray:
        """Input index of each row of the concatenated unshuffled batches."""
        return np.concatenate(self.batch_indices()) if len(self.sequences) else np.zeros(0, dtype=np.int64)

    def padded_length(self, idx: np.ndarray) -> int:
        if self.mode == "fixed":
            return self.fixed_length
        longest = int(self.lengths[idx].max())
        if self.lengths_ladder:
            return max(ladder_step(self.lengths_ladder, longest), longest)
        # Never past fixed_length (= sequence_length): positional embeddings know no later position.
        return min(round_up(longest, self.multiple), max(self.fixed_length, longest))

    def batch(self, idx: np.ndarray):
        x = pad([self.sequences[i] for i in idx], self.padded_length(idx))  # (batch, padded_len)
        return x if self.labels is None else (x, self.labels[idx])

    def padding_fraction(self) -> float:
        """Share of positions in the batches that are padding."""
        total = sum(len(idx) * self.padded_length(idx) for idx in self.batch_indices())
        return 1.0 - float(self.lengths.sum()) / max(total, 1)


class VectorBatches(_Batches):
    """Batches of dense n-gram vectors (and labels) cut from a sparse (texts, vocabulary) matrix.

    The matrix is computed once (`Vectorizer.sparse_vectors`); each batch is made dense
    only when it is used, since the dense matrix of a whole dataset would not fit.
    ``shuffle`` draws a new order every epoch (epoch ``e`` uses ``seed + e``).
    """

    input_rank, input_dtype = 2, "float32"

    def __init__(self, matrix, labels=None, batch_size=32, shuffle=False, seed=0):
        self.matrix = matrix.tocsr()
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    @property
    def num_rows(self) -> int:
        return self.matrix.shape[0]

    def batch_indices(self, epoch: int = 0) -> list[np.ndarray]:
        n, bs = self.num_rows, self.batch_size
        order = np.random.default_rng(self.seed + epoch).permutation(n) if self.shuffle else np.arange(n)
        return [order[i:i + bs] for i in range(0, n, bs)]

    def batch(self, idx: np.ndarray):
        x = self.matrix[idx].toarray()  # (batch, vocabulary) float32
        return x if self.labels is None else (x, self.labels[idx])


# --- prediction: a bounded set of batch shapes ------------------------------------------
#
# Training on TensorFlow feeds tf.data, whose (None, None) signature makes one graph serve every shape.
# Prediction calls ``model.predict_on_batch`` directly (8x faster for a few texts), and
# TensorFlow traces and keeps a new function for every new (batch, length) shape: a
# server that sees arbitrary request sizes grows by about 1 MB per shape, without end.
# So prediction batches are padded up to the next step of two small ladders instead.

def length_ladder(multiple: int, max_length: int, ratio: float = 1.5) -> list[int]:
    """Padded lengths for prediction: multiples of ``multiple`` growing by ~``ratio``, ending at ``max_length``.

    For multiple 8 and max_length 600: 8, 16, 24, 40, 64, 96, 144, 216, 328, 496, 600 (11
    lengths, so at most 1.5x padding over exact bucketing, in exchange for a bounded set).
    """
    steps, length = [], multiple
    while length < max_length:
        steps.append(length)
        length = max(length + multiple, round_up(int(np.ceil(length * ratio)), multiple))
    return steps + [max_length]


def size_ladder(batch_size: int) -> list[int]:
    """Batch sizes for prediction: powers of two below ``batch_size``, then ``batch_size`` (1, 2, 4, ..., 32)."""
    sizes = [1 << k for k in range(batch_size.bit_length()) if (1 << k) < batch_size]
    return sizes + [batch_size]


def ladder_step(ladder: list[int], n: int) -> int:
    """The smallest step of ``ladder`` that holds ``n`` (the last step if none does)."""
    for step in ladder:
        if step >= n:
            return step
    return ladder[-1]


def prediction_batches(sequences: list[np.ndarray], batch_size: int, lengths: list[int]):
    """Yield ``(idx, x)`` for prediction: ``idx`` (n,) input indices, ``x`` (rows, length) int32 token ids.

    Texts are sorted by length (so a batch pads little) and cut into batches of at most
    ``batch_size``. Each batch is padded to the next step of ``lengths`` and, with all-zero
    rows, to the next power of two of rows: rows past ``len(idx)`` are padding, to drop from
    the output. Padding is inert because the models mask token id 0 and rows do not interact.
    ``lengths[-1]`` must be >= the longest sequence (sequences are truncated before).
    """
    sizes = size_ladder(batch_size)
    token_counts = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    order = np.argsort(token_counts, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        length = ladder_step(lengths, int(token_counts[idx].max()))
        x = pad([sequences[i] for i in idx], length)  # (n, length)
        rows = ladder_step(sizes, len(idx))
        yield idx, np.pad(x, ((0, rows - len(idx)), (0, 0)))  # (rows, length), extra rows all padding
