"""`lexiclass.load` -> `Predictor`: labels follow the cue words, probabilities are a distribution, order is kept."""

import numpy as np
import pytest

import lexiclass
from lexiclass.errors import LexiclassError
from tests.conftest import CUES

FOUR = ("neg", "pos", "mixed", "odd")


def cue_text(label: str, n: int = 4) -> str:
    return "the movie " + " ".join(CUES[label][:n]) + " story"


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return lexiclass.load(tiny_run("positional-transformer"))


def test_labels_follow_cue_words(predictor):
    texts = [cue_text("pos"), cue_text("neg"), "great excellent wonderful", "awful boring terrible waste"]
    results = predictor.predict(texts)
    assert [r["label"] for r in results] == ["pos", "neg", "pos", "neg"]
    for r in results:
        assert list(r["probabilities"]) == ["neg", "pos"]
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)


def test_predict_proba_shape_and_input_order(predictor):
    # Lengths differ a lot, so the length-bucketed batching reorders texts internally.
    texts = [cue_text("pos") + " film" * 40, cue_text("neg"), "good", cue_text("neg") + " plot" * 25, "bad"]
    probs = predictor.predict_proba(texts)
    assert probs.shape == (5, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    one_by_one = np.concatenate([predictor.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(probs, one_by_one, atol=1e-5)
    assert list(probs.argmax(axis=1)) == [1, 0, 1, 0, 0]


def test_predict_rejects_a_bare_string(predictor):
    with pytest.raises(TypeError, match="list of texts"):
        predictor.predict_proba("a single string")


def test_predictor_carries_run_facts(predictor, tiny_run):
    assert predictor.label_names == ["neg", "pos"]
    assert predictor.config.model == "positional-transformer"
    assert predictor.info["status"] == "complete"
    assert predictor.input_kind == "sequence"
    assert str(predictor.run_dir) == str(tiny_run("positional-transformer"))


def test_four_class_run(tiny_run):
    predictor = lexiclass.load(tiny_run("positional-transformer", classes=FOUR))
    texts = [cue_text(label) for label in FOUR]
    results = predictor.predict(texts)
    assert predictor.label_names == list(FOUR)
    for label, r in zip(FOUR, results):
        assert list(r["probabilities"]) == list(FOUR)
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert r["label"] == label, r
    assert predictor.predict_proba(texts).shape == (4, 4)


def test_bow_and_bilstm_runs_predict(tiny_run):
    for model in ("bow", "bilstm"):
        results = lexiclass.load(tiny_run(model)).predict([cue_text("pos"), cue_text("neg")])
        assert [r["label"] for r in results] == ["pos", "neg"], model


def test_load_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(LexiclassError, match="run.json is missing"):
        lexiclass.load(tmp_path)
    with pytest.raises(LexiclassError, match="does not exist"):
        lexiclass.load(tmp_path / "nope")
