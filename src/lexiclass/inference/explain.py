"""Why did a run predict what it did? Attention maps (Transformer runs) and token importance (every run).

- `attention_scores`: the encoder's self-attention weights for one text, read from the
  trained model's own layers (embedding -> encoder with ``return_attention_scores``), no retraining.
- `token_importance` (and `occlusion`, which also says how it measured): each token in
  turn is hidden (sequence models: its id becomes the out-of-vocabulary id 1; bag-of-words
  models: the word is removed from the text) and the drop in the predicted class's
  probability is that token's importance. Positive = the token supports the prediction,
  negative = it argues against it. Each hidden variant is the whole text again, so texts
  longer than `MAX_OCCLUSIONS` words hide distinct words instead (every occurrence at
  once), at most `MAX_OCCLUSIONS` of them, scored in batches of `OCCLUSION_BATCH`: time and
  memory grow with the text's length, not its square.
- `attention_figure`, `strongest_pairs`, `importance_html`, `importance_figure`: views.
- `explain_to_files`: all of the above for the CLI (``lexiclass explain``).
"""

from __future__ import annotations

import html as html_lib
import string
from itertools import islice
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.precision import ATTENTION_SUM_TOLERANCE, tolerance
from lexiclass.text.batching import prediction_batches
from lexiclass.text.pipeline import prediction_lengths, to_probabilities
from lexiclass.training.metrics import short_label

TRANSFORMER_MODELS = ("transformer", "positional-transformer")
OOV_ID = 1
ATTENTION_MAX_TOKENS = 40  # tokens per heatmap side: more would need labels under 8 pt
OCCLUSION_BATCH = 64  # texts per predict_proba call: bounds memory whatever the text's length
SCREEN_BATCH = 256  # one-word texts per call when picking the words to measure (fewer batches: no progress bar)
MAX_OCCLUSIONS = 256  # hidden variants per bag-of-words text: each costs a pass over the whole text
LABEL_CHARS = 15


def _predictor(predictor_or_run_dir):
    if hasattr(predictor_or_run_dir, "predict_proba"):
        return predictor_or_run_dir
    from lexiclass.inference.predictor import Predictor

    return Predictor.from_run_dir(predictor_or_run_dir)


def model_tokens(predictor, text: str) -> tuple[np.ndarray, list[str]]:
    """(ids (n,), tokens) exactly as a sequence model sees ``text``: standardized, split, truncated.

    Tokens are the text's own (lower-cased, punctuation-free) words, or its sub-word pieces
    for ``--tokenizer sentencepiece`` runs, so out-of-vocabulary tokens keep their spelling
    (the model sees id 1 for them).
    """
    from lexiclass.text.batching import truncate

    ids = predictor.vectorizer.token_ids([text])[0]  # (all tokens,)
    if len(ids) == 0:
        raise LexiclassError("the text has no tokens (after lower-casing and stripping punctuation): "
                             f"{text[:80]!r}")
    words = predictor.vectorizer.tokens(text)  # the vectorizer's own standardize + split, before the lookup
    kept = truncate(np.arange(len(ids)), predictor.config.sequence_length, predictor.config.truncation)
    return ids[kept].astype(np.int32), [words[i] for i in kept]


# --- attention -----------------------------------------------------------------------

def attention_scores(predictor, text: str) -> tuple[list[str], np.ndarray]:
    """(tokens, scores (heads, n, n)) for the n real tokens of ``text``; row i = how token i attends.

    Only for Transformer runs. Computed on a padded batch, and checked: every real token's
    weights sum to 1 over the real tokens (within the run's precision: bfloat16 rounds each
    weight to 8 bits), padding gets exactly zero weight.
    """

    model_name = predictor.config.model
    if model_name not in TRANSFORMER_MODELS:
        raise LexiclassError(f"attention maps need a Transformer run ({' or '.join(TRANSFORMER_MODELS)}); "
                             f"this run's model is {model_name!r}. Use token_importance() instead.")
    import keras  # the run's model is loaded, so Keras is too: deferred with it

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
    # any backend's tensor (a PyTorch one still tracks gradients, which np.asarray refuses)
    scores = keras.ops.convert_to_numpy(scores).astype(np.float64)  # (2, heads, width, width)

    atol = tolerance(ATTENTION_SUM_TOLERANCE, predictor.config.precision)
    for row, length in ((0, n), (1, half)):
        real = scores[row, :, :length, :]  # (heads, length, width): queries that are real tokens
        if np.abs(real[..., length:]).max(initial=0.0) >= 1e-6:
            raise RuntimeError("attention weights do not ignore padding: the encoder's mask is not applied")
        sums = real[..., :length].sum(-1)  # (heads, length)
        if not np.allclose(sums, 1.0, atol=atol):
            raise RuntimeError(f"attention rows sum to {sums.min():.4f}..{sums.max():.4f}, not 1 within {atol:g} "
                               f"({predictor.config.precision}): the encoder's softmax is not what it should be")
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


def attention_figure(tokens: list[str], scores: np.ndarray, max_tokens: int = ATTENTION_MAX_TOKENS,
                     title: str = "self-attention", scale: str = "shared"):
    """A matplotlib Figure: one heatmap per head (rows: attending token, columns: attended token).

    Every head uses one colour scale, 0 to the largest weight shown (``scale="shared"``) or
    0 to 1 (``scale="fixed"``), with one colour bar: nearly uniform attention looks uniform
    instead of being stretched into a pattern. Only the first ``max_tokens`` tokens are drawn,
    so that their labels stay at 8 pt or more; the title says how many are shown.
    """
    from matplotlib.figure import Figure  # object-oriented API: no pyplot state, renders with Agg

    if scale not in ("shared", "fixed"):
        raise LexiclassError(f"scale must be 'shared' or 'fixed', not {scale!r}")
    heads, n, _ = scores.shape
    k = min(n, max_tokens)
    shown = scores[:, :k, :k]
    vmax = 1.0 if scale == "fixed" else float(shown.max(initial=0.0)) or 1.0
    cols = min(heads, 2 if k > 20 else 4)
    rows = -(-heads // cols)
    side = max(3.5, 0.17 * k + 1.3)  # inches per head: about 12 pt per token row
    font = 9 if k <= 25 else 8
    labels = [short_label(t, LABEL_CHARS) for t in tokens[:k]]
    fig = Figure(figsize=(side * cols + 1.2, side * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[heads:]:
        fig.delaxes(ax)  # a grid with more cells than heads: no empty panels
    for h, ax in enumerate(axes[:heads]):
        image = ax.imshow(shown[h], cmap="viridis", vmin=0.0, vmax=vmax, interpolation="nearest")
        ax.set_xticks(range(k), labels, rotation=90, fontsize=font)
        ax.set_yticks(range(k), labels, fontsize=font)
        ax.set_title(f"head {h + 1}")
        if h // cols == rows - 1 or h + cols >= heads:
            ax.set_xlabel("attended token (key)")
        if h % cols == 0:
            ax.set_ylabel("attending token (query)")
    fig.colorbar(image, ax=list(axes[:heads]), shrink=0.8, label="attention weight")
    how_many = f"all {n} tokens" if k == n else f"first {k} of {n} tokens"
    fig.suptitle(f"{title}: {heads} heads, {how_many}; one colour scale, 0 to {vmax:.3g}")
    return fig


# --- token importance ----------------------------------------------------------------

class Occlusion(NamedTuple):
    tokens: list[str]
    importance: np.ndarray  # (len(tokens),)
    method: str  # one line for the report: what was hidden, and how much of the text was measured


def token_importance(predictor, text: str, target=None) -> tuple[list[str], np.ndarray]:
    """(tokens, importance (n,)): drop in P(target) when each token is hidden; target = predicted class by default.

    Sequence models: token i's id becomes the OOV id 1 (out-of-vocabulary tokens score 0).
    Bag-of-words models: word i (split on whitespace) is removed from the text; see `occlusion`
    for long texts.
    """
    tokens, importance, _ = occlusion(predictor, text, target)
    return tokens, importance


def occlusion(predictor, text: str, target=None) -> Occlusion:
    """`token_importance` plus a sentence saying how it was measured."""
    if predictor.input_kind == "sequence":
        return _occlude_ids(predictor, text, target)
    return _occlude_words(predictor, text, target)


def _target_index(predictor, probs: np.ndarray, target) -> int:
    if target is None:
        return int(probs.argmax())
    return predictor.label_names.index(target) if isinstance(target, str) else int(target)


def _occlude_ids(predictor, text: str, target) -> Occlusion:
    ids, tokens = model_tokens(predictor, text)  # n <= sequence_length: the batch is at most (L + 1, L)
    n = len(ids)
    batch = np.tile(ids, (n + 1, 1))  # (n + 1, n): row 0 intact, row i + 1 hides token i
    batch[np.arange(1, n + 1), np.arange(n)] = OOV_ID
    probs = _id_probabilities(predictor, batch)  # (n + 1, classes)
    t = _target_index(predictor, probs[0], target)
    return Occlusion(tokens, probs[0, t] - probs[1:, t], "replacing each token by the OOV id")


def _id_probabilities(predictor, rows: np.ndarray) -> np.ndarray:
    """(len(rows), classes) probabilities of token-id rows, in batches padded like prediction's.

    Padded to the prediction ladders (`lexiclass.text.batching.prediction_batches`), texts of
    every length reuse the few shapes that prediction traces, instead of tracing (and keeping)
    one per token count: a server explaining many texts keeps a bounded memory. Padding is
    inert: the same numbers within 1e-5.
    """
    config = predictor.config
    probs = np.empty((len(rows), len(predictor.label_names)))
    for idx, x in prediction_batches(list(rows), config.batch_size, prediction_lengths(config)):
        probs[idx] = to_probabilities(np.asarray(predictor.model.predict_on_batch(x))[:len(idx)])
    return probs


def _batched_proba(predictor, texts, count: int, batch: int = OCCLUSION_BATCH) -> np.ndarray:
    """(count, classes) probabilities of an iterable of texts, ``batch`` texts at a time."""
    texts = iter(texts)
    parts = [predictor.predict_proba(list(islice(texts, batch))) for _ in range(-(-count // batch))]
    return np.concatenate(parts) if parts else np.zeros((0, len(predictor.label_names)))


def _word_key(token: str) -> str:
    """Occurrences of one word: "Great," and "great" are hidden together."""
    return token.lower().strip(string.punctuation) or token


def _occlude_words(predictor, text: str, target) -> Occlusion:
    tokens = text.split()
    if not tokens:
        raise LexiclassError(f"the text has no words: {text[:80]!r}")
    intact = predictor.predict_proba([text])[0]
    t = _target_index(predictor, intact, target)
    n = len(tokens)
    if n <= MAX_OCCLUSIONS:  # short text: every occurrence on its own, the variants generated lazily
        variants = (" ".join(tokens[:i] + tokens[i + 1:]) for i in range(n))
        return Occlusion(tokens, intact[t] - _batched_proba(predictor, variants, n)[:, t], "removing each word")

    keys = [_word_key(token) for token in tokens]
    words = list(dict.fromkeys(keys))  # distinct, in order of first occurrence
    measured = _most_telling(predictor, words, t)
    variants = (" ".join(tok for tok, key in zip(tokens, keys) if key != word) for word in measured)
    drops = dict(zip(measured, intact[t] - _batched_proba(predictor, variants, len(measured))[:, t]))
    importance = np.array([drops.get(key, 0.0) for key in keys])
    method = f"{n} words: removing every occurrence of each distinct word"
    if len(measured) < len(words):
        method += (f"; {len(measured)} of {len(words)} distinct words measured (those that move P alone the "
                   "most), the others show 0")
    return Occlusion(tokens, importance, method)


def _most_telling(predictor, words: list[str], t: int) -> list[str]:
    """At most ``MAX_OCCLUSIONS`` words: those whose text alone moves P(target) furthest from the empty text's."""
    if len(words) <= MAX_OCCLUSIONS:
        return words
    probs = _batched_proba(predictor, [""] + words, len(words) + 1, SCREEN_BATCH)[:, t]  # one word each: cheap
    order = np.argsort(-np.abs(probs[1:] - probs[0]), kind="stable")[:MAX_OCCLUSIONS]
    return [words[i] for i in sorted(order)]


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


_importance_page = importance_html  # explain_to_files has a parameter of that name


def _strongest(tokens: list[str], values: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` largest ``values``, one per (word, value): a word hidden with all its
    occurrences scores the same everywhere and should be listed once."""
    picked, seen = [], set()
    for i in np.argsort(-values, kind="stable"):
        key = (tokens[i].lower(), round(float(values[i]), 6))
        if key not in seen:
            seen.add(key)
            picked.append(int(i))
            if len(picked) == k:
                break
    return picked


def importance_figure(tokens: list[str], importance: np.ndarray, top_k: int = 20, title: str = "token importance"):
    """A horizontal bar chart of the ``top_k`` tokens with the largest |importance|."""
    from matplotlib.figure import Figure

    order = _strongest(tokens, np.abs(importance), top_k)[::-1]  # strongest at the top
    fig = Figure(figsize=(7, 0.3 * len(order) + 1.5), layout="constrained")
    ax = fig.subplots()
    values = importance[order]
    ax.barh(range(len(order)), values, color=["#22a046" if v > 0 else "#d73027" for v in values])
    ax.set_yticks(range(len(order)), [f"{short_label(tokens[i], 25)} (#{i})" for i in order], fontsize=9)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("drop in predicted-class probability when the token is hidden")
    ax.set_title(f"{title}: top {len(order)} of {len(tokens)} tokens")
    return fig


# --- the CLI's report ------------------------------------------------------------------

OUTPUT_NAMES = {"attention_png": "attention PNG", "importance_html": "importance HTML",
                "importance_png": "importance PNG"}


def _checked_outputs(**paths) -> dict[str, Path]:
    """The output paths that were given, checked before any work: each must be a new or existing
    file in an existing folder, and no two may be the same file (one would overwrite the other)."""
    given = {name: Path(path) for name, path in paths.items() if path is not None}
    for name, path in given.items():
        if path.is_dir():
            raise LexiclassError(f"{OUTPUT_NAMES[name]} {path} is a folder; give a file name")
        if not path.parent.is_dir():
            raise LexiclassError(f"{OUTPUT_NAMES[name]} {path}: folder {path.parent} does not exist")
    seen = {}
    for name, path in given.items():
        other = seen.setdefault(path.resolve(), name)
        if other != name:
            raise LexiclassError(f"{OUTPUT_NAMES[other]} and {OUTPUT_NAMES[name]} are the same file ({path}); "
                                 "give two names")
    return given


def explain_to_files(run_dir, text: str, attention_png=None, importance_html=None, importance_png=None,
                     top_k: int = 10) -> str:
    """Explain one prediction; write exactly the files given (None = not written); return the printable report.

    attention_png: heatmap of every head (Transformer runs; other runs skip it and say so),
    importance_html: the text with tokens shaded by importance, importance_png: bar chart of
    the strongest tokens. The report always lists the strongest attention pairs (Transformer
    runs) and the tokens for and against the prediction, then the files written.
    """
    from lexiclass.atomic import save_figure, write_text

    outputs = _checked_outputs(attention_png=attention_png, importance_html=importance_html,
                               importance_png=importance_png)
    if not text.strip():
        raise LexiclassError("nothing to explain: the text is empty")
    predictor = _predictor(run_dir)
    result = predictor.predict([text])[0]
    model_name, label = predictor.config.model, result["label"]
    probs = ", ".join(f"{k}={v:.4f}" for k, v in result["probabilities"].items())
    lines = [f"model: {model_name} ({predictor.run_dir})", f"prediction: {label} ({probs})"]
    written = []

    if model_name in TRANSFORMER_MODELS:
        tokens, scores = attention_scores(predictor, text)
        lines += [f"attention: {scores.shape[0]} heads over {len(tokens)} tokens",
                  f"strongest attention pairs (top {top_k} per head, a token attending to itself skipped):",
                  strongest_pairs(tokens, scores, top_k)]
        if "attention_png" in outputs:
            save_figure(attention_figure(tokens, scores, title=f"{model_name} self-attention"),
                        outputs["attention_png"])
            shown = min(len(tokens), ATTENTION_MAX_TOKENS)
            written.append(f"{outputs['attention_png']} (attention heatmap, {shown} of {len(tokens)} tokens)")
    else:
        unwritten = f"; {outputs['attention_png']} not written" if "attention_png" in outputs else ""
        lines.append(f"attention: skipped ({model_name!r} has no attention layer; only Transformer runs do)"
                     + unwritten)

    tokens, importance, method = occlusion(predictor, text, target=label)
    lines.append(f"token importance ({method}; drop in P({label})):")
    shown = 5e-5  # smaller values print as +0.0000: neither for nor against
    support = [f"{tokens[i]} {importance[i]:+.4f}" for i in _strongest(tokens, importance, top_k)
               if importance[i] >= shown]
    against = [f"{tokens[i]} {importance[i]:+.4f}" for i in _strongest(tokens, -importance, top_k)
               if importance[i] <= -shown]
    lines.append("  supports: " + (", ".join(support) or "(none)"))
    lines.append("  against:  " + (", ".join(against) or "(none)"))

    title = f"{model_name}: why '{label}'"
    if "importance_html" in outputs:
        write_text(outputs["importance_html"], _importance_page(tokens, importance, title))
        written.append(f"{outputs['importance_html']} (text shaded by importance)")
    if "importance_png" in outputs:
        save_figure(importance_figure(tokens, importance, top_k=max(top_k, 10), title=title),
                    outputs["importance_png"])
        written.append(f"{outputs['importance_png']} (strongest tokens)")
    lines.append("wrote: " + ("; ".join(written) if written else "nothing (no output file asked for)"))
    return "\n".join(lines)
