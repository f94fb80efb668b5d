"""Multi-label runs of every family that claims them: train -> thresholds -> metrics -> reload -> predict -> evaluate."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lexiclass.errors import ConfigError
from lexiclass.inference.predictor import Predictor
from lexiclass.models.registry import multi_label_models
from lexiclass.training import tune as tune_mod
from lexiclass.training.auto import select_model
from lexiclass.training.fit import train
from lexiclass.training.metrics import score_test_split
from tests.conftest import make_dataset, make_topic_dataset, tiny_config

KERAS = ["bow", "bilstm", "glove-bilstm", "transformer", "positional-transformer"]
NGRAM = ["nbsvm", "tfidf", "nbsvm-ensemble"]


def test_every_family_but_the_document_vector_ones_claims_multi_label():
    assert sorted(multi_label_models()) == sorted(KERAS + NGRAM + ["auto"])


# The matrix's multi-label section runs these too; the positional Transformer's multi-label run is trained and
# explained by tests/inference/test_explain.py in the default suite.
SLOW_KERAS = ("bilstm", "glove-bilstm", "transformer", "positional-transformer")


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m in SLOW_KERAS else m
                                   for m in NGRAM + KERAS])
def test_multi_label_run_trains_reloads_predicts_and_evaluates(model, tmp_path):
    data = make_topic_dataset(none_share=0.1)
    extra = {"epochs": 4} if model in KERAS else {"nb_min_df": 1, "char_min_df": 1}
    info = train(tiny_config(model, **extra), tmp_path / "run", dataset=data, verbose=0)
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    thresholds = json.loads((run / "thresholds.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert config["multi_label"] is True
    assert len(thresholds["thresholds"]) == 3 and thresholds["at_least_one"] is False  # 10% of texts have no label
    assert metrics["multi_label"] and set(metrics["per_label"]) == {"food", "music", "sport"}
    assert info["test_micro_f1"] == metrics["micro_f1"] and info["test_accuracy"] == metrics["subset_accuracy"]
    assert metrics["micro_f1"] > (0.9 if model in NGRAM else 0.5)
    assert (run / "per_label.png").stat().st_size > 0 and not (run / "confusion_matrix.png").exists()

    predictor = Predictor.from_run_dir(run)
    assert predictor.multi_label
    texts = ["a song on the piano before the football match", "the people watch the time"]
    results = predictor.predict(texts)
    assert all(set(r["labels"]) <= {"food", "music", "sport"} and "label" not in r for r in results)
    probabilities = predictor.predict_proba(texts)
    for result, row in zip(results, probabilities):  # chosen = over the label's threshold, most probable first
        order = np.argsort(-row, kind="stable")
        assert result["labels"] == [predictor.labels[i] for i in order if row[i] >= thresholds["thresholds"][i]]
    again = score_test_split(predictor, predictor.labels, data, thresholds=predictor.thresholds)  # as evaluate does
    assert again["micro_f1"] == pytest.approx(metrics["micro_f1"], abs=1e-9)


def test_texts_that_always_carry_a_label_get_at_least_one(tmp_path):
    train(tiny_config("tfidf", nb_min_df=1), tmp_path / "run", dataset=make_topic_dataset(), verbose=0)
    predictor = Predictor.from_run_dir(tmp_path / "run")
    assert predictor.thresholds["at_least_one"] is True
    assert len(predictor.predict("nothing to see here at all")["labels"]) == 1


def test_multi_label_refusals_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="learns one class per text; for several labels per text use one of"):
        train(tiny_config("nbsvm-dvcosine"), tmp_path / "a", dataset=make_topic_dataset(), verbose=0)
    with pytest.raises(ConfigError, match="multi_label is on but generated has one class per text"):
        train(tiny_config("tfidf", multi_label=True), tmp_path / "b", dataset=make_dataset(), verbose=0)
    with pytest.raises(ConfigError, match="cannot weigh the labels of multi-label data"):
        train(tiny_config("bow", class_weight="balanced"), tmp_path / "c", dataset=make_topic_dataset(),
              verbose=0)
    assert not any(tmp_path.iterdir())  # refused before any folder was made


def test_auto_selects_on_validation_micro_f1():
    data = make_topic_dataset()
    config = tiny_config("auto", nb_min_df=1, multi_label=True)
    winner, record = select_model(config, data, candidates=(("tfidf", {}), ("nbsvm", {})))
    assert record["metric"] == "micro_f1"
    assert all(0 < row["micro_f1"] <= 1 for row in record["candidates"])
    assert winner.model in ("tfidf", "nbsvm")


def test_tune_ranks_multi_label_trials_by_micro_f1(tmp_path, without_ray):
    data = make_topic_dataset()
    summary = tune_mod.tune(tiny_config("tfidf", nb_min_df=1), {"tfidf_c": [0.01, 10.0]}, 2, tmp_path / "search",
                            engine="local", dataset=data)
    assert summary["ranked_by"] == "val_micro_f1"
    with open(tmp_path / "search" / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(row["val_micro_f1"] for row in rows)
    assert summary["best"]["val_micro_f1"] == pytest.approx(max(float(row["val_micro_f1"]) for row in rows), 1e-5)
    table = (tmp_path / "search" / "trials.md").read_text()
    assert table.startswith("Best: trial") and "validation micro-F1" in table
    assert np.isfinite(summary["best_run"]["test_accuracy"])


def test_csv_run_with_relative_files_evaluates_from_elsewhere_and_on_another_file(tmp_path, monkeypatch, capsys):
    from lexiclass.cli import main
    from tests.conftest import make_topic_texts

    def write(name, n, seed):
        texts, labels = make_topic_texts(n, seed=seed, none_share=0.1)
        names = ["food", "music", "sport"]
        rows = "".join(f"{t},{'|'.join(names[k] for k in row.nonzero()[0])}\n" for t, row in zip(texts, labels))
        (tmp_path / name).write_text("text,label\n" + rows)

    for name, n, seed in (("train.csv", 240, 0), ("val.csv", 80, 1), ("test.csv", 80, 2), ("other.csv", 60, 3)):
        write(name, n, seed)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "tfidf", "--dataset", "train.csv", "--val-dataset", "val.csv", "--test-dataset",
                 "test.csv", "--label-separator", "|", "--nb-min-df", "1", "--out", "run", "--quiet"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the run names its files by absolute paths
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--format", "json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert own["stored_accuracy"] == pytest.approx(own["accuracy"]) and own["micro_f1"] > 0.8
    assert main(["evaluate", str(tmp_path / "run"), "--dataset", str(tmp_path / "other.csv"), "--format", "json"]) == 0
    other = json.loads(capsys.readouterr().out)  # 'food|music' read as two labels, an empty field as none
    assert other["multi_label"] and other["num_examples"] > 0 and 0.8 < other["micro_f1"] <= 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt"])
def test_each_multi_label_file_format_trains_through_the_command_line(fmt, tmp_path, capsys):
    from lexiclass.cli import main
    from tests.conftest import make_topic_texts

    names = ["food", "music", "sport"]
    texts, labels = make_topic_texts(300, seed=4)
    sets = [[names[k] for k in row.nonzero()[0]] for row in labels]
    path = tmp_path / f"data.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"text": t, "labels": s}) + "\n" for t, s in zip(texts, sets)))
    elif fmt == "csv":
        path.write_text("text,label\n" + "".join(f"{t},{'|'.join(s)}\n" for t, s in zip(texts, sets)))
    else:  # fastText: __label__ prefixes, then the text
        path.write_text("".join(" ".join(f"__label__{n}" for n in s) + f" {t}\n" for t, s in zip(texts, sets)))
    extra = ["--label-separator", "|"] if fmt == "csv" else []
    assert main(["train", "--model", "tfidf", "--dataset", str(path), "--nb-min-df", "1", "--out",
                 str(tmp_path / "run"), "--quiet", *extra]) == 0
    assert "test micro-F1" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "labels.json").read_text()) == names
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["micro_f1"] > 0.9
