"""Attention maps (Transformer runs) and occlusion importance (every run, per chosen label for multi-label runs),
and the files `explain` writes."""

import io

import numpy as np
import pytest

import lexiclass
from lexiclass.cli import main
from lexiclass.errors import LexiclassError
from lexiclass.inference.explain import (ATTENTION_MAX_TOKENS, MAX_OCCLUSIONS, OCCLUSION_BATCH, attention_figure,
                                         attention_scores, chosen_labels, explain_to_files, importance_figure,
                                         importance_html, label_occlusion, model_tokens, occlusion, strongest_pairs,
                                         token_importance)
from lexiclass.inference.predictor import Predictor
from tests.conftest import attention_atol

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
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=attention_atol(predictor))
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
    np.testing.assert_allclose(padded[:, :n, :n], scores, atol=attention_atol(predictor))


def test_attention_follows_truncation(tiny_run):
    predictor = lexiclass.load(tiny_run("positional-transformer"))
    long_text = " ".join(["good"] * 50 + ["film"] * 50)  # 100 tokens, sequence_length is 64
    tokens, scores = attention_scores(predictor, long_text)
    assert len(tokens) == predictor.config.sequence_length and scores.shape[1:] == (64, 64)


@pytest.mark.parametrize("model", ["bow", "bilstm"])
def test_attention_needs_a_transformer(tiny_run, model):
    with pytest.raises(LexiclassError, match=f"model is '{model}'"):
        attention_scores(lexiclass.load(tiny_run(model)), TEXT)


@pytest.mark.parametrize("model", ["positional-transformer", pytest.param("bilstm", marks=pytest.mark.slow), "bow"])
def test_importance_finds_the_cue_words(tiny_run, model):
    # float32, pinned: the tiny model is nearly saturated on these texts and ranks words whose importances
    # differ by ~1e-4, which bfloat16 activations round to ties (tests/test_support_matrix.py explains bfloat16 runs)
    predictor = lexiclass.load(tiny_run(model, precision="float32"))
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
    assert f"first {ATTENTION_MAX_TOKENS} of 80 tokens" in fig._suptitle.get_text()
    assert len(fig.axes[0].get_xticklabels()) == ATTENTION_MAX_TOKENS
    assert min(label.get_fontsize() for label in fig.axes[0].get_xticklabels()) >= 8
    text = strongest_pairs(tokens, scores, top_k=2)
    assert text.splitlines()[0] == "head 1:" and "t3 (#3) -> t7" in text.split("head 2:")[1].splitlines()[1]
    page = importance_html(["<b>bold</b>", "fine"], np.array([0.5, -0.25]), title="a & b")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page and "a &amp; b" in page
    assert "rgba(34,160,70,0.850)" in page and "rgba(215,48,39,0.425)" in page  # green supports, red opposes


def _heatmap_pixels(fig, ax) -> np.ndarray:
    """RGB pixels inside ``ax``'s heatmap (a 3-pixel margin off the frame), rendered with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    box = ax.get_window_extent()
    top = rgba.shape[0] - int(box.y1)  # display coordinates start at the bottom
    return rgba[top + 3:top + int(box.height) - 3, int(box.x0) + 3:int(box.x1) - 3, :3].astype(float)


def test_attention_scale_is_shared_and_uniform_looks_uniform():
    rng = np.random.default_rng(0)
    scores = 0.2 + rng.uniform(-0.0006, 0.0006, size=(2, 5, 5))  # nearly uniform attention over 5 tokens
    scores[1] *= 0.5  # the second head is weaker everywhere: it must look lighter, not the same
    fig = attention_figure([f"w{i}" for i in range(5)], scores)
    heads = [ax for ax in fig.axes if ax.images]
    assert len(heads) == 2 and heads[0].images[0].get_clim() == heads[1].images[0].get_clim()
    assert heads[0].images[0].get_clim() == (0.0, pytest.approx(scores.max()))
    colorbars = [ax for ax in fig.axes if ax.get_ylabel() == "attention weight"]
    assert len(colorbars) == 1  # one colour bar for every head
    image = heads[0].images[0]
    normalised = image.norm(image.get_array())
    assert float(normalised.max() - normalised.min()) < 0.01
    pixels = _heatmap_pixels(fig, heads[0])
    assert pixels.size and pixels.std(axis=(0, 1)).max() < 3.0  # one colour, up to rounding
    assert abs(_heatmap_pixels(fig, heads[1]).mean() - pixels.mean()) > 20  # the weaker head looks different
    fixed = attention_figure(["a", "b"], np.full((3, 2, 2), 0.5), scale="fixed")
    assert {ax.images[0].get_clim() for ax in fixed.axes if ax.images} == {(0.0, 1.0)}
    assert all(ax.images or ax.get_ylabel() == "attention weight" for ax in fixed.axes)  # 3 heads, no empty cell


def test_explain_to_files_transformer(positional, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    att, html, png = out / "att.png", out / "imp.html", out / "imp.png"
    report = explain_to_files(positional.run_dir, TEXT, attention_png=att, importance_html=html,
                              importance_png=png, top_k=3)
    assert att.read_bytes().startswith(PNG_MAGIC) and att.stat().st_size > 5000
    assert png.read_bytes().startswith(PNG_MAGIC) and png.read_bytes() != att.read_bytes()
    assert "<span" in html.read_text() and "wonderful" in html.read_text()
    assert "prediction: pos" in report and "head 2:" in report and "supports:" in report
    assert str(att) in report and str(html) in report and str(png) in report
    assert sorted(p.name for p in out.iterdir()) == ["att.png", "imp.html", "imp.png"]  # no temp files left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing in the working folder


def test_explain_writes_only_the_files_given(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = explain_to_files(tiny_run("positional-transformer"), TEXT)
    assert list(tmp_path.iterdir()) == [] and "wrote: nothing" in report and "supports:" in report
    report = explain_to_files(tiny_run("bow"), TEXT, importance_png="bars.png")
    assert [p.name for p in tmp_path.iterdir()] == ["bars.png"] and "bars.png" in report


@pytest.mark.parametrize("kind", ["missing", "folder", "same"])
def test_explain_checks_output_paths_first(tiny_run, tmp_path, monkeypatch, kind):
    def no_work(*args, **kwargs):
        raise AssertionError("the model was loaded before the output paths were checked")

    monkeypatch.setattr("lexiclass.inference.explain._predictor", no_work)
    run = tiny_run("positional-transformer")
    if kind == "missing":
        paths, message = {"attention_png": tmp_path / "nowhere" / "a.png"}, "attention PNG .*nowhere.*does not exist"
    elif kind == "folder":
        paths, message = {"importance_html": tmp_path}, "is a folder"
    else:
        paths, message = {"attention_png": tmp_path / "a.png", "importance_png": tmp_path / "a.png"}, "same file"
    with pytest.raises(LexiclassError, match=message):
        explain_to_files(run, TEXT, **paths)
    assert list(tmp_path.iterdir()) == []  # nothing written either


def test_explain_cli_bow_reads_stdin_and_skips_attention(tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("an <script>awful</script> & boring film\n"))
    out, html, png = tmp_path / "att.png", tmp_path / "imp.html", tmp_path / "imp.png"
    assert main(["explain", str(tiny_run("bow")), "-", "--out", str(out), "--html", str(html), "--png", str(png)]) == 0
    report = capsys.readouterr().out
    assert "attention: skipped" in report and "'bow'" in report and "prediction: neg" in report
    assert not out.exists() and f"{out} not written" in report
    assert "&lt;script&gt;awful&lt;/script&gt;" in html.read_text() and "<script>" not in html.read_text()
    assert png.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imp.html", "imp.png"]


@pytest.mark.parametrize("model", ["bow", "nbsvm"])
def test_long_bow_text_is_scored_in_bounded_batches(tiny_run, monkeypatch, model):
    predictor = lexiclass.load(tiny_run(model))
    sizes = []
    real = type(predictor).predict_proba

    def recording(self, texts):
        texts = list(texts)
        sizes.append((len(texts), sum(map(len, texts)), max(map(len, texts))))
        return real(self, texts)

    monkeypatch.setattr(type(predictor), "predict_proba", recording)
    filler = "the movie was long and the plot had a scene with people".split()
    words = filler * 40 + ["excellent", "wonderful"] + [f"w{i}" for i in range(400)]  # 413 distinct words
    text = " ".join(np.random.default_rng(0).permutation(words))
    tokens, importance = token_importance(predictor, text, target="pos")
    assert tokens == text.split() and importance.shape == (len(tokens),)
    variants = [n for n, _, longest in sizes if longest > len(text) // 2]  # batches of whole-text variants
    assert variants and max(variants) <= OCCLUSION_BATCH
    assert sum(n for n, _, _ in sizes) <= 1 + (1 + 413) + MAX_OCCLUSIONS  # intact + screen + measured words
    assert sum(chars for _, chars, _ in sizes) < (MAX_OCCLUSIONS + 1) * len(text) + 10_000  # not n copies
    strongest = {tokens[i] for i in np.argsort(-importance)[:2]}
    assert strongest == {"excellent", "wonderful"}, dict(zip(tokens, importance.round(3)))
    same = [importance[i] for i, t in enumerate(tokens) if t == "movie"]
    assert len(set(same)) == 1  # every occurrence of a word is hidden at once
    method = occlusion(predictor, text, target="pos").method
    assert f"{MAX_OCCLUSIONS} of 413 distinct words measured" in method


def test_sequence_importance_is_bounded_by_sequence_length(positional):
    tokens, importance = token_importance(positional, " ".join(["good", "film"] * 200))
    assert len(tokens) == importance.shape[0] == positional.config.sequence_length


# --- multi-label runs: importance per chosen label ----------------------------------------

TWO_ANIMALS = "the cat saw a dog near the house"
MULTILABEL_RUNS = {"tfidf": {}, "positional-transformer": dict(epochs=6, precision="float32")}  # n-gram and Keras


@pytest.fixture(scope="module", params=list(MULTILABEL_RUNS))
def multilabel(request, tiny_multilabel_run):
    return lexiclass.load(tiny_multilabel_run(request.param, **MULTILABEL_RUNS[request.param]))


def test_multilabel_importance_is_each_chosen_labels_own(multilabel):
    probs = multilabel.predict_proba(TWO_ANIMALS)
    assert multilabel.multi_label and [multilabel.labels[i] for i in chosen_labels(multilabel, probs)] == \
        multilabel.predict(TWO_ANIMALS)["labels"]
    found = label_occlusion(multilabel, TWO_ANIMALS)  # default: the chosen labels, most probable first
    assert sorted(found.labels) == ["cat", "dog"] and found.labels == multilabel.predict(TWO_ANIMALS)["labels"]
    assert found.importance.shape == (2, len(found.tokens))
    for label, row in zip(found.labels, found.importance):
        assert found.tokens[int(np.argmax(row))] == label and row.max() > 0.3, dict(zip(found.tokens, row.round(3)))
        single = occlusion(multilabel, TWO_ANIMALS, target=label)  # one label at a time: the same numbers
        np.testing.assert_allclose(single.importance, row, atol=1e-6)
        assert single.method == found.method
    if multilabel.input_kind == "text":  # independently: the drop in that label's own probability, word removed
        words = TWO_ANIMALS.split()
        k = multilabel.labels.index(found.labels[0])
        hidden = multilabel.predict_proba([" ".join(words[:i] + words[i + 1:]) for i in range(len(words))])[:, k]
        np.testing.assert_allclose(found.importance[0], probs[k] - hidden, atol=1e-9)
    assert occlusion(multilabel, TWO_ANIMALS).importance.tolist() == found.importance[0].tolist()  # the first


def test_explain_cli_multilabel_reports_and_draws_each_chosen_label(multilabel, tmp_path, capsys):
    html, png = tmp_path / "imp.html", tmp_path / "imp.png"
    assert main(["explain", str(multilabel.run_dir), TWO_ANIMALS, "--html", str(html), "--png", str(png)]) == 0
    report = capsys.readouterr().out
    labels = multilabel.predict(TWO_ANIMALS)["labels"]
    assert f"prediction: {', '.join(labels)} (multi-label: 2 of 3 labels" in report
    assert "each chosen label, by the drop in its own probability" in report
    for label in labels:
        section = report.split(f"  {label} (drop in P({label})):\n")[1].splitlines()
        assert section[0].startswith(f"    supports: {label} +"), report  # its own word first
    assert "bird" in report.split("token importance")[0] and "P(bird)" not in report  # listed, not explained
    page = html.read_text()
    assert [page.count(f"<h3>{label}</h3>") for label in labels] == [1, 1] and "a section per label: 2" in report
    assert png.read_bytes().startswith(PNG_MAGIC) and "a panel per label: 2" in report
    found = label_occlusion(multilabel, TWO_ANIMALS)
    fig = importance_figure(found.tokens, found.importance, labels=found.labels)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == labels
    assert [ax.get_xlabel() for ax in fig.axes] == [f"drop in P({label}) when the token is hidden" for label in labels]


def test_explain_multilabel_caps_the_labels_and_explains_when_none_is_chosen(tiny_multilabel_run, monkeypatch):
    predictor = lexiclass.load(tiny_multilabel_run("tfidf"))
    monkeypatch.setattr("lexiclass.inference.explain.MAX_EXPLAINED_LABELS", 1)
    report = explain_to_files(predictor, TWO_ANIMALS)
    first = predictor.predict(TWO_ANIMALS)["labels"][0]
    assert "the 1 most probable of 2 chosen labels" in report and report.count("(drop in P(") == 1
    assert f"  {first} (drop in P({first})):" in report
    strict = Predictor(predictor.classifier, predictor.config, predictor.labels, predictor.info, predictor.run_dir,
                       {**predictor.thresholds, "thresholds": [0.9999] * 3, "at_least_one": False})
    report = explain_to_files(strict, TWO_ANIMALS)
    assert "prediction: (no label over its threshold)" in report and "no label chosen: the most probable one" in report
    most = predictor.labels[int(np.argmax(predictor.predict_proba(TWO_ANIMALS)))]
    assert f"  {most} (drop in P({most})):" in report and "<  0.9999" in report
