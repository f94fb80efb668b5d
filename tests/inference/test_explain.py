"""Attention maps (Transformer runs) and occlusion importance (every run), and the files `explain` writes."""

import io

import numpy as np
import pytest

import lexiclass
from lexiclass.cli import main
from lexiclass.errors import LexiclassError
from lexiclass.inference.explain import (attention_figure, attention_scores, explain_to_files, importance_html,
                                         model_tokens, strongest_pairs, token_importance)

TEXT = "The movie was GREAT, excellent acting and a wonderful story; zzyzx!"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def positional(tiny_run):
    return lexiclass.load(tiny_run("positional-transformer"))


@pytest.mark.parametrize("model", ["positional-transformer", "transformer"])
def test_attention_shape_rows_and_padding(tiny_run, model):
    predictor = lexiclass.load(tiny_run(model))
    tokens, scores = attention_scores(predictor, TEXT)
    n = len(tokens)
    assert tokens[:4] == ["the", "movie", "was", "great"] and "zzyzx" in tokens  # OOV words keep their spelling
    assert scores.shape == (predictor.config.num_heads, n, n)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=1e-5)
    assert (scores >= 0).all()

    # Independently: the same text in a padded batch gives zero weight to padding, same weights elsewhere.
    ids, _ = model_tokens(predictor, TEXT)
    layers = {layer.name: layer for layer in predictor.model.layers}
    embedding = layers.get("positional_embedding") or layers["embedding"]
    batch = np.zeros((1, n + 7), dtype=np.int32)
    batch[0, :n] = ids
    _, padded = layers["transformer_encoder"](embedding(batch), mask=embedding.compute_mask(batch),
                                              return_attention_scores=True)
    padded = np.asarray(padded)[0]  # (heads, n + 7, n + 7)
    np.testing.assert_allclose(padded[:, :n, n:], 0.0, atol=1e-7)
    np.testing.assert_allclose(padded[:, :n, :n], scores, atol=1e-5)


def test_attention_follows_truncation(tiny_run):
    predictor = lexiclass.load(tiny_run("positional-transformer"))
    long_text = " ".join(["good"] * 50 + ["film"] * 50)  # 100 tokens, sequence_length is 64
    tokens, scores = attention_scores(predictor, long_text)
    assert len(tokens) == predictor.config.sequence_length and scores.shape[1:] == (64, 64)


@pytest.mark.parametrize("model", ["bow", "bilstm"])
def test_attention_needs_a_transformer(tiny_run, model):
    with pytest.raises(LexiclassError, match=f"model is '{model}'"):
        attention_scores(lexiclass.load(tiny_run(model)), TEXT)


@pytest.mark.parametrize("model", ["positional-transformer", "bilstm", "bow"])
def test_importance_finds_the_cue_words(tiny_run, model):
    predictor = lexiclass.load(tiny_run(model))
    text = "the story was excellent and the actor was wonderful in every scene"
    tokens, importance = token_importance(predictor, text)
    assert importance.shape == (len(tokens),) == (12,)
    top_two = {tokens[i] for i in np.argsort(-importance)[:2]}
    assert top_two == {"excellent", "wonderful"}, dict(zip(tokens, importance.round(3)))
    # Against the prediction: hiding a "neg" cue word raises P(pos) or leaves it unchanged.
    tokens, importance = token_importance(predictor, "great film, but boring", target="pos")
    assert importance[tokens.index("boring")] < 0


def test_importance_is_zero_for_unknown_words(positional):
    tokens, importance = token_importance(positional, "zzyzx excellent")
    assert tokens == ["zzyzx", "excellent"] and importance[0] == 0.0 and importance[1] > 0


def test_text_without_tokens_is_refused(positional):
    with pytest.raises(LexiclassError, match="no tokens"):
        attention_scores(positional, "!!! ...")


def test_views():
    tokens = [f"t{i}" for i in range(80)]
    scores = np.full((2, 80, 80), 1 / 80)
    scores[1, 3, 7] = 0.9
    fig = attention_figure(tokens, scores)
    assert "first 60 of 80 tokens" in fig._suptitle.get_text()
    assert len(fig.axes[0].get_xticklabels()) == 60
    text = strongest_pairs(tokens, scores, top_k=2)
    assert text.splitlines()[0] == "head 1:" and "t3 (#3) -> t7" in text.split("head 2:")[1].splitlines()[1]
    page = importance_html(["<b>bold</b>", "fine"], np.array([0.5, -0.25]), title="a & b")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page and "a &amp; b" in page
    assert "rgba(34,160,70,0.850)" in page and "rgba(215,48,39,0.425)" in page  # green supports, red opposes


def test_explain_to_files_transformer(positional, tmp_path):
    out, html = tmp_path / "att.png", tmp_path / "imp.html"
    report = explain_to_files(positional.run_dir, TEXT, out=out, html=html, top_k=3)
    assert out.read_bytes().startswith(PNG_MAGIC) and out.stat().st_size > 5000
    assert (tmp_path / "imp.png").read_bytes().startswith(PNG_MAGIC)
    assert "<span" in html.read_text() and "wonderful" in html.read_text()
    assert "prediction: pos" in report and "head 2:" in report and "supports:" in report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["att.png", "imp.html", "imp.png"]  # no temp files left


def test_explain_cli_bow_reads_stdin_and_skips_attention(tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("an <script>awful</script> & boring film\n"))
    out, html = tmp_path / "att.png", tmp_path / "imp.html"
    assert main(["explain", str(tiny_run("bow")), "-", "--out", str(out), "--html", str(html)]) == 0
    report = capsys.readouterr().out
    assert "attention: skipped" in report and "'bow'" in report and "prediction: neg" in report
    assert not out.exists()
    assert "&lt;script&gt;awful&lt;/script&gt;" in html.read_text() and "<script>" not in html.read_text()
    assert (tmp_path / "imp.png").stat().st_size > 0
