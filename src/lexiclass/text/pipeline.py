"""Raw texts -> model inputs -> class probabilities, the same way in training, evaluation and prediction."""

from __future__ import annotations

import numpy as np

from lexiclass.text.batching import (SequenceBatches, VectorBatches, ladder_step, length_ladder,
                                     prediction_batches, size_ladder, truncate)
from lexiclass.text.vectorizer import Vectorizer


def make_vectorizer(config, input_kind: str) -> Vectorizer:
    if input_kind == "sequence":
        return Vectorizer("int", config.max_tokens, tokenizer=config.tokenizer)
    return Vectorizer(config.bow_mode, config.max_tokens, ngrams=config.ngrams, tokenizer=config.tokenizer)


def sequence_batches(vectorizer: Vectorizer, texts, labels, config, shuffle=False, seed=0) -> SequenceBatches:
    """Token ids truncated by the config's policy, batched by its batching mode."""
    import keras

    ids = [truncate(s, config.sequence_length, config.truncation) for s in vectorizer.token_ids(texts)]
    # JAX compiles each new input shape: bucketed batches then snap to the prediction ladder's few lengths.
    ladder = (prediction_lengths(config) if config.batching == "bucket" and keras.backend.backend() == "jax"
              else None)
    return SequenceBatches(ids, labels, batch_size=config.batch_size, mode=config.batching,
                           fixed_length=config.sequence_length, multiple=config.bucket_multiple,
                           shuffle=shuffle, seed=seed, lengths=ladder)


def model_inputs(vectorizer, texts, labels, config, input_kind, shuffle=False, seed=0):
    """(inputs, labels) batches for ``model.fit`` (training and validation), in the active backend's form."""
    if input_kind == "sequence":
        return sequence_batches(vectorizer, texts, labels, config, shuffle=shuffle, seed=seed).dataset()
    matrix = vectorizer.sparse_vectors(list(texts))  # (texts, vocabulary), computed once for every epoch
    return VectorBatches(matrix, labels, batch_size=config.batch_size, shuffle=shuffle, seed=seed).dataset()


def to_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(n, classes): a sigmoid output p becomes [1 - p, p]."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=1)
    return outputs


PROGRESS_MIN_BATCHES = 20  # a progress bar for predictions of this many batches or more


def prediction_lengths(config) -> list[int]:
    """The padded lengths prediction batches use: the ladder for bucketed runs, ``sequence_length`` for fixed ones."""
    if config.batching == "fixed":
        return [config.sequence_length]
    return length_ladder(config.bucket_multiple, config.sequence_length)


def _model_outputs(model, x: np.ndarray, n: int) -> np.ndarray:
    """(n, outputs) for the first ``n`` rows of ``x`` (the rest are padding rows)."""
    return np.asarray(model.predict_on_batch(x))[:n]


def predict_probabilities(model, vectorizer, texts, config, input_kind, batch_size: int | None = None) -> np.ndarray:
    """(len(texts), classes) probabilities, in input order; ``batch_size`` defaults to the config's.

    Batches go straight to ``model.predict_on_batch``: for one or a few texts (serving)
    a tf.data pipeline plus ``model.predict`` costs about 8x more time, and for many
    texts it is no faster (measured in docs/performance.md). Every batch is padded to one
    of a few fixed shapes (`lexiclass.text.batching.prediction_batches`), so that a long
    running server traces a bounded number of functions whatever sizes it is sent.
    """
    from lexiclass.progress import progress

    texts = list(texts)
    if not texts:
        return np.zeros((0, 0))
    batch_size = batch_size or config.batch_size
    n_batches = -(-len(texts) // batch_size)
    if input_kind == "sequence":
        ids = [truncate(s, config.sequence_length, config.truncation) for s in vectorizer.token_ids(texts)]
        batches = prediction_batches(ids, batch_size, prediction_lengths(config))
    else:
        batches = _bow_batches(vectorizer, texts, batch_size)
    if n_batches >= PROGRESS_MIN_BATCHES:  # evaluation-sized jobs only; a server call stays silent
        batches = progress(batches, total=n_batches, desc="predicting", unit="batch")
    order, outputs = [], []
    for idx, x in batches:
        order.append(idx)
        outputs.append(_model_outputs(model, x, len(idx)))
    outputs = to_probabilities(np.concatenate(outputs))  # (n, classes) in batch order
    probs = np.empty_like(outputs)
    probs[np.concatenate(order)] = outputs  # undo the sort by length
    return probs


def _bow_batches(vectorizer: Vectorizer, texts: list[str], batch_size: int):
    """``(idx, x)`` like `prediction_batches`: x (rows, max_tokens) n-gram vectors, rows a step of `size_ladder`."""
    sizes = size_ladder(batch_size)
    for start in range(0, len(texts), batch_size):
        x = vectorizer.vectors(texts[start:start + batch_size])  # (n, max_tokens): the width is fixed
        rows = ladder_step(sizes, len(x))
        yield np.arange(start, start + len(x)), np.pad(x, ((0, rows - len(x)), (0, 0)))
