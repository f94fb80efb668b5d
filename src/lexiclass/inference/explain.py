"""Why did a run predict what it did? Attention maps (Transformer runs) and token importance (every run).

- `attention_scores`: the encoder's self-attention weights for one text, read from the
  trained model's own layers (embedding -> encoder with ``return_attention_scores``), no retraining.
- `token_importance`: occlusion. Each token in turn is hidden (sequence models: its id
  becomes the out-of-vocabulary id 1; bag-of-words models: the word is removed from the
  text) and the drop in the predicted class's probability is that token's importance.
  Positive = the token supports the prediction, negative = it argues against it.
- `attention_figure`, `strongest_pairs`, `importance_html`, `importance_figure`: views.
- `explain_to_files`: all of the above for the CLI (``lexiclass explain``).
"""

from __future__ import annotations

import html as html_lib
from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError

TRANSFORMER_MODELS = ("transformer", "positional-transformer")
OOV_ID = 1


def _predictor(predictor_or_run_dir):
    if hasattr(predictor_or_run_dir, "predict_proba"):
        return predictor_or_run_dir
    from lexiclass.inference.predictor import Predictor

    return Predictor.from_run_dir(predictor_or_run_dir)


def model_tokens(predictor, text: str) -> tuple[np.ndarray, list[str]]:
    """(ids (n,), tokens) exactly as a sequence model sees ``text``: standardized, split, truncated.

    Tokens are the text's own (lower-cased, punctuation-free) words, so out-of-vocabulary
    words keep their spelling (the model sees id 1 for them).
    """
    from lexiclass.text.batching import truncate

    ids = predictor.vectorizer.token_ids([text])[0]  # (all tokens,)
    if len(ids) == 0:
        raise LexiclassError("the text has no tokens (after lower-casing and stripping punctuation): "
                             f"{text[:80]!r}")
    try:  # the vectorizer's own standardize + split, before the vocabulary lookup
        words = [w.decode("utf-8") for w in predictor.vectorizer.layer._preprocess([text])[0].numpy()]
    except Exception:
        words = []
    vocabulary = predictor.vectorizer.vocabulary
    if len(words) != len(ids):  # fall back to the vocabulary's spelling
        words = [vocabulary[i] if i != OOV_ID else "[UNK]" for i in ids]
    kept = truncate(np.arange(len(ids)), predictor.config.sequence_length, predictor.config.truncation)
    return ids[kept].astype(np.int32), [words[i] for i in kept]


# --- attention -----------------------------------------------------------------------

def attention_scores(predictor, text: str) -> tuple[list[str], np.ndarray]:
    """(tokens, scores (heads, n, n)) for the n real tokens of ``text``; row i = how token i attends.

    Only for Transformer runs. Computed on a padded batch, and checked: every real token's
    weights sum to 1 over the real tokens, padding gets exactly zero weight.
    """
    model_name = predictor.config.model
    if model_name not in TRANSFORMER_MODELS:
        raise LexiclassError(f"attention maps need a Transformer run ({' or '.join(TRANSFORMER_MODELS)}); "
                             f"this run's model is {model_name!r}. Use token_importance() instead.")
    ids, tokens = model_tokens(predictor, text)
    n = len(ids)
    layer_names = {layer.name for layer in predictor.model.layers}
    embedding = predictor.model.get_layer("positional_embedding" if "positional_embedding" in layer_names
                                          else "embedding")
    encoder = predictor.model.get_layer("transformer_encoder")

    # Row 0: the text, padded; row 1: its first half, padded more. Positional embeddings
    # only know sequence_length positions, so the padding must not go past that.
    width = n + 4 if model_name == "transformer" else min(n + 4, predictor.config.sequence_length)
    half = max(1, n // 2)
    batch = np.zeros((2, width), dtype=np.int32)  # (2, width), 0 = padding
    batch[0, :n], batch[1, :half] = ids, ids[:half]
    x = embedding(batch)  # (2, width, embed_dim)
    mask = embedding.compute_mask(batch)  # (2, width) True on real tokens
    _, scores = encoder(x, mask=mask, return_attention_scores=True, training=False)
    scores = np.asarray(scores, dtype=np.float64)  # (2, heads, width, width)

    for row, length in ((0, n), (1, half)):
        real = scores[row, :, :length, :]  # (heads, length, width): queries that are real tokens
        if not (np.allclose(real[..., :length].sum(-1), 1.0, atol=1e-4) and np.abs(real[..., length:]).max(
                initial=0.0) < 1e-6):
            raise RuntimeError("attention weights do not ignore padding: the encoder's mask is not applied")
    return tokens, scores[0, :, :n, :n]  # (heads, n, n)


def strongest_pairs(tokens: list[str], scores: np.ndarray, top_k: int = 10, skip_self: bool = True) -> str:
    """Text: per head, the ``top_k`` largest weights as ``query -> key``; a token attending to itself is skipped."""
    heads, n, _ = scores.shape
    lines = []
    for h in range(heads):
        weights = scores[h].copy()  # (n, n)
        if skip_self and n > 1:
            np.fill_diagonal(weights, -np.inf)
        order = np.argsort(weights, axis=None)[::-1][:top_k]
        lines.append(f"head {h + 1}:")
        for flat in order:
            i, j = divmod(int(flat), n)
            lines.append(f"  {tokens[i]!s:>15} (#{i}) -> {tokens[j]!s:<15} (#{j})  {scores[h, i, j]:.3f}")
    return "\n".join(lines)


def attention_figure(tokens: list[str], scores: np.ndarray, max_tokens: int = 60, title: str = "self-attention"):
    """A matplotlib Figure: one heatmap per head (rows: attending token, columns: attended token)."""
    from matplotlib.figure import Figure  # object-oriented API: no pyplot state, renders with Agg

    heads, n, _ = scores.shape
    k = min(n, max_tokens)
    side = min(max(4.0, 0.16 * k + 1.5), 12.0)  # inches per head
    fig = Figure(figsize=(side * heads + 1.5, side + 1.0), layout="constrained")
    axes = fig.subplots(1, heads, squeeze=False)[0]
    font = 9 if k <= 25 else 7 if k <= 45 else 5.5
    for h, ax in enumerate(axes):
        image = ax.imshow(scores[h, :k, :k], cmap="viridis", interpolation="nearest")  # colours scaled per head
        ax.set_xticks(range(k), tokens[:k], rotation=90, fontsize=font)
        ax.set_yticks(range(k), tokens[:k], fontsize=font)
        ax.set_title(f"head {h + 1}")
        ax.set_xlabel("attended token (key)")
        if h == 0:
            ax.set_ylabel("attending token (query)")
        fig.colorbar(image, ax=ax, shrink=0.8)
    shown = f"all {n} tokens" if k == n else f"first {k} of {n} tokens"
    fig.suptitle(f"{title}: {heads} heads, {shown}")
    return fig


# --- token importance ----------------------------------------------------------------

def token_importance(predictor, text: str, target=None) -> tuple[list[str], np.ndarray]:
    """(tokens, importance (n,)): drop in P(target) when each token is hidden; target = predicted class by default.

    Sequence models: token i's id becomes the OOV id 1 (out-of-vocabulary tokens score 0).
    Bag-of-words models: word i (split on whitespace) is removed from the text.
    """
    from lexiclass.text.pipeline import to_probabilities

    if predictor.input_kind == "sequence":
        ids, tokens = model_tokens(predictor, text)
        n = len(ids)
        batch = np.tile(ids, (n + 1, 1))  # (n + 1, n): row 0 intact, row i + 1 hides token i
        batch[np.arange(1, n + 1), np.arange(n)] = OOV_ID
        probs = to_probabilities(predictor.model.predict(batch, batch_size=32, verbose=0))  # (n + 1, classes)
    else:
        tokens = text.split()
        if not tokens:
            raise LexiclassError(f"the text has no words: {text!r}")
        variants = [text] + [" ".join(tokens[:i] + tokens[i + 1:]) for i in range(len(tokens))]
        probs = predictor.predict_proba(variants)  # (n + 1, classes)
    if target is None:
        target = int(probs[0].argmax())
    elif isinstance(target, str):
        target = predictor.label_names.index(target)
    return tokens, probs[0, target] - probs[1:, target]  # (n,)


def _color(value: float, scale: float) -> str:
    alpha = 0.0 if scale == 0 else min(1.0, abs(value) / scale) * 0.85
    rgb = "34,160,70" if value > 0 else "215,48,39"  # green supports, red opposes
    return f"rgba({rgb},{alpha:.3f})"


def importance_html(tokens: list[str], importance: np.ndarray, title: str = "token importance") -> str:
    """A standalone HTML page: the tokens highlighted green (support the prediction) or red (against it)."""
    scale = float(np.abs(importance).max(initial=0.0))
    spans = " ".join(
        f'<span style="background:{_color(v, scale)}" title="{v:+.4f}">{html_lib.escape(t)}</span>'
        for t, v in zip(tokens, importance))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html_lib.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.9}"
        "span{padding:1px 2px;border-radius:3px}</style></head><body>\n"
        f"<h2>{html_lib.escape(title)}</h2>\n"
        "<p><span style=\"background:rgba(34,160,70,.6)\">green</span> tokens support the prediction, "
        "<span style=\"background:rgba(215,48,39,.6)\">red</span> ones argue against it; "
        f"darker = stronger (strongest: {scale:.4f}). Hover a token for its value.</p>\n"
        f"<p>{spans}</p>\n</body></html>\n"
    )


def importance_figure(tokens: list[str], importance: np.ndarray, top_k: int = 20, title: str = "token importance"):
    """A horizontal bar chart of the ``top_k`` tokens with the largest |importance|."""
    from matplotlib.figure import Figure

    order = np.argsort(-np.abs(importance), kind="stable")[:top_k][::-1]  # strongest at the top
    fig = Figure(figsize=(7, 0.3 * len(order) + 1.5))
    ax = fig.subplots()
    values = importance[order]
    ax.barh(range(len(order)), values, color=["#22a046" if v > 0 else "#d73027" for v in values])
    ax.set_yticks(range(len(order)), [f"{tokens[i]} (#{i})" for i in order], fontsize=8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("drop in predicted-class probability when the token is hidden")
    ax.set_title(f"{title}: top {len(order)} of {len(tokens)} tokens")
    return fig


# --- the CLI's report ------------------------------------------------------------------

def explain_to_files(run_dir, text: str, out="attention.png", html="importance.html", top_k: int = 10) -> str:
    """Write the attention PNG (Transformer runs), importance HTML and PNG; return a printable report."""
    from lexiclass.atomic import save_figure as atomic_save_figure, write_text as atomic_write_text

    predictor = _predictor(run_dir)
    if not text.strip():
        raise LexiclassError("nothing to explain: the text is empty")
    result = predictor.predict([text])[0]
    model_name = predictor.config.model
    probs = ", ".join(f"{k}={v:.4f}" for k, v in result["probabilities"].items())
    lines = [f"model: {model_name} ({predictor.run_dir})", f"prediction: {result['label']} ({probs})"]

    if model_name in TRANSFORMER_MODELS:
        tokens, scores = attention_scores(predictor, text)
        fig = attention_figure(tokens, scores, title=f"{model_name} self-attention")
        atomic_save_figure(fig, out)
        shown = "" if len(tokens) <= 60 else " (the figure shows the first 60)"
        lines += [f"attention: {scores.shape[0]} heads over {len(tokens)} tokens{shown} -> {out}",
                  f"strongest attention pairs (top {top_k} per head, a token attending to itself skipped):",
                  strongest_pairs(tokens, scores, top_k)]
    else:
        lines.append(f"attention: skipped ({model_name!r} has no attention layer; only Transformer runs do)")

    tokens, importance = token_importance(predictor, text, target=result["label"])
    how = "removing each word" if predictor.input_kind == "bow" else "replacing each token by the OOV id"
    html_path = Path(html)
    png_path = html_path.with_suffix(".png")
    if model_name in TRANSFORMER_MODELS and png_path.resolve() == Path(out).resolve():
        png_path = html_path.with_name(html_path.stem + "_importance.png")  # never overwrite the attention map
    title = f"{model_name}: why '{result['label']}'"
    atomic_write_text(html_path, importance_html(tokens, importance, title))
    atomic_save_figure(importance_figure(tokens, importance, top_k=max(top_k, 10), title=title), png_path)
    lines.append(f"token importance ({how}; drop in P({result['label']})) -> {html_path}, {png_path}")
    order = np.argsort(-importance, kind="stable")
    support = [f"{tokens[i]} {importance[i]:+.4f}" for i in order[:top_k] if importance[i] > 0]
    against = [f"{tokens[i]} {importance[i]:+.4f}" for i in order[::-1][:top_k] if importance[i] < 0]
    lines.append("  supports: " + (", ".join(support) or "(none)"))
    lines.append("  against:  " + (", ".join(against) or "(none)"))
    return "\n".join(lines)
