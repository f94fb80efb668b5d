"""`--model auto` picks by validation only and writes a normal run; class weights; the tfidf model."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lexiclass
from lexiclass.data.dataset import TextDataset
from lexiclass.errors import LexiclassError
from lexiclass.models.tfidf import TfidfClassifier
from lexiclass.training import auto
from lexiclass.models.classifier import class_weights
from lexiclass.training.fit import train
from tests.conftest import make_dataset, make_texts, tiny_config


@pytest.mark.parametrize("classes", [("neg", "pos"), ("neg", "pos", "mixed", "odd")])
def test_auto_picks_the_best_candidate_on_validation_and_writes_a_normal_run(classes, tmp_path):
    data = make_dataset(classes)
    info = train(tiny_config("auto"), tmp_path / "run", dataset=data, verbose=0)
    record = info["auto"]
    tried = [c for c in record["candidates"] if c["status"] == "ok"]
    assert len(tried) == len(auto.CANDIDATES) and record["metric"] == "accuracy"
    best = max(c["accuracy"] for c in tried)
    winner = record["winner"]
    assert next(c for c in tried if c["model"] == winner["model"] and c["settings"] == winner["settings"])[
        "accuracy"] == best
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == winner["model"] == info["model"]
    assert all(config[k] == v for k, v in winner["settings"].items())
    predictor = lexiclass.load(tmp_path / "run")
    assert predictor.labels == list(classes)
    assert predictor.predict("great superb wonderful excellent")["label"] == "pos"


def test_auto_never_looks_at_the_test_split(tmp_path, monkeypatch):
    data = make_dataset()
    seen = []
    original = TfidfClassifier.predict_proba
    monkeypatch.setattr(TfidfClassifier, "predict_proba", lambda self, texts: seen.append(list(texts)) or
                        original(self, texts))
    auto.select_model(tiny_config("auto"), data, candidates=auto.CANDIDATES[:2])
    assert seen and all(texts == data.val_texts for texts in seen)


def test_time_budget_skips_later_candidates_and_failures_are_reported(monkeypatch):
    data = make_dataset()
    clock = iter([0.0, 0.0, 0.0, 5.0, 5.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    monkeypatch.setattr(auto.time, "perf_counter", lambda: next(clock))
    calls = []

    def fake_score(config, data, metric):
        calls.append(config.model)
        if len(calls) == 2:
            raise LexiclassError("no char n-grams to learn from")
        return 0.8

    monkeypatch.setattr(auto, "validation_score", fake_score)
    winner, record = auto.select_model(tiny_config("auto", time_budget=10), data)
    statuses = [c["status"] for c in record["candidates"]]
    assert statuses[:2] == ["ok", "failed: no char n-grams to learn from"]
    assert statuses[2:] == ["skipped: time budget spent"] * (len(auto.CANDIDATES) - 2)
    assert winner.model == "tfidf" and winner.tfidf_analyzer == "word"


def test_a_candidate_that_would_overrun_the_budget_is_not_started(monkeypatch):
    data = make_dataset()
    clock = iter([0.0, 0.0, 0.0, 6.0] + [6.0] * 20)  # the first candidate takes 6 s of a 10 s budget
    monkeypatch.setattr(auto.time, "perf_counter", lambda: next(clock))
    calls = []
    monkeypatch.setattr(auto, "validation_score", lambda config, data, metric: calls.append(config.model) or 0.8)
    winner, record = auto.select_model(tiny_config("auto", time_budget=10), data)
    statuses = [c["status"] for c in record["candidates"]]
    assert calls == ["tfidf"] and statuses[0] == "ok"
    assert statuses[1:] == ["skipped: would overrun the time budget (4 s left, the previous candidate took 6 s)"] * (
        len(auto.CANDIDATES) - 1)


RARE_CHARS = ("nbsvm", {"nb_analyzer": "char", "char_min_n": 1, "char_ngrams": 5, "char_min_df": 1})


def test_nbsvm_over_rare_character_1_to_5_grams_is_tried_recorded_and_chosen_only_by_validation(monkeypatch):
    assert RARE_CHARS in auto.CANDIDATES
    data = make_dataset()
    candidates = (auto.CANDIDATES[1], RARE_CHARS)
    winner, record = auto.select_model(tiny_config("auto"), data, candidates=candidates)  # real fits
    rows = record["candidates"]
    assert [(r["model"], r["settings"], r["status"]) for r in rows] == [(*c, "ok") for c in candidates]
    assert 0 <= rows[1]["accuracy"] <= 1
    best = max(rows, key=lambda r: r["accuracy"])
    assert record["winner"] == {"model": best["model"], "settings": best["settings"]}
    assert winner.model == best["model"]
    for scores in ([0.80, 0.85], [0.85, 0.80], [0.85, 0.85]):  # ties keep the cheaper, earlier candidate
        monkeypatch.setattr(auto, "validation_score", lambda config, data, metric, it=iter(scores): next(it))
        winner, record = auto.select_model(tiny_config("auto"), data, candidates=candidates)
        assert [r["accuracy"] for r in record["candidates"]] == scores
        chosen = candidates[scores.index(max(scores))]
        assert record["winner"] == {"model": chosen[0], "settings": chosen[1]}
        assert winner.model == chosen[0] and winner.char_min_df == chosen[1].get("char_min_df", 3)
        if chosen is RARE_CHARS:
            assert (winner.nb_analyzer, winner.char_min_n, winner.char_ngrams) == ("char", 1, 5)


def test_rare_character_ngrams_are_skipped_on_long_training_texts(monkeypatch):
    data = make_dataset()
    chars = sum(len(t) for t in data.train_texts)
    calls = []
    monkeypatch.setattr(auto, "validation_score", lambda config, data, metric: calls.append(config.model) or 0.9)
    monkeypatch.setattr(auto, "RARE_CHAR_NGRAMS_MAX_CHARS", chars - 1)
    winner, record = auto.select_model(tiny_config("auto"), data, candidates=(auto.CANDIDATES[1], RARE_CHARS))
    rows = record["candidates"]
    assert rows[0]["status"] == "ok" and rows[1]["status"].startswith(f"skipped: {chars:,} training characters")
    assert rows[1]["accuracy"] is None and calls == ["tfidf"] and winner.model == "tfidf"
    monkeypatch.setattr(auto, "RARE_CHAR_NGRAMS_MAX_CHARS", chars)  # at the limit it still runs
    _, record = auto.select_model(tiny_config("auto"), data, candidates=(RARE_CHARS,))
    assert record["candidates"][0]["status"] == "ok"


def test_imbalanced_data_is_selected_by_macro_f1():
    texts, labels = make_texts(200, ["neg", "pos"], seed=1)
    keep = np.flatnonzero((labels == 0) | (np.arange(len(labels)) % 8 == 1))  # about 1 positive in 8
    data = TextDataset([texts[i] for i in keep], labels[keep], texts[:20], labels[:20], texts[:20], labels[:20],
                       label_names=["neg", "pos"])
    assert auto.selection_metric(data) == "macro_f1"
    assert auto.selection_metric(make_dataset()) == "accuracy"


def test_balanced_class_weights():
    weights = class_weights(np.array([0, 0, 0, 1]), 2, "balanced")
    assert weights == pytest.approx({0: 4 / 6, 1: 2.0})
    assert class_weights(np.array([0, 1]), 2, "none") is None


def test_keras_model_trains_with_balanced_class_weights(tmp_path, monkeypatch):
    import keras

    seen = {}
    original = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **kw: seen.update(kw) or original(self, *a, **kw))
    train(tiny_config("bow", class_weight="balanced", epochs=1), tmp_path / "r", dataset=make_dataset(), verbose=0)
    assert seen["class_weight"] == pytest.approx({0: 1.0, 1: 1.0})


def test_tfidf_model_round_trip_and_binary_probabilities(tmp_path):
    data = make_dataset(("neg", "pos", "mixed"))
    for analyzer in ("word", "char"):
        model = TfidfClassifier(analyzer=analyzer, min_n=1, max_n=3 if analyzer == "char" else 2, min_df=1)
        model.fit(data.train_texts, data.train_labels)
        probs = model.predict_proba(data.test_texts)
        assert probs.shape == (len(data.test_texts), 3) and np.allclose(probs.sum(axis=1), 1)
        assert (probs.argmax(axis=1) == data.test_labels).mean() > 0.8
        model.save(tmp_path / analyzer)
        assert np.allclose(TfidfClassifier.load(tmp_path / analyzer).predict_proba(data.test_texts), probs)
    binary = make_dataset()
    model = TfidfClassifier(min_df=1).fit(binary.train_texts, binary.train_labels)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
    reference = LogisticRegression(C=10.0, max_iter=1000).fit(vectorizer.fit_transform(binary.train_texts),
                                                              binary.train_labels)
    expected = reference.predict_proba(vectorizer.transform(binary.test_texts))
    assert np.allclose(model.predict_proba(binary.test_texts), expected, atol=1e-5)


def test_nbsvm_takes_balanced_class_weights(tmp_path):
    """On 1 positive in 8, balanced weights move the decision towards the rare class."""
    from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier

    texts, labels = make_texts(400, ["neg", "pos"], seed=2)
    keep = np.flatnonzero((labels == 0) | (np.arange(len(labels)) % 8 == 1))
    texts, labels = [texts[i] for i in keep], labels[keep]
    plain = NBSVMEnsembleClassifier(word_min_df=1, char_min_df=1).fit(texts, labels)
    balanced = NBSVMEnsembleClassifier(word_min_df=1, char_min_df=1, class_weight="balanced").fit(texts, labels)
    probe = make_texts(60, ["neg", "pos"], seed=3)[0]
    assert balanced.predict_proba(probe)[:, 1].mean() > plain.predict_proba(probe)[:, 1].mean()
    balanced.save(tmp_path / "m")
    loaded = NBSVMEnsembleClassifier.load(tmp_path / "m")
    assert loaded.class_weight == "balanced"
    assert np.allclose(loaded.predict_proba(probe), balanced.predict_proba(probe), atol=1e-6)
    info = train(tiny_config("nbsvm", class_weight="balanced"), tmp_path / "r", dataset=make_dataset(), verbose=0)
    assert info["status"] == "complete"
