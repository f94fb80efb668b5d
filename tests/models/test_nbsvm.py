"""NBSVM and its word+char ensemble: training, probabilities, multi-class, persistence, bad input."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest

from lexiclass.config import TrainConfig
from lexiclass.errors import DataError, LexiclassError
from lexiclass.models.nbsvm import NBSVMClassifier
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier
from lexiclass.text.ngrams import clean_text, word_tokens
from tests.conftest import make_dataset

FOUR = ("neg", "pos", "mixed", "odd")


def small_char(**kw):
    # Short character n-grams keep the generated-data fits fast.
    return NBSVMClassifier(analyzer="char", char_min_n=2, ngrams=4, **kw)


def small_ensemble(**kw):
    return NBSVMEnsembleClassifier(char_min_n=2, char_ngrams=4, **kw)


MODELS = {"word": lambda: NBSVMClassifier(), "char": small_char, "ensemble": small_ensemble}


@pytest.fixture(scope="module")
def fitted():
    """(kind, classes) -> (model, dataset), trained once per module."""
    cache = {}

    def get(kind, classes=("neg", "pos")):
        key = (kind, tuple(classes))
        if key not in cache:
            data = make_dataset(classes)
            cache[key] = MODELS[kind]().fit(data.train_texts, data.train_labels), data
        return cache[key]

    return get


def test_tokenizer_keeps_marks_and_drops_html_breaks():
    assert word_tokens("Awful!<br /><br />Why? I didn't LAUGH.") == ["awful", "!", "why", "?", "i", "didn't", "laugh"]
    assert "<br" not in clean_text("a<br/>b<BR />c")


def test_init_only_stores_hyperparameters():
    # scikit-learn convention: no validation in __init__, get_params round-trips.
    model = NBSVMClassifier(ngrams=0, linear_c=-1)
    assert model.get_params()["ngrams"] == 0
    assert NBSVMClassifier(**NBSVMClassifier(ngrams=2).get_params()).ngrams == 2
    with pytest.raises(LexiclassError, match="ngrams"):
        model.fit(["a b", "c d"], [0, 1])


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("classes", [("neg", "pos"), FOUR], ids=["binary", "4-class"])
def test_fit_predict_probabilities(fitted, kind, classes):
    model, data = fitted(kind, classes)
    proba = model.predict_proba(data.test_texts)
    assert proba.shape == (len(data.test_texts), len(classes))
    assert proba.dtype == np.float64
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    accuracy = np.mean(model.predict(data.test_texts) == data.test_labels)
    chance = 1 / len(classes)
    assert accuracy >= chance + 0.8 * (1 - chance), f"{kind} {len(classes)} classes: accuracy {accuracy:.3f}"
    # predict is the argmax of predict_proba, and every class gets predicted somewhere.
    np.testing.assert_array_equal(model.predict(data.test_texts), proba.argmax(axis=1))
    assert set(model.predict(data.test_texts)) == set(range(len(classes)))
    np.testing.assert_array_equal(model.classes_, np.arange(len(classes)))


def test_cue_words_drive_the_prediction(fitted):
    model, _ = fitted("word")
    proba = model.predict_proba(["awful terrible boring worst", "excellent wonderful superb loved"])
    assert proba[0, 0] > 0.9 and proba[1, 1] > 0.9


def test_binary_uses_one_model_and_multiclass_one_per_class(fitted):
    assert fitted("word")[0].coef_.shape[0] == 1
    assert fitted("word", FOUR)[0].coef_.shape[0] == 4


def test_nb_ratio_sign_matches_the_cue_words(fitted):
    # The folded weights w * r must push "awful" to class 0 and "excellent" to class 1.
    model, _ = fitted("word")
    index = {g: i for i, g in enumerate(model.vocabulary_)}
    assert model.coef_[0, index["awful"]] < 0 < model.coef_[0, index["excellent"]]


def test_fit_is_deterministic():
    data = make_dataset()
    a = NBSVMClassifier(seed=3).fit(data.train_texts, data.train_labels).predict_proba(data.test_texts)
    b = NBSVMClassifier(seed=3).fit(data.train_texts, data.train_labels).predict_proba(data.test_texts)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["word", "ensemble"])
def test_loaded_model_scores_the_same_before_and_after_warm_up(fitted, kind, tmp_path):
    """A loaded model scores a few short texts by n-gram strings, and after `warm_up` (what a server does in the
    background) by its key table, which replaces the strings' dict."""
    model, data = fitted(kind)
    model.save(tmp_path / "model")
    loaded = type(model).load(tmp_path / "model")
    short = data.test_texts[:3]
    before = loaded.predict_proba(short)
    loaded.warm_up()
    vocabularies = [m._vocabulary for m in getattr(loaded, "members_", [loaded])]
    assert all(v._table is not None and v._columns is None for v in vocabularies)
    np.testing.assert_allclose(loaded.predict_proba(short), before, rtol=0, atol=1e-12)
    np.testing.assert_allclose(before, model.predict_proba(short), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("classes", [("neg", "pos"), FOUR], ids=["binary", "4-class"])
def test_save_load_gives_identical_probabilities(fitted, kind, classes, tmp_path):
    model, data = fitted(kind, classes)
    model.save(tmp_path / "model")
    loaded = type(model).load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(data.test_texts), model.predict_proba(data.test_texts))
    assert loaded.get_params() == model.get_params()
    # No pickle anywhere: every file is JSON or a NumPy archive readable without pickle.
    for path in (tmp_path / "model").rglob("*"):
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                assert all(arrays[k].dtype != object for k in arrays.files)
        elif path.is_file():
            pytest.fail(f"unexpected file {path.name}")
        if path.is_file():
            with pytest.raises(Exception):
                pickle.loads(path.read_bytes())
    assert not list((tmp_path / "model").rglob("*.tmp"))  # atomic writes leave no temporaries


def test_vocabulary_with_unusual_characters_survives_save(tmp_path):
    texts = ["café “great” naïve 😀 good", "tab\there awful\nline bad", "good good café", "awful bad\x00x"] * 3
    labels = [1, 0, 1, 0] * 3
    for model in (NBSVMClassifier(min_df=1), NBSVMClassifier(analyzer="char", char_min_n=1, ngrams=3, min_df=1)):
        model.fit(texts, labels).save(tmp_path / model.analyzer)
        loaded = NBSVMClassifier.load(tmp_path / model.analyzer)
        assert loaded.vocabulary_ == model.vocabulary_
        np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))


@pytest.mark.parametrize("labels, message", [
    ([0, 0, 0, 0], "only one class"),
    ([1, 1, 1, 1], "no example of class 0"),
    ([0, 2, 0, 2], "no example of class 1"),
    ([0, 1, 0], "expected 4 labels"),
    ([0, -1, 0, 1], ">= 0"),
    ([0.5, 1, 0, 1], "integer"),
    (["neg", "pos", "neg", "pos"], "integer"),
])
def test_bad_labels_raise_clear_errors(labels, message):
    with pytest.raises(DataError, match=message):
        NBSVMClassifier(min_df=1).fit(["good film", "bad film", "great film", "awful film"], labels)


@pytest.mark.parametrize("texts, message", [
    ([], "empty"),
    ("good film", "single string"),
    (["good film", None], r"texts\[1\]"),
    (["", "", "  "], "no word n-grams"),
])
def test_bad_texts_raise_clear_errors(texts, message):
    labels = [i % 2 for i in range(len(texts))] if isinstance(texts, list) else [0]
    with pytest.raises(DataError, match=message):
        NBSVMClassifier(min_df=1).fit(texts, labels)


def test_empty_predict_and_unfitted_model(fitted):
    with pytest.raises(LexiclassError, match="not trained"):
        NBSVMClassifier().predict_proba(["good"])
    with pytest.raises(LexiclassError, match="not trained"):
        NBSVMEnsembleClassifier().predict_proba(["good"])
    model, _ = fitted("word")
    with pytest.raises(DataError, match="empty"):
        model.predict_proba([])
    # A text with no known n-gram is still classified (by the intercept alone).
    assert model.predict_proba(["zzzz qqqq"]).shape == (1, 2)


def test_min_df_too_high_for_the_data():
    with pytest.raises(DataError, match="min_df=5"):
        NBSVMClassifier(min_df=5).fit(["good film", "bad film", "great", "awful"], [1, 0, 1, 0])


@pytest.mark.parametrize("params, message", [
    (dict(analyzer="sentence"), "analyzer"),
    (dict(nb_alpha=0), "nb_alpha"),
    (dict(linear_c=0), "linear_c"),
    (dict(analyzer="char", char_min_n=5, ngrams=3), "char_min_n"),
    (dict(max_features=0), "max_features"),
])
def test_bad_hyperparameters(params, message):
    with pytest.raises(LexiclassError, match=message):
        NBSVMClassifier(**params).fit(["good film", "bad film"], [1, 0])


def test_load_errors(tmp_path, fitted):
    with pytest.raises(LexiclassError, match="missing"):
        NBSVMClassifier.load(tmp_path / "nothing")
    model, _ = fitted("word")
    model.save(tmp_path / "m")
    (tmp_path / "m" / "vocabulary.json").write_text(json.dumps(model.vocabulary_[:-1]), encoding="utf-8")
    with pytest.raises(LexiclassError, match="do not match"):
        NBSVMClassifier.load(tmp_path / "m")
    with pytest.raises(LexiclassError, match="missing"):
        NBSVMEnsembleClassifier.load(tmp_path / "m")  # a single model is not an ensemble
    meta = json.loads((tmp_path / "m" / "nbsvm.json").read_text())
    meta["version"] = 99
    (tmp_path / "m" / "nbsvm.json").write_text(json.dumps(meta))
    with pytest.raises(LexiclassError, match="version"):
        NBSVMClassifier.load(tmp_path / "m")


def test_ensemble_averages_its_members(fitted):
    model, data = fitted("ensemble", FOUR)
    assert [m.analyzer for m in model.members_] == ["word", "char"]
    expected = np.mean([m.predict_proba(data.test_texts) for m in model.members_], axis=0)
    np.testing.assert_allclose(model.predict_proba(data.test_texts), expected, rtol=0, atol=1e-15)


def test_from_config():
    config = TrainConfig(model="bow", ngrams=3, nb_alpha=0.5, linear_c=2.0, max_ngram_features=1000, seed=7)
    model = NBSVMClassifier.from_config(config)
    assert (model.ngrams, model.nb_alpha, model.linear_c, model.max_features, model.seed) == (3, 0.5, 2.0, 1000, 7)
    ens = NBSVMEnsembleClassifier.from_config(config)
    assert (ens.word_ngrams, ens.word_c, ens.nb_alpha, ens.max_features, ens.seed) == (3, 2.0, 0.5, 1000, 7)
    assert ens.char_ngrams == 6  # not in TrainConfig yet: the class default


def test_normalized_logits_equal_the_explicit_computation(fitted):
    # With normalize=True the model must score normalize(r * x) . w + b, even though it
    # stores w * r and divides by |r * x| at prediction time.
    from sklearn.preprocessing import normalize

    model, data = fitted("word", FOUR)
    x = model.transform(data.test_texts)
    for k in range(4):
        r = model.ratio_[k]
        w = np.divide(model.coef_[k], r, out=np.zeros_like(r), where=r != 0)
        expected = normalize(x.multiply(r[None, :]).tocsr()) @ w + model.intercept_[k]
        # Weights and ratios are stored as float32: agreement to ~1e-6, not to float64's 1e-9.
        np.testing.assert_allclose(model.decision_function(data.test_texts)[:, k], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("normalize", [True, False])
def test_normalize_switch_round_trips(normalize, tmp_path):
    data = make_dataset()
    model = NBSVMClassifier(normalize=normalize, linear_c=100.0 if normalize else 0.3)
    model.fit(data.train_texts, data.train_labels).save(tmp_path)
    assert ("ratio" in np.load(tmp_path / "weights.npz").files) is normalize
    loaded = NBSVMClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(data.test_texts), model.predict_proba(data.test_texts))
    assert np.mean(loaded.predict(data.test_texts) == data.test_labels) > 0.9


# --- issue 12: hashed n-gram counting, chunked scoring, threaded fits, format version 2 -------
TRICKY = ["Tab\there,  two  spaces\n\nand   a\x00NUL", "café “great” naïve 😀 good!!", "", "   ", "a",
          "Awful!<br /><br />Why? I didn't LAUGH.", "ab ab ab ab", "x" * 40]


@pytest.mark.parametrize("analyzer", ["word", "char"])
def test_features_are_countvectorizers(analyzer):
    # The hashed counter must see exactly the n-grams scikit-learn's CountVectorizer saw
    # (the pre-issue-12 featuriser), or version-1 models would score differently.
    from sklearn.feature_extraction.text import CountVectorizer

    texts = TRICKY + make_dataset().train_texts[:50]
    if analyzer == "word":
        reference = CountVectorizer(tokenizer=word_tokens, lowercase=False, token_pattern=None, ngram_range=(1, 3),
                                    binary=True)
        model = NBSVMClassifier(min_df=1, max_features=None)
    else:
        reference = CountVectorizer(analyzer="char", preprocessor=clean_text, lowercase=False, ngram_range=(2, 5),
                                    binary=True)
        model = NBSVMClassifier(analyzer="char", char_min_n=2, ngrams=5, min_df=1, max_features=None)
    expected = reference.fit_transform(texts)
    model.fit(texts, [i % 2 for i in range(len(texts))])
    assert sorted(model.vocabulary_) == sorted(reference.get_feature_names_out().tolist())
    got = model.transform(texts)
    order = [reference.vocabulary_[g] for g in model.vocabulary_]
    np.testing.assert_array_equal(got.toarray(), expected[:, order].toarray())


def test_parallel_fit_matches_serial(fitted):
    data = make_dataset(FOUR)
    serial = small_ensemble(n_jobs=1).fit(data.train_texts, data.train_labels)
    parallel = small_ensemble(n_jobs=4).fit(data.train_texts, data.train_labels)
    for a, b in zip(serial.members_, parallel.members_):
        assert a.vocabulary_ == b.vocabulary_
        # liblinear's shuffling generator is process-global, so threads only agree to its tolerance.
        np.testing.assert_allclose(b.coef_, a.coef_, rtol=0, atol=0.05 * np.abs(a.coef_).max())
        np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=0, atol=0.05 * (1 + np.abs(a.intercept_).max()))
    np.testing.assert_allclose(parallel.predict_proba(data.test_texts), serial.predict_proba(data.test_texts),
                               atol=0.02)
    # One job is bit-reproducible.
    again = small_ensemble(n_jobs=1).fit(data.train_texts, data.train_labels)
    np.testing.assert_array_equal(again.predict_proba(data.test_texts), serial.predict_proba(data.test_texts))


@pytest.mark.parametrize("kind", ["word", "char"])
def test_chunked_scoring_matches_unchunked(fitted, kind):
    model, data = fitted(kind, FOUR)
    texts = data.test_texts + TRICKY
    whole = NBSVMClassifier(**{**model.get_params(), "chunk_size": 10_000})
    whole._set_state(model.vocabulary_, model.coef_, model.intercept_, 4, model.ratio_)
    small = NBSVMClassifier(**{**model.get_params(), "chunk_size": 7})
    small._set_state(model.vocabulary_, model.coef_, model.intercept_, 4, model.ratio_)
    np.testing.assert_allclose(small.predict_proba(texts), whole.predict_proba(texts), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(small.transform(texts).toarray(), whole.transform(texts).toarray())
    # and training in small chunks gives the same model as training in one
    a = small_char(chunk_size=13, n_jobs=1).fit(data.train_texts, data.train_labels)
    b = small_char(n_jobs=1).fit(data.train_texts, data.train_labels)
    assert a.vocabulary_ == b.vocabulary_
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-4, atol=1e-5)


def _as_version_1(folder):
    """Rewrite a saved model folder the way lexiclass wrote it before issue 12 (float64, version 1)."""
    meta = json.loads((folder / "nbsvm.json").read_text())
    meta["version"] = 1
    for name in ("min_abs_ratio", "solver", "n_jobs", "chunk_size"):
        del meta["hyperparameters"][name]
    (folder / "nbsvm.json").write_text(json.dumps(meta))
    with np.load(folder / "weights.npz") as weights:
        arrays = {k: weights[k].astype(np.float64) for k in weights.files}
    np.savez_compressed(folder / "weights.npz", **arrays)


def test_version_1_folders_still_load(fitted, tmp_path):
    model, data = fitted("ensemble", FOUR)
    model.save(tmp_path / "m")
    for member in model.members_:
        _as_version_1(tmp_path / "m" / f"member-{model.members_.index(member)}-{member.analyzer}")
    meta = json.loads((tmp_path / "m" / "ensemble.json").read_text())
    meta["version"] = 1
    for name in ("min_abs_ratio", "solver", "n_jobs", "chunk_size"):
        del meta["hyperparameters"][name]
    (tmp_path / "m" / "ensemble.json").write_text(json.dumps(meta))
    loaded = NBSVMEnsembleClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(data.test_texts), model.predict_proba(data.test_texts),
                               rtol=1e-6, atol=1e-9)


def test_pruning_small_ratios_keeps_accuracy(fitted):
    model, data = fitted("word", FOUR)
    pruned = NBSVMClassifier(min_abs_ratio=0.5).fit(data.train_texts, data.train_labels)
    assert 0 < pruned.n_features_ < model.n_features_
    kept = {g: i for i, g in enumerate(pruned.vocabulary_)}
    assert all(np.abs(model.ratio_[:, model.vocabulary_.index(g)]).max() >= 0.5 - 1e-6 for g in list(kept)[:50])
    assert np.mean(pruned.predict(data.test_texts) == data.test_labels) > 0.9
    with pytest.raises(DataError, match="min_abs_ratio"):
        NBSVMClassifier(min_abs_ratio=1e6).fit(data.train_texts, data.train_labels)


def test_damaged_vocabulary_entries_are_named(fitted, tmp_path):
    model, _ = fitted("word")
    model.save(tmp_path / "m")
    vocabulary = list(model.vocabulary_)
    vocabulary[1] = vocabulary[0]
    (tmp_path / "m" / "vocabulary.json").write_text(json.dumps(vocabulary))
    with pytest.raises(LexiclassError, match="vocabulary.json is damaged: an n-gram is listed twice"):
        NBSVMClassifier.load(tmp_path / "m")
    vocabulary[1] = 5
    (tmp_path / "m" / "vocabulary.json").write_text(json.dumps(vocabulary))
    with pytest.raises(LexiclassError, match="vocabulary.json is damaged"):
        NBSVMClassifier.load(tmp_path / "m")


def test_the_solvers_reach_the_same_models():
    """batched-lbfgs (default) and one scikit-learn fit per class minimise the same objective."""
    data = make_dataset(FOUR)
    batched = small_ensemble().fit(data.train_texts, data.train_labels)
    per_class = small_ensemble(solver="lbfgs").fit(data.train_texts, data.train_labels)
    assert batched.solver == "batched-lbfgs"
    p, q = batched.predict_proba(data.test_texts), per_class.predict_proba(data.test_texts)
    assert np.mean(p.argmax(axis=1) == q.argmax(axis=1)) >= 0.95
    np.testing.assert_allclose(p, q, atol=0.1)


@pytest.mark.parametrize("solver", ["batched-lbfgs", "lbfgs"])
def test_balanced_class_weight_raises_the_rare_class(solver):
    data = make_dataset(("neg", "pos"), n_train=400)
    positives = [i for i, label in enumerate(data.train_labels) if label == 1]
    keep = sorted([i for i, label in enumerate(data.train_labels) if label == 0] + positives[::8])  # ~1 in 9
    texts, labels = [data.train_texts[i] for i in keep], np.asarray(data.train_labels)[keep]
    plain = small_char(solver=solver, linear_c=0.5).fit(texts, labels)
    balanced = small_char(solver=solver, linear_c=0.5, class_weight="balanced").fit(texts, labels)
    rare = np.asarray(data.test_labels) == 1
    assert balanced.predict_proba(data.test_texts)[rare, 1].mean() > plain.predict_proba(data.test_texts)[rare, 1].mean()


@pytest.mark.parametrize("hyperparameters, message", [
    ([1, 2], "'hyperparameters' must be an object of settings, got list"),
    ({"evil": 1}, "'hyperparameters' has unknown settings 'evil'"),
])
def test_a_damaged_tfidf_header_names_the_file_and_the_key(tmp_path, hyperparameters, message):
    """tfidf checks its saved header with the same helper as nbsvm (models/persistence.py)."""
    from lexiclass.models.tfidf import META_FILE, TfidfClassifier
    from tests.conftest import make_texts

    texts, labels = make_texts(60, ["neg", "pos"])
    TfidfClassifier().fit(texts, labels).save(tmp_path / "m")
    header = tmp_path / "m" / META_FILE
    meta = json.loads(header.read_text())
    meta["hyperparameters"] = hyperparameters
    header.write_text(json.dumps(meta))
    with pytest.raises(LexiclassError, match=f"{META_FILE}: {re.escape(message)}"):
        TfidfClassifier.load(tmp_path / "m")
