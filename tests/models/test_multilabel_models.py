"""Multi-label models: thresholds chosen on validation, one probability per label from every n-gram family."""

from __future__ import annotations

import numpy as np
import pytest

from lexiclass.errors import ConfigError, DataError, LexiclassError
from lexiclass.models.checks import check_labels
from lexiclass.models.nbsvm import NBSVMClassifier
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier
from lexiclass.models.tfidf import TfidfClassifier
from lexiclass.models.thresholds import MIN_POSITIVES, check_thresholds, choose_thresholds, decide, micro_f1
from tests.conftest import make_topic_texts

# --- thresholds --------------------------------------------------------------------------------------


def test_global_threshold_is_the_middle_of_the_best_range():
    # Positives at 0.6-0.8, negatives at 0.1-0.3: every threshold in (0.3, 0.6] separates them perfectly.
    probabilities = np.array([[0.8, 0.1], [0.6, 0.3], [0.2, 0.7], [0.1, 0.65]])
    labels = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    chosen = choose_thresholds(probabilities, labels, "global")
    assert 0.4 <= chosen["global"] <= 0.5  # middle of 0.31..0.60, not the first (0.31) or the last
    assert chosen["thresholds"] == [chosen["global"]] * 2
    assert micro_f1(decide(probabilities, chosen), labels) == 1.0


def test_per_label_gives_frequent_labels_their_own_threshold_and_rare_ones_the_global():
    rng = np.random.default_rng(0)
    n = 400
    labels = np.zeros((n, 2), dtype=np.uint8)
    labels[:200, 0] = 1  # frequent: 200 positives
    labels[:3, 1] = 1  # rare: 3 positives, fewer than MIN_POSITIVES
    probabilities = np.column_stack([np.where(labels[:, 0], 0.3, 0.1), np.where(labels[:, 1], 0.9, 0.05)])
    probabilities += rng.uniform(0, 0.01, size=probabilities.shape)
    chosen = choose_thresholds(probabilities, labels, "per-label")
    assert 0.11 <= chosen["thresholds"][0] <= 0.3  # label 0's own range, below the global choice
    assert chosen["thresholds"][1] == chosen["global"]
    assert labels[:, 1].sum() < MIN_POSITIVES <= labels[:, 0].sum()


def test_fixed_threshold_and_at_least_one():
    probabilities = np.array([[0.2, 0.3], [0.7, 0.9]])
    chosen = choose_thresholds(probabilities, np.eye(2), "0.5", at_least_one=True)
    assert chosen["rule"] == "fixed" and chosen["thresholds"] == [0.5, 0.5]
    decisions = decide(probabilities, chosen)
    assert decisions.tolist() == [[False, True], [True, True]]  # row 0: nothing over 0.5, its best label kept
    assert decide(probabilities, {**chosen, "at_least_one": False}).tolist() == [[False, False], [True, True]]


def test_thresholds_are_chosen_under_the_rule_that_decides():
    # Every text has a label, so `decide` always keeps each text's top label: the threshold chosen must be the
    # best one under that rule, not under a plain "probability >= t" count.
    rng = np.random.default_rng(3)
    labels = np.zeros((600, 8), dtype=np.uint8)
    labels[np.arange(600), rng.integers(0, 8, 600)] = 1
    labels[rng.random((600, 8)) < 0.1] = 1
    probabilities = np.clip(0.35 * labels + rng.uniform(0, 0.6, labels.shape), 0, 1)
    chosen = choose_thresholds(probabilities, labels, "global", at_least_one=True)
    best = max(micro_f1(decide(probabilities, {"thresholds": [t] * 8, "at_least_one": True}), labels)
               for t in np.round(np.arange(0.02, 0.99, 0.01), 2))
    assert micro_f1(decide(probabilities, chosen), labels) == pytest.approx(best)


def test_damaged_thresholds_are_refused_in_one_line():
    with pytest.raises(LexiclassError, match="thresholds.json: 'thresholds' must be a list of 3 numbers"):
        check_thresholds({"thresholds": [0.5, 0.5]}, 3, "run/thresholds.json")
    with pytest.raises(LexiclassError, match="must be a list of 2"):
        check_thresholds({"thresholds": [0.5, 1.5]}, 2, "run/thresholds.json")


def test_label_matrix_checks():
    with pytest.raises(DataError, match="only 0 and 1"):
        check_labels(np.array([[0, 2], [1, 0]]), 2)
    with pytest.raises(DataError, match="no text carries label column 1"):
        check_labels(np.array([[1, 0], [1, 0]]), 2)
    with pytest.raises(DataError, match="every training text carries label column 0; a label on every text"):
        check_labels(np.array([[1, 0], [1, 1]]), 2)
    labels, width = check_labels(np.array([[1, 0], [0, 1]]), 2)
    assert width == 2 and labels.dtype == np.uint8


# --- n-gram families ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def topic_data():
    return make_topic_texts(300, seed=0, none_share=0.1), make_topic_texts(100, seed=1, none_share=0.1)


MODELS = {
    "nbsvm": lambda: NBSVMClassifier(min_df=1),
    "tfidf": lambda: TfidfClassifier(min_df=1),
    "nbsvm-ensemble": lambda: NBSVMEnsembleClassifier(word_min_df=1, char_min_df=1),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_ngram_models_give_one_independent_probability_per_label(name, topic_data, tmp_path):
    (texts, labels), (test_texts, test_labels) = topic_data
    model = MODELS[name]().fit(texts, labels)
    probabilities = model.predict_proba(test_texts)
    assert probabilities.shape == (len(test_texts), 3)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # not a softmax: texts with two topics score high twice
    np.testing.assert_array_equal(model.predict(test_texts), probabilities >= 0.5)  # label sets, not argmax
    decisions = decide(probabilities, choose_thresholds(probabilities, test_labels, "global"))
    assert micro_f1(decisions, test_labels) > 0.9  # the topics' cue words are plain
    reloaded = type(model).load(model.save(tmp_path / name))
    np.testing.assert_allclose(reloaded.predict_proba(test_texts), probabilities, atol=1e-6)


def test_nbsvm_label_column_equals_a_binary_model_of_that_label(topic_data):
    # One-vs-rest per label is exactly the binary model "this label" against "every text without it".
    (texts, labels), (test_texts, _) = topic_data
    multi = NBSVMClassifier(min_df=1).fit(texts, labels).predict_proba(test_texts)
    for k in range(labels.shape[1]):
        binary = NBSVMClassifier(min_df=1).fit(texts, labels[:, k]).predict_proba(test_texts)[:, 1]
        np.testing.assert_allclose(multi[:, k], binary, atol=1e-5)


@pytest.mark.parametrize("name", ["nbsvm-docvec", "nbsvm-dvcosine"])
def test_document_vector_models_refuse_multi_label_data_in_one_line(name, topic_data):
    pytest.importorskip("gensim") if name == "nbsvm-docvec" else None
    from lexiclass.config import TrainConfig
    from lexiclass.models.registry import get_model_spec

    (texts, labels), _ = topic_data
    model = get_model_spec(name).create(TrainConfig(model=name), 3)
    with pytest.raises(DataError, match="learns one class per text; for several labels per text use"):
        model.fit(texts, labels)


@pytest.mark.parametrize("value", ["auto", "1", "0", "-0.2", "half"])
def test_threshold_setting_is_checked_in_one_line(value):
    from lexiclass.config import TrainConfig

    with pytest.raises(ConfigError, match=f"threshold must be global, per-label or a number between 0 and 1 .* got "
                                          f"'{value}'"):
        TrainConfig(threshold=value)
    assert TrainConfig(threshold="0.35").threshold == "0.35"
