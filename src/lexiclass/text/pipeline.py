"""Raw texts -> model inputs -> class probabilities, the same way in training, evaluation and prediction."""

from __future__ import annotations

import numpy as np

from lexiclass.text.batching import SequenceBatches, truncate
from lexiclass.text.vectorizer import Vectorizer


def make_vectorizer(config, input_kind: str) -> Vectorizer:
    if input_kind == "sequence":
        return Vectorizer("int", config.max_tokens)
    return Vectorizer(config.bow_mode, config.max_tokens, ngrams=config.ngrams)


def sequence_batches(vectorizer: Vectorizer, texts, labels, config, shuffle=False, seed=0) -> SequenceBatches:
    """Token ids truncated by the config's policy, batched by its batching mode."""
    ids = [truncate(s, config.sequence_length, config.truncation) for s in vectorizer.token_ids(texts)]
    return SequenceBatches(ids, labels, batch_size=config.batch_size, mode=config.batching,
                           fixed_length=config.sequence_length, multiple=config.bucket_multiple,
                           shuffle=shuffle, seed=seed)


def bow_dataset(vectorizer: Vectorizer, texts, labels, config, shuffle=False, seed=0):
    """A tf.data pipeline that vectorizes n-grams batch by batch (a full multi-hot matrix would not fit)."""
    import tensorflow as tf

    texts = list(texts)
    ds = tf.data.Dataset.from_tensor_slices(texts if labels is None else (texts, np.asarray(labels)))
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(config.batch_size)
    layer = vectorizer.layer
    ds = ds.map(layer if labels is None else (lambda x, y: (layer(x), y)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def model_inputs(vectorizer, texts, labels, config, input_kind, shuffle=False, seed=0):
    """A tf.data.Dataset of (inputs, labels) batches for ``model.fit`` (training and validation)."""
    if input_kind == "sequence":
        return sequence_batches(vectorizer, texts, labels, config, shuffle=shuffle, seed=seed).dataset()
    return bow_dataset(vectorizer, texts, labels, config, shuffle=shuffle, seed=seed)


def to_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(n, classes): a sigmoid output p becomes [1 - p, p]."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=1)
    return outputs


def predict_probabilities(model, vectorizer, texts, config, input_kind) -> np.ndarray:
    """(len(texts), classes) probabilities, in input order.

    Batches go straight to ``model.predict_on_batch``: for one or a few texts (serving)
    a tf.data pipeline plus ``model.predict`` costs about 8x more time, and for many
    texts it is no faster (measured in docs/performance.md).
    """
    texts = list(texts)
    if not texts:
        return np.zeros((0, 0))
    if input_kind == "sequence":
        batches = sequence_batches(vectorizer, texts, None, config)
        order, inputs = batches.order, iter(batches)
    else:
        order = np.arange(len(texts))
        step = config.batch_size
        inputs = (vectorizer.vectors(texts[i:i + step]) for i in range(0, len(texts), step))
    outputs = to_probabilities(np.concatenate([np.asarray(model.predict_on_batch(x)) for x in inputs]))
    probs = np.empty_like(outputs)
    probs[order] = outputs  # undo the sort by length
    return probs
