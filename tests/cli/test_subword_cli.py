"""``lexiclass train --tokenizer sentencepiece`` end to end on a tiny Korean CSV: the saved run predicts,
explains and refuses export after reload, with the same ids and probabilities as a freshly learned
tokenizer; a damaged sentencepiece.model is one line naming it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lexiclass.text.subword import MODEL_FILE
from tests.cli.test_adversarial import assert_one_line_error, run_cli, snapshot
from tests.text.test_subword import korean_texts

TINY = ["--max-tokens", "120", "--sequence-length", "32", "--embed-dim", "16", "--dense-dim", "8",
        "--batch-size", "16", "--epochs", "2", "--learning-rate", "1e-2", "--bucket-multiple", "4", "-q"]


@pytest.fixture(scope="module")
def korean_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("subword-cli")
    texts, labels = korean_texts(240, seed=3)
    csv = root / "ko.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{'pos' if y else 'neg'}\n" for t, y in zip(texts, labels)),
                   encoding="utf-8")
    out = root / "run"
    code = __import__("lexiclass.cli", fromlist=["main"]).main(
        ["train", "--model", "transformer", "--tokenizer", "sentencepiece", "--dataset", str(csv),
         "--out", str(out), *TINY])
    assert code == 0
    return out


def test_run_records_the_tokenizer_and_saves_the_model(korean_run):
    assert json.loads((korean_run / "config.json").read_text())["tokenizer"] == "sentencepiece"
    assert json.loads((korean_run / "vectorizer.json").read_text())["tokenizer"] == "sentencepiece"
    assert (korean_run / MODEL_FILE).stat().st_size > 0


def test_reloaded_run_gives_the_ids_and_probabilities_of_a_fresh_tokenizer(korean_run):
    import keras

    import lexiclass
    from lexiclass import run_dir as rd
    from lexiclass.data import load_dataset
    from lexiclass.config import TrainConfig
    from lexiclass.layers import register
    from lexiclass.text.pipeline import make_vectorizer, predict_probabilities

    predictor = lexiclass.load(korean_run)
    config = TrainConfig.from_dict(json.loads((korean_run / "config.json").read_text()))
    data = load_dataset(config)  # the same seeded split the run was trained on
    fresh = make_vectorizer(config, "sequence").adapt(data.train_texts)
    probe = data.test_texts + ["배우만도 정말 최고", "뷁"]
    assert [x.tolist() for x in predictor.vectorizer.token_ids(probe)] == [x.tolist() for x in fresh.token_ids(probe)]
    register()
    model = keras.models.load_model(korean_run / rd.MODEL_FILE)
    expected = predict_probabilities(model, fresh, probe, config, "sequence")
    np.testing.assert_allclose(predictor.predict_proba(probe), expected, atol=1e-6)
    again = lexiclass.load(korean_run).predict_proba(probe)
    np.testing.assert_array_equal(again, predictor.predict_proba(probe))


def test_predict_and_explain_show_sub_word_pieces(korean_run, capsys):
    code, out, err = run_cli(["predict", korean_run, "배우만도 정말 재미있다"], capsys)
    assert code == 0, err
    assert json.loads(out)["label"] in ("neg", "pos")
    from lexiclass.inference.explain import token_importance
    import lexiclass

    predictor = lexiclass.load(korean_run)
    tokens, importance = token_importance(predictor, "배우만도 정말 재미있다")
    assert tokens == predictor.vectorizer.tokens("배우만도 정말 재미있다")
    assert len(tokens) > 3 and tokens[0].startswith("\u2581")  # pieces, not the 3 words
    assert importance.shape == (len(tokens),)
    code, out, err = run_cli(["explain", korean_run, "배우만도 정말 재미있다"], capsys)
    assert code == 0, err
    assert "\u2581" in out


def test_export_refuses_with_one_line(korean_run, tmp_path, capsys):
    code, out, err = run_cli(["export", korean_run, "--out", tmp_path / "exported"], capsys)
    assert_one_line_error(code, err, "--tokenizer sentencepiece runs cannot be exported")
    assert not (tmp_path / "exported").exists()


@pytest.mark.parametrize("damage, fragment", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "sentencepiece.model is damaged"),
    (lambda p: p.write_bytes(b""), "sentencepiece.model is damaged: empty"),
    (lambda p: p.write_bytes(b"\x0a\xff\xff\xff\xff\x0f" * 100), "sentencepiece.model is damaged"),
    (lambda p: p.write_bytes(b"\x00" * 2_000_000), "sentencepiece.model is damaged: larger than"),
    (lambda p: p.unlink(), "sentencepiece.model is missing"),
], ids=["truncated", "empty", "garbage", "oversized", "missing"])
def test_damaged_sentencepiece_model_is_one_line(korean_run, tmp_path, capsys, damage, fragment):
    run = tmp_path / "run"
    shutil.copytree(korean_run, run)
    damage(run / MODEL_FILE)
    before = snapshot(run)
    code, out, err = run_cli(["predict", run, "정말 최고"], capsys)
    assert_one_line_error(code, err, fragment)
    assert out == "" and snapshot(run) == before
