"""Views of an explanation: attention heatmaps and pairs, and token importance as shaded HTML and bar charts.

Token importance comes as one row per explained label: (n,) for one label (a single-label run's
predicted class), or (k, n) with ``labels`` naming the k rows (a multi-label run's chosen labels),
which gives one section of the page, or one panel of the chart, per label.
"""

from __future__ import annotations

import html as html_lib

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.training.metrics import short_label

ATTENTION_MAX_TOKENS = 40  # tokens per heatmap side: more would need labels under 8 pt
LABEL_CHARS = 15


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



# --- token importance ------------------------------------------------------------

def importance_rows(importance, labels=None) -> tuple[np.ndarray, list[str | None]]:
    """``importance`` as (k, n) rows with their k label names (None: one unnamed row, "the prediction")."""
    rows = np.atleast_2d(np.asarray(importance, dtype=np.float64))
    names = [None] * len(rows) if labels is None else [str(name) for name in labels]
    if len(names) != len(rows):
        raise LexiclassError(f"{len(rows)} importance rows for {len(names)} labels")
    return rows, names


def _color(value: float, scale: float) -> str:
    alpha = 0.0 if scale == 0 else min(1.0, abs(value) / scale) * 0.85
    rgb = "34,160,70" if value > 0 else "215,48,39"  # green supports, red opposes
    return f"rgba({rgb},{alpha:.3f})"


def _shaded(tokens: list[str], importance: np.ndarray) -> tuple[str, float]:
    """The tokens as HTML spans shaded by ``importance`` (n,), and the scale (largest |importance|)."""
    scale = float(np.abs(importance).max(initial=0.0))
    spans = " ".join(
        f'<span style="background:{_color(v, scale)}" title="{v:+.4f}">{html_lib.escape(t)}</span>'
        for t, v in zip(tokens, importance))
    return spans, scale


def importance_html(tokens: list[str], importance: np.ndarray, title: str = "token importance",
                    labels: list[str] | None = None) -> str:
    """A standalone HTML page: the tokens highlighted green (support the prediction) or red (against it).

    ``importance`` (k, n) with ``labels`` (k names): one section per label, each shaded on its own scale
    (green supports that label, red argues against it).
    """
    rows, names = importance_rows(importance, labels)
    sections = []
    for name, row in zip(names, rows):
        spans, scale = _shaded(tokens, row)
        what = "the prediction" if name is None else f"&ldquo;{html_lib.escape(name)}&rdquo;"
        heading = "" if name is None else f"<h3>{html_lib.escape(name)}</h3>\n"
        sections.append(
            f"{heading}<p class=\"legend\"><span style=\"background:rgba(34,160,70,.6)\">green</span> tokens support "
            f"{what}, <span style=\"background:rgba(215,48,39,.6)\">red</span> ones argue against it; "
            f"darker = stronger (strongest: {scale:.4f}). Hover a token for its value.</p>\n<p>{spans}</p>\n")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html_lib.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.9}"
        "span{padding:1px 2px;border-radius:3px}</style></head><body>\n"
        f"<h2>{html_lib.escape(title)}</h2>\n" + "".join(sections) + "</body></html>\n"
    )


def strongest(tokens: list[str], values: np.ndarray, k: int) -> list[int]:
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


def importance_figure(tokens: list[str], importance: np.ndarray, top_k: int = 20, title: str = "token importance",
                      labels: list[str] | None = None):
    """A horizontal bar chart of the ``top_k`` tokens with the largest |importance|; ``importance`` (k, n)
    with ``labels``: one panel per label, its own tokens, stacked."""
    from matplotlib.figure import Figure

    rows, names = importance_rows(importance, labels)
    orders = [strongest(tokens, np.abs(row), top_k)[::-1] for row in rows]  # strongest at the top
    height = sum(0.3 * len(order) + 1.1 for order in orders) + 0.4
    fig = Figure(figsize=(7, height), layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False, height_ratios=[len(o) + 3 for o in orders]).ravel()
    for ax, name, row, order in zip(axes, names, rows, orders):
        values = row[order]
        ax.barh(range(len(order)), values, color=["#22a046" if v > 0 else "#d73027" for v in values])
        ax.set_yticks(range(len(order)), [f"{short_label(tokens[i], 25)} (#{i})" for i in order], fontsize=9)
        ax.axvline(0.0, color="black", linewidth=0.8)
        what = "predicted-class probability" if name is None else f"P({short_label(name, 30)})"
        ax.set_xlabel(f"drop in {what} when the token is hidden")
        ax.set_title(f"{title}: top {len(order)} of {len(tokens)} tokens" if name is None
                     else f"{short_label(name, 30)}: top {len(order)} of {len(tokens)} tokens")
    if names[0] is not None:
        fig.suptitle(title)
    return fig
