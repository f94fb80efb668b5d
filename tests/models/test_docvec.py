"""nbsvm-docvec: NBSVM ensemble mixed with PV-DBOW document vectors learned with unlabelled texts."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("gensim")

from lexiclass.config import TrainConfig  # noqa: E402
from lexiclass.errors import ConfigError, LexiclassError  # noqa: E402
from lexiclass.models.docvec import NBSVMDocVecClassifier, docvec_tokens  # noqa: E402
from lexiclass.models.nbsvm_ensemble import NBSVMEnsembleClassifier  # noqa: E402
from tests.conftest import make_dataset, make_texts, write_csv  # noqa: E402

FOUR = ("neg", "pos", "mixed", "odd")


def small(**kw):
    # Short character n-grams and a small vector model keep the fits to a second or two; one thread
    # makes inferred vectors reproducible.
    params = dict(nbsvm=NBSVMEnsembleClassifier(char_min_n=2, char_ngrams=4), dim=16, epochs=5, min_count=1,
                  infer_epochs=5, n_jobs=1)
    params.update(kw)
    return NBSVMDocVecClassifier(**params)


@pytest.fixture(scope="module")
def four_class():
    data = make_dataset(FOUR)
    unlabeled = make_texts(100, list(FOUR), seed=9)[0] + ["zzunseenword appears only unlabelled"] * 3
    return small(unlabeled_texts=unlabeled).fit(data.train_texts, data.train_labels), data


def test_tokens_are_words_then_bigrams():
    assert docvec_tokens("Not good!<br />Bad.", 2) == ["not", "good", "!", "bad", "not good", "good !", "! bad"]
    assert docvec_tokens("a b c", 1) == ["a", "b", "c"]


def test_four_classes_probabilities_and_accuracy(four_class):
    model, data = four_class
    p = model.predict_proba(data.val_texts)
    assert p.shape == (len(data.val_texts), 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (model.predict(data.val_texts) == data.val_labels).mean() > 0.8
    assert model.head_coef_.shape == (4, 16)


def test_vector_model_learns_from_the_unlabelled_texts(four_class):
    model, _ = four_class
    assert model.n_unlabeled_ == 103
    assert "zzunseenword" in model.vector_model_.wv.key_to_index  # a word found only in unlabelled text


def test_weight_zero_is_the_nbsvm_and_one_is_the_vector_head(four_class):
    model, data = four_class
    texts = data.val_texts[:20]
    try:
        model.docvec_weight = 0.0
        np.testing.assert_allclose(model.predict_proba(texts), model.nbsvm_.predict_proba(texts), atol=1e-9)
        model.docvec_weight = 1.0
        np.testing.assert_allclose(model.predict_proba(texts), model.docvec_proba(texts), atol=1e-9)
        model.docvec_weight = 0.5  # log-space mix: the geometric mean, renormalised
        a, b = model.nbsvm_.predict_proba(texts), model.docvec_proba(texts)
        expected = np.sqrt(a * b) / np.sqrt(a * b).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-9)
    finally:
        model.docvec_weight = 0.4


def test_inferred_vectors_are_normalised_and_reproducible(four_class):
    model, data = four_class
    x = model.transform(data.val_texts[:10])
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(model.transform(data.val_texts[9::-1])[::-1], x)  # order does not matter


def test_inferred_vectors_do_not_depend_on_threads_or_the_process(four_class, tmp_path):
    model, data = four_class
    jobs = model.n_jobs
    texts = data.val_texts[:40] + [""]  # "" had a start vector from a process-wide generator
    alone = np.vstack([model.set_params(n_jobs=1).transform([t]) for t in texts[:5]])
    np.testing.assert_array_equal(model.set_params(n_jobs=2).transform(texts)[:5], alone)
    model.save(tmp_path / "m")
    script = ("import sys, numpy as np; from lexiclass.models.docvec import NBSVMDocVecClassifier as C; "
              "np.save(sys.argv[2], C.load(sys.argv[1]).transform(sys.argv[3:]))")
    for seed in ("1",):  # Python's str hash differs with PYTHONHASHSEED (random in this process); vectors must not
        subprocess.run([sys.executable, "-c", script, tmp_path / "m", tmp_path / f"{seed}.npy", *texts], check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True)
        np.testing.assert_array_equal(np.load(tmp_path / f"{seed}.npy"), model.transform(texts))
    model.set_params(n_jobs=jobs)


def test_refit_keeps_the_vector_model_and_infers_only_new_texts(monkeypatch):
    data = make_dataset(FOUR)
    unlabeled = make_texts(60, list(FOUR), seed=5)[0]
    model = small(unlabeled_texts=unlabeled).fit(data.train_texts, data.train_labels)
    vector_model, weights = model.vector_model_, model.vector_model_.syn1neg.copy()
    nbsvm, coef = model.nbsvm_, model.head_coef_.copy()
    asked = []
    transform = model.transform
    monkeypatch.setattr(model, "transform", lambda texts: asked.append(list(texts)) or transform(texts))
    texts = data.train_texts + data.val_texts
    labels = np.concatenate([data.train_labels, data.val_labels])
    assert model.refit(texts, labels) is model
    assert asked == [data.val_texts]  # the training texts kept the vectors fit() inferred
    assert model.vector_model_ is vector_model
    np.testing.assert_array_equal(model.vector_model_.syn1neg, weights)  # not trained again
    assert model.nbsvm_ is not nbsvm and model.nbsvm_.members_[0].coef_.shape[0] == 4
    assert not np.allclose(model.head_coef_, coef)  # the head learned from the added labels
    assert (model.predict(data.val_texts) == data.val_labels).mean() > 0.9
    # Texts in another order than fit() saw are all inferred again.
    asked.clear()
    model.refit(texts[::-1], labels[::-1])
    assert [len(a) for a in asked] == [len(texts)]


def test_refit_of_an_unfitted_model_says_so():
    with pytest.raises(LexiclassError, match="not trained yet"):
        small().refit(["a text"], [0])


def test_save_load_is_pickle_free_and_identical(four_class, tmp_path):
    model, data = four_class
    model.save(tmp_path / "m")
    for path in (tmp_path / "m").rglob("*.npz"):
        with np.load(path, allow_pickle=False) as arrays:  # would raise on pickled objects
            list(arrays.values())
    loaded = NBSVMDocVecClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(data.test_texts), model.predict_proba(data.test_texts))
    meta = json.loads((tmp_path / "m" / "docvec.json").read_text())
    assert meta["unlabeled_texts_used"] == 103 and meta["hyperparameters"]["dim"] == 16


def test_damaged_folders_raise_clear_errors(four_class, tmp_path):
    model, _ = four_class
    model.save(tmp_path / "m")
    vocab = tmp_path / "m" / "docvec-vocabulary.json"
    saved = json.loads(vocab.read_text())
    vocab.write_text(json.dumps({"words": saved["words"][:-1], "counts": saved["counts"][:-1]}))
    with pytest.raises(LexiclassError, match="do not match"):
        NBSVMDocVecClassifier.load(tmp_path / "m")
    (tmp_path / "m" / "docvec.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(LexiclassError, match="not a lexiclass nbsvm-docvec model"):
        NBSVMDocVecClassifier.load(tmp_path / "m")


@pytest.mark.parametrize("params, message", [({"dim": 0}, "dim"), ({"docvec_weight": 1.5}, "docvec_weight"),
                                             ({"head_c": 0}, "head_c")])
def test_bad_hyperparameters(params, message):
    with pytest.raises(LexiclassError, match=message):
        small(**params).fit(["good film", "bad film", "great", "awful"], [1, 0, 1, 0])


def test_unfitted_model_says_so():
    with pytest.raises(LexiclassError, match="not trained yet"):
        small().predict_proba(["a text"])


def test_from_config_uses_unlabelled_reviews_only_on_imdb(monkeypatch):
    import lexiclass.data.unlabeled as unlabeled

    monkeypatch.setattr(unlabeled, "imdb_unlabeled_texts", lambda archive: ["unlabelled one", "unlabelled two"])
    on_imdb = NBSVMDocVecClassifier.from_config(TrainConfig(model="nbsvm-docvec"))
    assert on_imdb.unlabeled_texts == ["unlabelled one", "unlabelled two"]
    assert on_imdb.nbsvm.get_params() == NBSVMEnsembleClassifier.from_config(TrainConfig()).get_params()
    on_csv = NBSVMDocVecClassifier.from_config(TrainConfig(model="nbsvm-docvec", dataset="d.csv"))
    assert on_csv.unlabeled_texts is None


@pytest.mark.parametrize("cls_path", ["lexiclass.models.docvec.NBSVMDocVecClassifier",
                                      "lexiclass.models.dvcosine.NBSVMDVCosineClassifier"])
def test_docvec_settings_override_only_what_is_set(cls_path):
    import importlib

    module, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    defaults = cls().get_params()
    model = cls.from_config(TrainConfig(dataset="d.csv", docvec_dim=32, docvec_min_count=5))
    assert (model.dim, model.min_count, model.epochs) == (32, 5, defaults["epochs"])
    assert cls.from_config(TrainConfig(dataset="d.csv", docvec_epochs=3)).dim == defaults["dim"]
    with pytest.raises(ConfigError, match="docvec_dim"):
        TrainConfig(docvec_dim=0)


def test_unlabeled_file_feeds_the_vector_model_on_any_dataset(monkeypatch, tmp_path):
    import lexiclass.data.unlabeled as unlabeled

    monkeypatch.setattr(unlabeled, "imdb_unlabeled_texts", lambda archive: pytest.fail("IMDB's unsup read"))
    txt = tmp_path / "more.txt"
    txt.write_text("first unlabelled text\n\n   \nsecond one, with a comma\n", encoding="utf-8")
    for dataset in ("d.csv", "imdb"):  # the file wins over IMDB's own unlabelled reviews
        model = NBSVMDocVecClassifier.from_config(TrainConfig(model="nbsvm-docvec", dataset=dataset,
                                                              unlabeled=str(txt)))
        assert model.unlabeled_texts == ["first unlabelled text", "second one, with a comma"]  # blanks skipped
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text('{"body": "from json"}\n{"body": null}\n', encoding="utf-8")
    model = NBSVMDocVecClassifier.from_config(TrainConfig(model="nbsvm-docvec", dataset="d.csv",
                                                          unlabeled=str(jsonl), text_column="body"))
    assert model.unlabeled_texts == ["from json"]


@pytest.mark.parametrize("content, name, message", [
    ("\n  \n", "blank.txt", "blank.txt: no unlabelled texts"),
    ("text\nx\n", "other.csv", "other.csv.*'body'"),  # --text-column body is not a column
    (None, "missing.txt", "missing.txt"),
])
def test_bad_unlabeled_files_name_the_file(tmp_path, content, name, message):
    from lexiclass.errors import DataError

    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        NBSVMDocVecClassifier.from_config(TrainConfig(model="nbsvm-docvec", dataset="d.csv", unlabeled=str(path),
                                                      text_column="body"))


def test_cli_unlabeled_is_used_and_saved_as_an_absolute_path(tmp_path, monkeypatch):
    from lexiclass.cli import main

    csv_path = write_csv(tmp_path, n=120, classes=FOUR)
    (tmp_path / "unlabelled.txt").write_text("\n".join(make_texts(40, list(FOUR), seed=3)[0]) + "\n",
                                             encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--model", "nbsvm-docvec", "--dataset", str(csv_path), "--unlabeled", "unlabelled.txt",
                 "--out", str(run), "-q"]) == 0
    assert json.loads((run / "config.json").read_text())["unlabeled"] == str(tmp_path / "unlabelled.txt")
    meta = json.loads(next(run.rglob("docvec.json")).read_text())
    assert meta["unlabeled_texts_used"] == 40


def test_unlabeled_file_is_read_with_the_datasets_encoding(tmp_path):
    from lexiclass.errors import DataError

    path = tmp_path / "k.txt"
    path.write_bytes("재미있는 영화\n지루한 영화\n".encode("cp949"))
    config = TrainConfig(model="nbsvm-docvec", dataset="d.csv", unlabeled=str(path), encoding="cp949")
    assert NBSVMDocVecClassifier.from_config(config).unlabeled_texts == ["재미있는 영화", "지루한 영화"]
    with pytest.raises(DataError, match=r"k\.txt, line 1: bytes not valid UTF-8"):
        NBSVMDocVecClassifier.from_config(config.updated({"encoding": "utf-8"}))


def test_cli_unlabeled_from_stdin_is_read_once_for_fit_and_refit(tmp_path, monkeypatch):
    import io
    import sys

    import lexiclass.data.unlabeled as unlabeled
    from lexiclass.cli import main

    monkeypatch.setattr(unlabeled, "_STDIN_TEXTS", None)
    lines = make_texts(30, list(FOUR), seed=4)[0]
    stdin = io.TextIOWrapper(io.BytesIO(("\n".join(lines) + "\n\n").encode("utf-8")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    run = tmp_path / "run"
    assert main(["train", "--model", "nbsvm-docvec", "--dataset", str(write_csv(tmp_path, n=120, classes=FOUR)),
                 "--unlabeled", "-", "--refit-on-val", "--out", str(run), "-q"]) == 0
    assert stdin.buffer.read() == b""  # consumed by the first fit; the refit reused what it read
    assert json.loads((run / "config.json").read_text())["unlabeled"] == "-"  # stdin, not a file named "-"
    meta = json.loads(next(run.rglob("docvec.json")).read_text())
    assert meta["unlabeled_texts_used"] == 30


def test_trains_on_a_four_class_csv_through_the_cli(tmp_path, capsys, caplog):
    from lexiclass.cli import main

    csv_path = write_csv(tmp_path, n=200, classes=FOUR)
    run = tmp_path / "run"
    caplog.set_level(logging.INFO)
    assert main(["train", "--model", "nbsvm-docvec", "--dataset", str(csv_path), "--out", str(run)]) == 0
    # gensim's INFO notes (hundreds of lines on IMDB) are silenced; lexiclass's own bar counts the epochs.
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("gensim")]
    assert "document vectors: training" in capsys.readouterr().err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.7 and len(metrics["confusion_matrix"]) == 4
    capsys.readouterr()
    assert main(["predict", str(run), "weird bizarre surreal quirky film"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] == "odd" and set(result["probabilities"]) == set(FOUR)
