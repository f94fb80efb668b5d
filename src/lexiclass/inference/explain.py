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
- `label_occlusion`: the same for several labels at once, from the same model calls: a
  multi-label run explains each label it chose (`predicted_labels`) by the drop in that label's
  own probability (its labels are independent: a word can support one and argue against another).
- `attention_figure`, `strongest_pairs`, `importance_html`, `importance_figure`: views (`explain_views`).
- `explain_to_files`: all of the above for the CLI (``lexiclass explain``).
"""

from __future__ import annotations

import string
from itertools import islice
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.inference.explain_views import (ATTENTION_MAX_TOKENS, attention_figure, importance_figure,
                                               importance_html, strongest, strongest_pairs)
from lexiclass.models.thresholds import chosen_in_order
from lexiclass.precision import ATTENTION_SUM_TOLERANCE, tolerance
from lexiclass.text.batching import prediction_batches
from lexiclass.text.pipeline import prediction_lengths, to_probabilities

__all__ = ["ATTENTION_MAX_TOKENS", "MAX_EXPLAINED_LABELS", "LabelOcclusion", "Occlusion", "attention_figure",
           "attention_scores", "chosen_labels", "explain_to_files", "importance_figure", "importance_html",
           "label_occlusion", "model_tokens", "occlusion", "predicted_labels", "strongest_pairs", "token_importance"]

TRANSFORMER_MODELS = ("transformer", "positional-transformer")
OOV_ID = 1
OCCLUSION_BATCH = 64  # texts per predict_proba call: bounds memory whatever the text's length
SCREEN_BATCH = 256  # one-word texts per call when picking the words to measure (fewer batches: no progress bar)
MAX_OCCLUSIONS = 256  # hidden variants per bag-of-words text: each costs a pass over the whole text
MAX_EXPLAINED_LABELS = 3  # a multi-label text's chosen labels explained, most probable first
_importance_page = importance_html  # explain_to_files has a parameter of that name
EXPORT_KEEPS_NO_ATTENTION = "an ONNX export keeps no attention layers to read"
EXPORT_HAS_NO_ATTENTION = (EXPORT_KEEPS_NO_ATTENTION + "; its token importance is measured as a run's, and the "
                           "attention maps come from the run folder it was exported from: {run}")


def _predictor(predictor_or_run_dir):
    if hasattr(predictor_or_run_dir, "predict_proba"):
        return predictor_or_run_dir
    from lexiclass.inference.predictor import Predictor

    return Predictor.load(predictor_or_run_dir)


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

def has_attention(predictor) -> bool:
    """Whether `attention_scores` can read ``predictor``'s attention: a Transformer run's own Keras network
    (an ONNX export of one predicts through ONNX Runtime, which keeps no layers to look into)."""
    return predictor.config.model in TRANSFORMER_MODELS and not getattr(predictor, "exported", False)


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
    if getattr(predictor, "exported", False):
        raise LexiclassError(EXPORT_HAS_NO_ATTENTION.format(run=predictor.info.get("run_dir")))
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


# --- token importance ----------------------------------------------------------------

class Occlusion(NamedTuple):
    tokens: list[str]
    importance: np.ndarray  # (len(tokens),)
    method: str  # one line for the report: what was hidden, and how much of the text was measured


class LabelOcclusion(NamedTuple):
    tokens: list[str]
    labels: list[str]  # the labels explained, in order
    importance: np.ndarray  # (len(labels), len(tokens)): row j = drop in P(labels[j]) when each token is hidden
    method: str


def token_importance(predictor, text: str, target=None) -> tuple[list[str], np.ndarray]:
    """(tokens, importance (n,)): drop in P(target) when each token is hidden; target = predicted class by default
    (a multi-label run's: its most probable chosen label; `label_occlusion` explains each chosen label).

    Sequence models: token i's id becomes the OOV id 1 (out-of-vocabulary tokens score 0).
    Bag-of-words models: word i (split on whitespace) is removed from the text; see `occlusion`
    for long texts.
    """
    tokens, importance, _ = occlusion(predictor, text, target)
    return tokens, importance


def occlusion(predictor, text: str, target=None) -> Occlusion:
    """`token_importance` plus a sentence saying how it was measured."""
    found = label_occlusion(predictor, text, None if target is None else [target])
    return Occlusion(found.tokens, found.importance[0], found.method)


def label_occlusion(predictor, text: str, targets=None) -> LabelOcclusion:
    """Occlusion importance for several labels at once: every label's probability comes from the same model calls,
    so explaining three labels costs what explaining one does.

    ``targets``: label names or ids; None: the prediction's (`predicted_labels`): a single-label run's class, a
    multi-label run's chosen labels, most probable first (at most `MAX_EXPLAINED_LABELS`).
    """
    occlude = _occlude_ids if predictor.input_kind == "sequence" else _occlude_words
    return occlude(predictor, text, targets)


def chosen_labels(predictor, probs: np.ndarray) -> list[int]:
    """The label ids a multi-label run chooses for one text's ``probs`` (labels,), most probable first."""
    return chosen_in_order(np.asarray(probs)[None, :], predictor.thresholds)[0]


def predicted_labels(predictor, probs: np.ndarray, limit: int | None = None) -> list[int]:
    """The label ids an explanation of one text's ``probs`` (classes,) is about: the most probable class of a
    single-label run; a multi-label run's chosen labels, most probable first, at most ``limit`` of them (default
    `MAX_EXPLAINED_LABELS`; the most probable label if none reaches its threshold: why not is worth seeing too)."""
    if getattr(predictor, "thresholds", None) is None:
        return [int(np.argmax(probs))]
    limit = MAX_EXPLAINED_LABELS if limit is None else limit
    return chosen_labels(predictor, probs)[:limit] or [int(np.argmax(probs))]


def _target_indices(predictor, probs: np.ndarray, targets) -> list[int]:
    if targets is None:
        return predicted_labels(predictor, probs)
    return [predictor.label_names.index(t) if isinstance(t, str) else int(t) for t in targets]


def _explained(predictor, tokens, ts: list[int], importance: np.ndarray, method: str) -> LabelOcclusion:
    return LabelOcclusion(tokens, [predictor.label_names[t] for t in ts], importance, method)


def _occlude_ids(predictor, text: str, targets) -> LabelOcclusion:
    ids, tokens = model_tokens(predictor, text)  # n <= sequence_length: the batch is at most (L + 1, L)
    n = len(ids)
    batch = np.tile(ids, (n + 1, 1))  # (n + 1, n): row 0 intact, row i + 1 hides token i
    batch[np.arange(1, n + 1), np.arange(n)] = OOV_ID
    probs = _id_probabilities(predictor, batch)  # (n + 1, classes)
    ts = _target_indices(predictor, probs[0], targets)
    importance = probs[0, ts][:, None] - probs[1:, ts].T  # (targets, n)
    return _explained(predictor, tokens, ts, importance, "replacing each token by the OOV id")


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


def _occlude_words(predictor, text: str, targets) -> LabelOcclusion:
    tokens = text.split()
    if not tokens:
        raise LexiclassError(f"the text has no words: {text[:80]!r}")
    intact = predictor.predict_proba([text])[0]
    ts = _target_indices(predictor, intact, targets)
    n = len(tokens)
    if n <= MAX_OCCLUSIONS:  # short text: every occurrence on its own, the variants generated lazily
        variants = (" ".join(tokens[:i] + tokens[i + 1:]) for i in range(n))
        importance = intact[ts][:, None] - _batched_proba(predictor, variants, n)[:, ts].T  # (targets, n)
        return _explained(predictor, tokens, ts, importance, "removing each word")

    keys = [_word_key(token) for token in tokens]
    words = list(dict.fromkeys(keys))  # distinct, in order of first occurrence
    measured = _most_telling(predictor, words, ts)
    variants = (" ".join(tok for tok, key in zip(tokens, keys) if key != word) for word in measured)
    drops = dict(zip(measured, intact[ts] - _batched_proba(predictor, variants, len(measured))[:, ts]))
    unmeasured = np.zeros(len(ts))
    importance = np.array([drops.get(key, unmeasured) for key in keys]).T  # (targets, n)
    method = f"{n} words: removing every occurrence of each distinct word"
    if len(measured) < len(words):
        method += (f"; {len(measured)} of {len(words)} distinct words measured (those that move P alone the "
                   "most), the others show 0")
    return _explained(predictor, tokens, ts, importance, method)


def _most_telling(predictor, words: list[str], ts: list[int]) -> list[str]:
    """At most ``MAX_OCCLUSIONS`` words: those whose text alone moves P(a target) furthest from the empty text's."""
    if len(words) <= MAX_OCCLUSIONS:
        return words
    probs = _batched_proba(predictor, [""] + words, len(words) + 1, SCREEN_BATCH)[:, ts]  # one word each: cheap
    moves = np.abs(probs[1:] - probs[0]).max(axis=1)  # the furthest any target label moves
    order = np.argsort(-moves, kind="stable")[:MAX_OCCLUSIONS]
    return [words[i] for i in sorted(order)]


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
    runs) and the tokens for and against the prediction, then the files written. A multi-label
    run's prediction is explained per chosen label (at most `MAX_EXPLAINED_LABELS`, most probable
    first): tokens for and against each, one section of the HTML and one panel of the PNG each.
    """
    from lexiclass.atomic import save_figure, write_text

    outputs = _checked_outputs(attention_png=attention_png, importance_html=importance_html,
                               importance_png=importance_png)
    if not text.strip():
        raise LexiclassError("nothing to explain: the text is empty")
    predictor = _predictor(run_dir)
    probs = predictor.predict_proba([text])[0]
    model_name = predictor.config.model
    lines = [f"model: {model_name} ({predictor.run_dir})", *_prediction_lines(predictor, probs)]
    written = []
    lines += _attention_lines(predictor, text, outputs, top_k, written)

    found = label_occlusion(predictor, text, predicted_labels(predictor, probs))
    multi = getattr(predictor, "thresholds", None) is not None
    lines += _importance_lines(found, top_k, len(chosen_labels(predictor, probs)) if multi else None)
    labels = found.labels if multi else None
    title = f"{model_name}: why " + ", ".join(f"'{label}'" for label in found.labels)
    if "importance_html" in outputs:
        write_text(outputs["importance_html"], _importance_page(found.tokens, found.importance, title, labels))
        written.append(f"{outputs['importance_html']} (text shaded by importance"
                       + (f", a section per label: {len(found.labels)})" if multi else ")"))
    if "importance_png" in outputs:
        save_figure(importance_figure(found.tokens, found.importance, top_k=max(top_k, 10), title=title,
                                      labels=labels), outputs["importance_png"])
        written.append(f"{outputs['importance_png']} (strongest tokens"
                       + (f", a panel per label: {len(found.labels)})" if multi else ")"))
    lines.append("wrote: " + ("; ".join(written) if written else "nothing (no output file asked for)"))
    return "\n".join(lines)


REPORT_MAX_LABELS = 10  # a multi-label report lists the chosen labels and the most probable others, this many in all


def _prediction_lines(predictor, probs: np.ndarray) -> list[str]:
    """``prediction: ...``: the class and every probability; a multi-label run's chosen labels, each label's
    probability against its threshold (the chosen ones and the most probable others)."""
    names = predictor.label_names
    if getattr(predictor, "thresholds", None) is None:
        shown = ", ".join(f"{name}={p:.4f}" for name, p in zip(names, probs))
        return [f"prediction: {names[int(np.argmax(probs))]} ({shown})"]
    chosen = chosen_labels(predictor, probs)
    thresholds = predictor.thresholds["thresholds"]
    order = np.argsort(-probs, kind="stable")
    listed = chosen + [int(i) for i in order if i not in chosen][:max(0, REPORT_MAX_LABELS - len(chosen))]
    width = max(len(names[i]) for i in listed)
    lines = [f"prediction: {', '.join(names[i] for i in chosen) or '(no label over its threshold)'} "
             f"(multi-label: {len(chosen)} of {len(names)} labels; each label's probability against its threshold)"]
    for i in listed:
        sign = ">=" if probs[i] >= thresholds[i] else "<"
        mark = ("  chosen" if probs[i] >= thresholds[i] else "  chosen (the most probable: every text has a label)"
                ) if i in chosen else ""
        lines.append(f"  {names[i]:<{width}}  {probs[i]:.4f} {sign:<2} {thresholds[i]:g}{mark}")
    if len(listed) < len(names):
        lines.append(f"  ({len(names) - len(listed)} more labels under their thresholds)")
    return lines


def _attention_lines(predictor, text: str, outputs: dict, top_k: int, written: list[str]) -> list[str]:
    """A Transformer run's strongest attention pairs (and its heatmap, if asked for); other runs say it is skipped."""
    from lexiclass.atomic import save_figure

    model_name = predictor.config.model
    unwritten = f"; {outputs['attention_png']} not written" if "attention_png" in outputs else ""
    if model_name not in TRANSFORMER_MODELS:
        return [f"attention: skipped ({model_name!r} has no attention layer; only Transformer runs do)" + unwritten]
    if not has_attention(predictor):
        return ["attention: skipped (" + EXPORT_HAS_NO_ATTENTION.format(run=predictor.info.get("run_dir")) + ")"
                + unwritten]
    tokens, scores = attention_scores(predictor, text)
    if "attention_png" in outputs:
        save_figure(attention_figure(tokens, scores, title=f"{model_name} self-attention"), outputs["attention_png"])
        shown = min(len(tokens), ATTENTION_MAX_TOKENS)
        written.append(f"{outputs['attention_png']} (attention heatmap, {shown} of {len(tokens)} tokens)")
    return [f"attention: {scores.shape[0]} heads over {len(tokens)} tokens",
            f"strongest attention pairs (top {top_k} per head, a token attending to itself skipped):",
            strongest_pairs(tokens, scores, top_k)]


def _for_and_against(tokens: list[str], importance: np.ndarray, top_k: int, indent: str) -> list[str]:
    shown = 5e-5  # smaller values print as +0.0000: neither for nor against
    support = [f"{tokens[i]} {importance[i]:+.4f}" for i in strongest(tokens, importance, top_k)
               if importance[i] >= shown]
    against = [f"{tokens[i]} {importance[i]:+.4f}" for i in strongest(tokens, -importance, top_k)
               if importance[i] <= -shown]
    return [f"{indent}supports: " + (", ".join(support) or "(none)"),
            f"{indent}against:  " + (", ".join(against) or "(none)")]


def _importance_lines(found: LabelOcclusion, top_k: int, chosen: int | None) -> list[str]:
    """Tokens for and against the prediction; per explained label for a multi-label run (``chosen``: how many
    labels it chose, None for a single-label run)."""
    if chosen is None:
        label = found.labels[0]
        return [f"token importance ({found.method}; drop in P({label})):",
                *_for_and_against(found.tokens, found.importance[0], top_k, "  ")]
    if chosen == 0:
        which = "no label chosen: the most probable one"
    elif chosen > len(found.labels):
        which = f"the {len(found.labels)} most probable of {chosen} chosen labels"
    else:
        which = "each chosen label"
    lines = [f"token importance ({found.method}; {which}, by the drop in its own probability):"]
    for label, row in zip(found.labels, found.importance):
        lines += [f"  {label} (drop in P({label})):", *_for_and_against(found.tokens, row, top_k, "    ")]
    return lines
