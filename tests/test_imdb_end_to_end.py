"""Slow checks on the real offline IMDB archive (run by .ci/run with `-m slow`)."""

import json

import pytest

from lexiclass.cli import main

pytestmark = pytest.mark.slow


def test_data_imdb_prints_the_book_split(shared_imdb_archive, capsys):
    assert main(["data", "imdb", "--imdb-archive", shared_imdb_archive]) == 0
    assert "train: 20000  val: 5000  test: 25000" in capsys.readouterr().out


def test_quick_positional_transformer_run_learns_and_reloads(shared_imdb_archive, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "positional-transformer", "--imdb-archive", shared_imdb_archive,
                 "--limit", "2000", "--epochs", "2", "--out", str(run)]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["data_sizes"] == {"train": 2000, "val": 500, "test": 2000}
    assert info["test_accuracy"] > 0.6  # two epochs on 2,000 reviews: clearly better than chance
    capsys.readouterr()
    assert main(["evaluate", str(run), "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == metrics["stored_accuracy"] == info["test_accuracy"]


@pytest.mark.parametrize("model_name", ["positional-transformer", "transformer", "bilstm"])
def test_bucketed_and_fixed_600_padding_predict_the_same_on_real_reviews(shared_imdb_archive, model_name):
    import keras
    import numpy as np

    from lexiclass.config import TrainConfig
    from lexiclass.data import load_imdb
    from lexiclass.models.registry import get_model_spec
    from lexiclass.text.pipeline import make_vectorizer, predict_probabilities

    data = load_imdb(shared_imdb_archive).limit(2000, seed=3)
    config = TrainConfig(model=model_name)  # the book's sizes: 20,000 tokens, 600 positions, 256-d
    vectorizer = make_vectorizer(config, "sequence").adapt(data.train_texts)
    keras.utils.set_random_seed(0)
    model = get_model_spec(model_name).create(config, 2).build_network(vectorizer.vocabulary)
    texts = data.test_texts[:400]  # real lengths: some far below 600 tokens, some truncated at 600
    fixed = predict_probabilities(model, vectorizer, texts, config.updated({"batching": "fixed"}), "sequence")
    bucket = predict_probabilities(model, vectorizer, texts, config, "sequence")
    assert np.abs(fixed - bucket).max() <= 1e-5
    assert fixed[:, 1].std() > 1e-4  # the outputs differ between reviews: the comparison is not vacuous
