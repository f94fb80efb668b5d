"""Shared fixtures: small generated datasets and tiny trained runs (seconds, not minutes)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No precision is pinned here: --precision auto computes in bfloat16 on CPUs with AMX or AVX512-BF16
# and in float32 elsewhere, and the suite runs what it picks, as a user would. A test that needs
# float32's exactness pins it itself, with its reason; tests/test_default_path.py runs every Keras
# family's bfloat16 path on any CPU.

import numpy as np
import pytest

from lexiclass.config import TrainConfig
from lexiclass.data.dataset import TextDataset

FILLER = ("the movie film story actor plot scene time people character director watch really "
          "just also even much little way first make see well").split()
CUES = {
    "neg": "bad awful boring terrible waste worst dull".split(),
    "pos": "good great excellent wonderful best loved superb".split(),
    "mixed": "okay fine average decent mediocre passable".split(),
    "odd": "strange weird bizarre surreal odd quirky".split(),
}
SHARED_IMDB_CANDIDATES = [
    os.environ.get("LEXICLASS_IMDB_ARCHIVE", ""),
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "aclImdb_v1.tar.gz"),
    "/work/shared/data/aclImdb_v1.tar.gz",
]


def make_texts(n: int, classes: list[str], seed: int = 0, min_len: int = 5, max_len: int = 60):
    """Texts whose class shows in a few cue words among filler; lengths vary so padding matters."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % len(classes)
        length = int(rng.integers(min_len, max_len))
        words = list(rng.choice(FILLER, size=length))
        for _ in range(max(1, length // 6)):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(CUES[classes[label]])))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.asarray(labels, dtype=np.int32)


def make_dataset(classes=("neg", "pos"), n_train=240, n_val=60, n_test=80, seed=0) -> TextDataset:
    classes = list(classes)
    train = make_texts(n_train, classes, seed)
    val = make_texts(n_val, classes, seed + 1)
    test = make_texts(n_test, classes, seed + 2)
    return TextDataset(*train, *val, *test, label_names=classes, source="generated")


TOPICS = {
    "food": "pizza pasta bread cheese soup salad".split(),
    "music": "guitar piano song drums violin melody".split(),
    "sport": "football tennis goal match runner stadium".split(),
}


def make_topic_texts(n: int, seed: int = 0, none_share: float = 0.0):
    """Texts about one or two of `TOPICS` (cue words among filler) and their (n, 3) 0/1 label matrix;
    ``none_share`` of them mention no topic and carry no label."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    texts, labels = [], np.zeros((n, len(names)), dtype=np.uint8)
    for i in range(n):
        chosen = [] if rng.random() < none_share else rng.choice(len(names), size=int(rng.integers(1, 3)),
                                                                   replace=False).tolist()
        words = list(rng.choice(FILLER, size=int(rng.integers(5, 40))))
        for k in chosen:
            labels[i, k] = 1
            for _ in range(2):
                words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(TOPICS[names[k]])))
        texts.append(" ".join(words))
    return texts, labels


def make_topic_dataset(n_train=240, n_val=80, n_test=80, seed=0, none_share: float = 0.0) -> TextDataset:
    """Multi-label data: labels ``food``, ``music``, ``sport``; 1-2 per text (none for ``none_share`` of them)."""
    parts = [make_topic_texts(n, seed + i, none_share) for i, n in enumerate((n_train, n_val, n_test))]
    return TextDataset(*parts[0], *parts[1], *parts[2], label_names=sorted(TOPICS), source="generated multi-label")


def tiny_config(model: str, **overrides) -> TrainConfig:
    """A model small enough to train in seconds on the generated data."""
    values = dict(model=model, max_tokens=200, sequence_length=64, embed_dim=16, dense_dim=8, num_heads=2,
                  lstm_units=8, hidden_units=8, batch_size=16, epochs=2, learning_rate=1e-2, dataset="generated",
                  bucket_multiple=4)
    values.update(overrides)
    return TrainConfig(**values).validate()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``tiny_run(model, classes=("neg", "pos"), **config)`` -> path of a finished run directory (cached)."""
    from lexiclass.training.fit import train

    cache = {}

    def make(model: str, classes=("neg", "pos"), **overrides):
        key = (model, tuple(classes), tuple(sorted(overrides.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp(f"run-{model}")
            train(tiny_config(model, **overrides), out, dataset=make_dataset(classes), overwrite=True, verbose=0)
            cache[key] = out
        return cache[key]

    return make


ANIMALS = ["bird", "cat", "dog"]


def make_multilabel_texts(n: int, names=ANIMALS, seed: int = 0):
    """Texts that name one or two of ``names`` (twice each) among filler; labels (n, L) uint8 0/1, every text labelled."""
    rng = np.random.default_rng(seed)
    texts, labels = [], np.zeros((n, len(names)), np.uint8)
    for i in range(n):
        chosen = rng.choice(len(names), size=int(rng.integers(1, 3)), replace=False)
        labels[i, chosen] = 1
        words = [names[j] for j in chosen] * 2 + list(rng.choice(FILLER, size=int(rng.integers(3, 12))))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, labels


def make_multilabel_dataset(names=ANIMALS, n_train=300, n_val=120, n_test=100, seed=0) -> TextDataset:
    names = list(names)
    parts = [make_multilabel_texts(n, names, seed + i) for i, n in enumerate((n_train, n_val, n_test))]
    return TextDataset(*parts[0], *parts[1], *parts[2], label_names=names, source="generated multi-label")


@pytest.fixture(scope="session")
def tiny_multilabel_run(tmp_path_factory):
    """``tiny_multilabel_run(model, names=ANIMALS, **config)`` -> a finished multi-label run directory (cached):
    texts naming bird/cat/dog carry those labels; every training text has one, so thresholds' at_least_one is on."""
    from lexiclass.training.fit import train

    cache = {}

    def make(model: str, names=tuple(ANIMALS), **overrides):
        key = (model, tuple(names), tuple(sorted(overrides.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp(f"multilabel-{model}")
            overrides = {"nb_min_df": 1, **overrides}
            train(tiny_config(model, **overrides), out, dataset=make_multilabel_dataset(names), overwrite=True,
                  verbose=0)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture
def generated_dataset():
    return make_dataset()


@pytest.fixture(scope="session")
def shared_imdb_archive():
    for path in SHARED_IMDB_CANDIDATES:
        if path and os.path.exists(path):
            return os.path.abspath(path)
    pytest.fail(f"offline IMDB archive not found (set LEXICLASS_IMDB_ARCHIVE); tried {SHARED_IMDB_CANDIDATES[1:]}")


@pytest.fixture
def without_ray(monkeypatch):
    """Make ``import ray`` fail, as on an install without the ``ray`` extra."""
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray with 2 CPUs for the module's tests (the ``ray`` extra)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def write_csv(tmp_path, n: int = 160, classes=("neg", "pos"), seed: int = 0):
    """A ``text,label`` CSV of `make_texts` at ``tmp_path/d.csv``; returns its path."""
    texts, labels = make_texts(n, list(classes), seed=seed)
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + "".join(f"{t},{classes[y]}\n" for t, y in zip(texts, labels)))
    return path


def other_precision() -> str:
    """The precision this machine does not pick by default (``auto``): a test pins it to run both on every CPU."""
    from lexiclass.precision import resolve

    return "float32" if resolve("auto", "tensorflow")[0] == "bfloat16" else "bfloat16"


def probability_atol(run) -> float:
    """How closely two computations of ``run``'s probabilities (a run folder or a loaded predictor) must agree:
    1e-5 for float32 runs, bfloat16's rounding for bfloat16 runs (lexiclass.precision.PROBABILITY_TOLERANCE)."""
    return _atol(run, "PROBABILITY_TOLERANCE")


def attention_atol(run) -> float:
    """How closely a softmax row of ``run``'s attention sums to 1 (lexiclass.precision.ATTENTION_SUM_TOLERANCE)."""
    return _atol(run, "ATTENTION_SUM_TOLERANCE")


def _atol(run, table: str) -> float:
    import json
    from pathlib import Path

    from lexiclass import precision

    used = (run.config.precision if hasattr(run, "config")
            else json.loads((Path(run) / "config.json").read_text())["precision"])
    return precision.tolerance(getattr(precision, table), used)
