"""nbsvm-dvcosine: NBSVM ensemble mixed with document vectors trained with cosine similarity."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from lexiclass.errors import LexiclassError
from lexiclass.models.cosine_vectors import CosineDocVectors, nb_keep, negative_table
from lexiclass.models.docvec import docvec_tokens
from lexiclass.models.dvcosine import VECTORS_FILE, WEIGHTS_FILE, NBSVMDVCosineClassifier
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier
from tests.conftest import make_dataset, make_texts, write_csv

FOUR = ("neg", "pos", "mixed", "odd")


def small(**kw):
    # Short character n-grams and 16 dimensions keep a fit to a few seconds.
    params = dict(nbsvm=NBSVMEnsembleClassifier(char_min_n=2, char_ngrams=4), dim=16, epochs=5, min_count=1,
                  n_jobs=2)
    params.update(kw)
    return NBSVMDVCosineClassifier(**params)


@pytest.fixture(scope="module")
def four_class():
    data = make_dataset(FOUR)
    unlabeled = make_texts(100, list(FOUR), seed=9)[0] + ["zzunseenword appears only unlabelled"] * 3
    return small(unlabeled_texts=unlabeled).fit(data.train_texts, data.train_labels), data


def test_four_classes_probabilities_and_accuracy(four_class):
    model, data = four_class
    p = model.predict_proba(data.val_texts)
    assert p.shape == (len(data.val_texts), 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (model.predict(data.val_texts) == data.val_labels).mean() > 0.8
    assert (model.docvec_proba(data.val_texts).argmax(1) == data.val_labels).mean() > 0.6  # the vectors alone
    assert model.head_coef_.shape == (4, 16) and model.n_unlabeled_ == 103
    assert "zzunseenword" in model.vector_model_.index and "zzunseenword appears only" in model.vector_model_.index


def test_training_pulls_a_document_towards_its_own_ngrams():
    texts = make_texts(200, ["neg", "pos"], seed=3)[0]
    labels = np.arange(200) % 2
    vm = CosineDocVectors(lambda t: docvec_tokens(t, 2), dim=16, epochs=10, min_count=1, nb_tau=0, lr=0.01)
    docs = vm.fit(texts, labels, 2)  # (200, 16), normalised
    grams = vm.grams / np.linalg.norm(vm.grams, axis=1, keepdims=True)
    own, other = [], []
    for i, text in enumerate(texts[:50]):
        ids = [vm.index[g] for g in docvec_tokens(text, 2)]
        own.append(np.mean(grams[ids] @ docs[i]))
        other.append(np.mean(grams @ docs[i]))
    assert np.mean(own) > np.mean(other) + 0.1  # measured: 0.23 (untrained: 0.00, a wrong-signed step: -0.03)


def test_inference_is_normalised_batch_independent_and_zero_for_unknown_text(four_class):
    model, data = four_class
    x = model.transform(data.val_texts[:10])
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(model.transform(data.val_texts[9::-1])[::-1], x)  # order and batch do not matter
    np.testing.assert_array_equal(model.transform([data.val_texts[3]])[0], x[3])
    assert not model.transform(["qqqq xxxx"]).any()  # no known n-gram: a zero vector
    p = model.predict_proba(["qqqq xxxx"])
    assert np.isfinite(p).all() and p.shape == (1, 4)


def test_nb_keep_follows_the_log_count_ratio():
    # 3 n-grams over 10 positive and 10 negative documents.
    present = np.array([[9.0, 5.0, 0.0], [1.0, 5.0, 0.0]])  # class 0 row, class 1 row
    keep = nb_keep(present, np.array([10, 10]), tau=1.0, floor=0.05)
    r = np.log(10 / 11) - np.log(2 / 11)
    np.testing.assert_allclose(keep, [min(1.0, abs(r)), 0.05, 0.05], rtol=1e-6)
    assert np.all(nb_keep(present, np.array([10, 10]), tau=0.0, floor=0.05) == 1.0)
    three = nb_keep(np.array([[8.0], [1.0], [1.0]]), np.array([10, 10, 10]), tau=10.0, floor=0.0)
    np.testing.assert_allclose(three, [(np.log(9 / 11) - np.log(3 / 21)) / 10], rtol=1e-6)  # the strongest class


def test_negative_table_follows_count_to_the_three_quarters():
    table = negative_table(np.array([1, 16, 81]))
    share = np.bincount(table, minlength=3) / len(table)
    np.testing.assert_allclose(share, np.array([1, 8, 27]) / 36, atol=2e-3)


def test_save_load_is_pickle_free_and_identical(four_class, tmp_path):
    model, data = four_class
    model.save(tmp_path / "m")
    vectors = np.load(tmp_path / "m" / VECTORS_FILE, allow_pickle=False)
    assert vectors.dtype == np.float16 and vectors.shape == (len(model.vector_model_.words), 16)
    loaded = NBSVMDVCosineClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(data.val_texts), model.predict_proba(data.val_texts))
    assert loaded.get_params()["dim"] == 16 and loaded.n_unlabeled_ == 103


def test_damaged_folders_raise_clear_errors(four_class, tmp_path):
    model, _ = four_class
    folder = model.save(tmp_path / "m")
    np.save(folder / VECTORS_FILE, np.zeros((3, 16), np.float16))
    with pytest.raises(LexiclassError, match="do not match the vocabulary"):
        NBSVMDVCosineClassifier.load(folder)
    (folder / VECTORS_FILE).unlink()
    with pytest.raises(LexiclassError, match=r"dvcosine-ngram-vectors\.npy is missing"):
        NBSVMDVCosineClassifier.load(folder)
    folder = model.save(tmp_path / "n")
    (folder / WEIGHTS_FILE).write_bytes(b"not a zip")
    with pytest.raises(LexiclassError, match="damaged"):
        NBSVMDVCosineClassifier.load(folder)


@pytest.mark.parametrize("hyperparameters", [["dim"], {"dim": 16, "no_such_setting": 1}, {"nb_tau": "strong"}])
def test_a_damaged_header_is_one_clear_error(four_class, tmp_path, hyperparameters):
    model, _ = four_class
    folder = model.save(tmp_path / "m")
    meta = json.loads((folder / "dvcosine.json").read_text())
    meta["hyperparameters"] = hyperparameters
    (folder / "dvcosine.json").write_text(json.dumps(meta))
    with pytest.raises(LexiclassError, match=r"dvcosine\.json is damaged"):
        NBSVMDVCosineClassifier.load(folder)


@pytest.mark.parametrize("params, message", [
    ({"dim": 0}, "dim must be a positive integer"),
    ({"docvec_weight": 1.5}, "docvec_weight must be between 0 and 1"),
    ({"nb_floor": 2.0}, "nb_floor must be in"),
    ({"lr": 0.0}, "lr and scale must be > 0"),
])
def test_bad_hyperparameters(params, message):
    data = make_dataset()
    with pytest.raises(LexiclassError, match=message):
        small(**params).fit(data.train_texts, data.train_labels)


def test_a_table_too_big_for_the_machine_is_refused_before_allocating(monkeypatch):
    import lexiclass.models.cosine_vectors as cv

    data = make_dataset(FOUR)
    monkeypatch.setattr(cv, "_uniform", lambda *a: pytest.fail("allocated the vectors"))
    monkeypatch.setattr(cv, "_physical_memory", lambda: 64 * 2**10)  # 64 KiB of RAM
    with pytest.raises(LexiclassError, match=r"document-vector model: .* n-grams and .* texts x 16 dimensions need "
                                             r"about .* lower --docvec-dim or raise --docvec-min-count"):
        small().fit(data.train_texts, data.train_labels)
    monkeypatch.setattr(cv, "_physical_memory", lambda: None)  # unknown: no check
    with pytest.raises(pytest.fail.Exception, match="allocated"):
        small().fit(data.train_texts, data.train_labels)


def test_memory_limit_is_the_lower_of_the_machine_and_its_container(monkeypatch, tmp_path):
    import lexiclass.models.cosine_vectors as cv

    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.setattr(cv, "CGROUP_LIMITS", (str(v2), str(v1)))
    assert cv._physical_memory() == machine  # neither file: the machine's RAM
    v2.write_text("max\n")
    v1.write_text(f"{2**30}\n")
    assert cv._physical_memory() == min(machine, 2**30)


def test_refit_keeps_the_vector_model(four_class):
    data = make_dataset(FOUR)
    model = small().fit(data.train_texts, data.train_labels)
    grams = model.vector_model_.grams.copy()
    model.refit(data.train_texts + data.val_texts, np.concatenate([data.train_labels, data.val_labels]))
    np.testing.assert_array_equal(model.vector_model_.grams, grams)
    assert (model.predict(data.val_texts) == data.val_labels).mean() > 0.9


def test_trains_on_a_four_class_csv_through_the_cli(tmp_path, capsys):
    from lexiclass.cli import main

    run = tmp_path / "run"
    # The --docvec-* flags reach the vector model (and keep this test fast).
    assert main(["train", "--model", "nbsvm-dvcosine", "--dataset", str(write_csv(tmp_path, n=200, classes=FOUR)),
                 "--docvec-dim", "24", "--docvec-epochs", "4", "--docvec-min-count", "1", "--out", str(run),
                 "-q"]) == 0
    [header] = run.rglob("dvcosine.json")
    settings = json.loads(header.read_text())["hyperparameters"]
    assert (settings["dim"], settings["epochs"], settings["min_count"]) == (24, 4, 1)
    assert settings["lr"] == NBSVMDVCosineClassifier().lr  # unset settings keep the model's defaults
    assert np.load(header.parent / VECTORS_FILE).shape[1] == 24
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.7 and len(metrics["confusion_matrix"]) == 4
    capsys.readouterr()
    assert main(["predict", str(run), "weird bizarre surreal quirky film"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == "odd" and set(result["probabilities"]) == set(FOUR)
