"""`lexiclass.load` -> `Predictor`: labels follow the cue words, probabilities are a distribution, order is kept."""

import copy

import numpy as np
import pytest

import lexiclass
from lexiclass.errors import LexiclassError
from lexiclass.inference.predictor import Predictor
from lexiclass.text.batching import size_ladder, truncate
from lexiclass.text.pipeline import prediction_lengths, to_probabilities
from tests.conftest import CUES, probability_atol

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
    np.testing.assert_allclose(probs, one_by_one, atol=probability_atol(predictor))
    assert list(probs.argmax(axis=1)) == [1, 0, 1, 0, 0]


def test_one_string_gives_one_result(predictor):
    text = cue_text("pos")
    assert predictor.predict_proba(text).shape == (2,)
    np.testing.assert_allclose(predictor.predict_proba(text), predictor.predict_proba([text])[0], atol=1e-6)
    one = predictor.predict(text)
    assert isinstance(one, dict) and one == predictor.predict([text])[0]
    assert predictor.predict([]) == [] and predictor.predict_proba([]).shape == (0, 2)


def test_labels_are_the_class_ids_names(predictor):
    assert predictor.labels == ["neg", "pos"]
    probs = predictor.predict_proba([cue_text("pos"), cue_text("neg")])
    assert [predictor.labels[i] for i in probs.argmax(axis=1)] == ["pos", "neg"]
    predictor.labels.append("x")  # a copy: the predictor's own list is not changed
    assert predictor.labels == ["neg", "pos"]


def test_top_k_keeps_the_most_probable_classes_highest_first(tiny_run):
    predictor = lexiclass.load(tiny_run("positional-transformer", classes=FOUR))
    texts = [cue_text(label) for label in FOUR]
    full = predictor.predict(texts)
    for k in (1, 2, 4, 9):
        for whole, top in zip(full, predictor.predict(texts, top_k=k)):
            ranked = sorted(whole["probabilities"].items(), key=lambda kv: -kv[1])[:k]
            assert list(top["probabilities"].items()) == ranked
            assert top["label"] == whole["label"]
    single = predictor.predict(texts[0], top_k=1)
    assert list(single["probabilities"]) == [single["label"]]


def test_batch_size_does_not_change_results(predictor):
    texts = [cue_text(["pos", "neg"][i % 2]) + " plot" * (i * 3) for i in range(11)]
    default = predictor.predict_proba(texts)
    for batch_size in (1, 3, 64):
        np.testing.assert_allclose(predictor.predict_proba(texts, batch_size=batch_size), default,
                                   atol=probability_atol(predictor))


# Python inputs that must be refused before TensorFlow sees them: (id, texts, keyword args, message pattern).
RANDOM_BYTES = bytes(range(128, 256)).decode("utf-8", errors="surrogateescape")  # what undecodable stdin becomes
BAD_PREDICT_INPUTS = [
    ("none-item", ["ok", None], {}, r"^texts\[1\] must be a string, got None$"),
    ("int-item", [123], {}, r"^texts\[0\] must be a string, got int$"),
    ("float-item", ["a", "b", 1.5], {}, r"^texts\[2\] must be a string, got float$"),
    ("bool-item", [True], {}, r"^texts\[0\] must be a string, got bool$"),
    ("bytes-item", [b"good film"], {}, r"^texts\[0\] must be a string, got bytes \(decode it to str first\)$"),
    ("list-item", [["nested"]], {}, r"^texts\[0\] must be a string, got list$"),
    ("dict-item", [{"text": "a"}], {}, r"^texts\[0\] must be a string, got dict$"),
    ("numpy-ints", np.array([1, 2]), {}, r"^texts\[0\] must be a string, got int64$"),
    ("none", None, {}, r"^texts must be a string or a list of strings, got None$"),
    ("int", 42, {}, r"^texts must be a string or a list of strings, got int$"),
    ("bytes", b"raw bytes", {}, r"^texts must be a string or a list of strings, got bytes$"),
    ("dict", {"text": "a"}, {}, r"^texts must be a string or a list of strings, got dict$"),
    ("set", {"a", "b"}, {}, r"^texts must be a string or a list of strings, got set$"),
    ("surrogate-in-string", "good film \ud800", {}, r"^text contains a lone surrogate \(U\+D800\) at character 10$"),
    ("surrogate-in-list", ["fine", "\udc80abc"], {}, r"^texts\[1\] contains a lone surrogate \(U\+DC80\) at character 0$"),
    ("low-surrogate-at-end", ["fine", "ab\udfff"], {}, r"^texts\[1\] contains a lone surrogate \(U\+DFFF\) at character 2$"),
    ("random-bytes", [RANDOM_BYTES], {}, r"^texts\[0\] contains a lone surrogate \(U\+DC80\) at character 0$"),
    ("top-k-zero", ["ok"], {"top_k": 0}, r"^top_k must be an integer >= 1, got 0$"),
    ("top-k-string", ["ok"], {"top_k": "2"}, r"^top_k must be an integer >= 1, got '2'$"),
    ("top-k-float", ["ok"], {"top_k": 1.0}, r"^top_k must be an integer >= 1, got 1.0$"),
    ("batch-size-zero", ["ok"], {"batch_size": 0}, r"^batch_size must be an integer >= 1, got 0$"),
    ("batch-size-bool", ["ok"], {"batch_size": True}, r"^batch_size must be an integer >= 1, got True$"),
]


@pytest.mark.parametrize("model", ["positional-transformer", "bow", "nbsvm"])
@pytest.mark.parametrize("texts,kwargs,pattern", [c[1:] for c in BAD_PREDICT_INPUTS],
                         ids=[c[0] for c in BAD_PREDICT_INPUTS])
def test_bad_python_inputs_raise_one_clear_error(tiny_run, model, texts, kwargs, pattern):
    predictor = lexiclass.load(tiny_run(model))
    with pytest.raises(LexiclassError, match=pattern):
        predictor.predict(texts, **kwargs)


# Unusual inputs that are fine: (id, texts, how many results).
ODD_BUT_VALID = [
    ("empty-string", [""], 1),
    ("whitespace", ["  \t\n "], 1),
    ("nul-characters", ["good\x00film\x00"], 1),
    ("emoji-and-accents", ["très bon film 🎬👍", "naïve"], 2),
    ("tuple", ("good", "bad"), 2),
    ("generator", lambda: (t for t in ["good", "bad", "ok"]), 3),  # made anew for each model
    ("numpy-strings", np.array(["good", "bad"]), 2),
    ("very-long", ["good " * 5000], 1),
]


@pytest.mark.parametrize("model", ["positional-transformer", "bow", "nbsvm"])
@pytest.mark.parametrize("texts,n", [c[1:] for c in ODD_BUT_VALID], ids=[c[0] for c in ODD_BUT_VALID])
def test_odd_but_valid_inputs_predict(tiny_run, model, texts, n):
    probs = lexiclass.load(tiny_run(model)).predict_proba(texts() if callable(texts) else texts)
    assert probs.shape == (n, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


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


class ShapeSpy:
    """Wraps a Keras model and records the shape of every `predict_on_batch` input."""

    def __init__(self, model):
        self.model, self.shapes = model, []

    def predict_on_batch(self, x):
        self.shapes.append(tuple(x.shape))
        return self.model.predict_on_batch(x)


def spied(predictor: Predictor) -> tuple[Predictor, ShapeSpy]:
    spy = ShapeSpy(predictor.model)
    classifier = copy.copy(predictor.classifier)
    classifier.network_ = spy
    return Predictor(classifier, predictor.config, predictor.label_names), spy


@pytest.mark.parametrize("model", ["positional-transformer", "bilstm", "bow"])
def test_request_sizes_map_to_a_bounded_set_of_shapes(tiny_run, model):
    predictor, spy = spied(lexiclass.load(tiny_run(model)))
    config = predictor.config
    rng = np.random.default_rng(0)
    for _ in range(60):  # like a server's traffic: 1 to 40 texts of 0 to 90 words
        texts = [" ".join(rng.choice(["good", "bad", "film", "plot"], size=rng.integers(0, 90)))
                 for _ in range(rng.integers(1, 41))]
        predictor.predict_proba(texts)
    sizes = size_ladder(config.batch_size)
    widths = prediction_lengths(config) if model != "bow" else [config.max_tokens]
    assert {rows for rows, _ in spy.shapes} <= set(sizes)
    assert {width for _, width in spy.shapes} <= set(widths)
    assert len(set(spy.shapes)) > 1  # the traffic did vary
    print(f"{model}: {len(spy.shapes)} model calls, {len(set(spy.shapes))} distinct shapes "
          f"(bound {len(sizes) * len(widths)})")


@pytest.mark.parametrize("model", ["positional-transformer", "bilstm"])
def test_padded_predictions_equal_unpadded_ones(tiny_run, model):
    predictor = lexiclass.load(tiny_run(model))
    config = predictor.config
    texts = [cue_text(["pos", "neg"][i % 2], 1 + i % 4) + " film" * (i * 2) for i in range(13)]
    exact = []  # one text per call, padded to nothing: its own length, batch of one
    for ids in predictor.vectorizer.token_ids(texts):
        ids = truncate(ids, config.sequence_length, config.truncation)
        exact.append(to_probabilities(predictor.model.predict_on_batch(ids[None, :].astype(np.int32)))[0])
    atol = probability_atol(predictor)  # bfloat16: other batch shapes round differently
    np.testing.assert_allclose(predictor.predict_proba(texts), np.array(exact), atol=atol)
    np.testing.assert_allclose(predictor.predict_proba(texts, batch_size=5), np.array(exact), atol=atol)
