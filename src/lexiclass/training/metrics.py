"""Test metrics and plots: accuracy, precision, recall, F1, confusion matrix, training curves."""

from __future__ import annotations

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.models.calibration import expected_calibration_error


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, label_names: list[str]) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = np.asarray(labels)
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=classes,
                                                                     zero_division=0)
    macro = precision_recall_fscore_support(labels, predicted, labels=classes, average="macro", zero_division=0)
    return {
        "num_examples": int(len(labels)),
        "accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
        "macro_precision": float(macro[0]),
        "macro_recall": float(macro[1]),
        "macro_f1": float(macro[2]),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(label_names, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),  # rows: true, cols: predicted
        "labels": list(label_names),
        "expected_calibration_error": expected_calibration_error(labels, probabilities),
    }


def multi_label_metrics(labels: np.ndarray, probabilities: np.ndarray, label_names: list[str],
                        thresholds: dict) -> dict:
    """Multi-label scores of the decisions ``thresholds`` make: micro/macro precision, recall and F1, subset
    accuracy (every label of a text right; also stored as ``accuracy``), Hamming loss, and per label."""
    from sklearn.metrics import precision_recall_fscore_support

    from lexiclass.models.thresholds import decide

    labels = np.asarray(labels).astype(bool)
    chosen = decide(probabilities, thresholds)
    per_label = precision_recall_fscore_support(labels, chosen, zero_division=0)
    micro = precision_recall_fscore_support(labels, chosen, average="micro", zero_division=0)
    macro = precision_recall_fscore_support(labels, chosen, average="macro", zero_division=0)
    subset = float((chosen == labels).all(axis=1).mean()) if len(labels) else 0.0
    return {
        "num_examples": int(len(labels)), "multi_label": True, "accuracy": subset, "subset_accuracy": subset,
        "hamming_loss": float((chosen != labels).mean()) if len(labels) else 0.0,
        "micro_precision": float(micro[0]), "micro_recall": float(micro[1]), "micro_f1": float(micro[2]),
        "macro_precision": float(macro[0]), "macro_recall": float(macro[1]), "macro_f1": float(macro[2]),
        "label_cardinality": float(labels.sum(axis=1).mean()) if len(labels) else 0.0,
        "predicted_cardinality": float(chosen.sum(axis=1).mean()) if len(labels) else 0.0,
        "per_label": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n), "threshold": t}
            for name, p, r, f, n, t in zip(label_names, *per_label, thresholds["thresholds"])
        },
        "labels": list(label_names),
        "threshold_rule": thresholds.get("rule"),
    }


def _test_targets(data, label_names: list[str]) -> np.ndarray:
    """The test split's labels in the run's class order: (n,) class ids, or (n, L) 0/1 for multi-label data."""
    run_ids = {name: i for i, name in enumerate(label_names)}
    unknown = [name for name in data.label_names if name not in run_ids]
    if unknown:
        raise LexiclassError(f"the dataset's classes {unknown} are not among the run's {list(label_names)}")
    test = np.asarray(data.test_labels)
    if test.ndim == 2:
        targets = np.zeros((len(test), len(label_names)), dtype=np.uint8)
        targets[:, [run_ids[name] for name in data.label_names]] = test
        return targets
    return np.asarray([run_ids[data.label_names[y]] for y in test], dtype=np.int64)


def score_test_split(model, label_names: list[str], data, chunk: int = 1024, thresholds: dict | None = None) -> dict:
    """Metrics of ``model`` (anything with ``predict_proba(texts)``: a TextClassifier, a Predictor) on
    ``data``'s test split, with progress; multi-label runs pass their ``thresholds``.

    The dataset's classes must be among the run's (``label_names``); they are matched by name, so a test
    file with only some of the classes (or listing them in another order) scores correctly.
    """
    from lexiclass.progress import muted, progress

    labels = _test_targets(data, label_names)
    if (labels.ndim == 2) != (thresholds is not None):
        raise LexiclassError("the dataset is multi-label and the run is not, or the other way round: "
                             "score a run on data of its own kind")
    texts = data.test_texts
    parts = []
    with progress(total=len(texts), desc="scoring the test split", unit="text") as bar:
        for start in range(0, len(texts), chunk):
            with muted():  # this bar covers the model's own per-chunk "predicting" bar
                parts.append(model.predict_proba(texts[start:start + chunk]))
            bar.update(len(parts[-1]))
    probabilities = np.concatenate(parts) if parts else np.zeros((0, len(label_names)))
    if thresholds is not None:
        return multi_label_metrics(labels, probabilities, list(label_names), thresholds)
    return classification_metrics(labels, probabilities, list(label_names))


CURVES = (("loss", "loss"), ("accuracy", "accuracy"))  # (history key, panel title)
MAX_LABEL_CHARS = 22


def _series(history: list[dict], key: str) -> list[float]:
    """One value per row; NaN where the row lacks it (matplotlib leaves a gap)."""
    values = []
    for row in history:
        try:
            values.append(float(row.get(key)))
        except (TypeError, ValueError):  # missing, None or "" (a row read back from history.csv)
            values.append(np.nan)
    return values


def _curves(history: list[dict]) -> dict[str, dict[str, list[float]]]:
    """{panel: {"train"|"validation": values}} for the panels and series that have at least one number."""
    panels = {}
    for key, title in CURVES:
        series = {name: _series(history, prefix + key) for name, prefix in (("train", ""), ("validation", "val_"))}
        series = {name: values for name, values in series.items() if not np.isnan(values).all()}
        if series:
            panels[title] = series
    return panels


def training_curves_figure(history: list[dict], best_epoch: int | None = None):
    """Loss and accuracy per epoch, train vs validation; only panels with data; the best epoch marked.

    A history of one row (n-gram runs: one fit, no epochs) has no curve to draw, so the
    figure says its numbers in words instead of showing a lone dot.
    """
    from matplotlib.figure import Figure  # object-oriented API: no pyplot registry keeping every figure alive
    from matplotlib.ticker import MaxNLocator

    panels = _curves(history)
    if len(history) <= 1 or not panels:
        return _summary_figure(history, panels)
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    fig = Figure(figsize=(5 * len(panels), 4), layout="constrained")
    for ax, (title, series) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        for (name, values), marker in zip(series.items(), ("o-", "s-")):
            ax.plot(epochs, values, marker, label=f"{name} {title}")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers: no 0.5, 1.25 ticks
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def _summary_figure(history: list[dict], panels: dict):
    """A small figure stating a one-row history in words (one fit has no curve)."""
    from matplotlib.figure import Figure

    lines = ["one fit, no epochs to plot" if len(history) == 1 else "no training history recorded"]
    for title, series in panels.items():
        for name, values in series.items():
            value = values[-1]
            shown = f"{value:.2%}" if title == "accuracy" else f"{value:.4f}"
            lines.append(f"{name} {title}: {shown}")
    fig = Figure(figsize=(5, 0.4 * len(lines) + 0.8))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "\n".join(lines), ha="center", va="center", fontsize=12, transform=ax.transAxes)
    ax.set_title("training")
    return fig


def short_label(name, limit: int = MAX_LABEL_CHARS) -> str:
    """``name`` as a plot label of at most ``limit`` characters (an ellipsis marks a cut)."""
    name = str(name)
    return name if len(name) <= limit else name[:limit - 1] + "\u2026"


def normalised_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its total (recall per true class); rows without examples are NaN (drawn blank)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / np.where(totals > 0, totals, 1), np.nan)


def confusion_matrix_figure(metrics: dict):
    """Counts and the row-normalised matrix (recall per true class) side by side, classes in the run's order."""
    from matplotlib.figure import Figure

    counts = np.asarray(metrics["confusion_matrix"])
    names = [short_label(name) for name in metrics["labels"]]  # the run's class order: never re-sorted
    n = len(names)
    side = float(np.clip(1.5 + 0.45 * n, 4.0, 14.0))  # inches per panel: cells stay legible up to ~30 classes
    font = 10 if n <= 8 else 8 if n <= 16 else 7
    fig = Figure(figsize=(2 * side + 1.5, side + 0.6), layout="constrained")
    fig.get_layout_engine().set(wspace=0.08)  # room between the first colour bar and the second panel's labels
    count_ax, recall_ax = fig.subplots(1, 2)
    _matrix_panel(fig, count_ax, counts, names, font, "counts", "{:d}", vmax=max(int(counts.max(initial=0)), 1))
    _matrix_panel(fig, recall_ax, normalised_rows(counts), names, font, "row-normalised (recall per true class)",
                  "{:.2f}", vmax=1.0)
    examples = metrics.get("num_examples", int(counts.sum()))
    fig.suptitle(f"test accuracy {metrics['accuracy']:.2%} on {examples} examples")
    return fig


def per_label_figure(metrics: dict):
    """Multi-label runs: precision, recall and F1 of every label as horizontal bars, with each label's support."""
    from matplotlib.figure import Figure

    names = metrics["labels"]
    rows = [metrics["per_label"][name] for name in names]
    fig = Figure(figsize=(8, float(np.clip(1.2 + 0.32 * len(names), 3.0, 40.0))), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))
    for offset, key in ((-0.27, "precision"), (0.0, "recall"), (0.27, "f1")):
        ax.barh(y + offset, [row[key] for row in rows], height=0.26, label=key)
    ax.set_yticks(y, [f"{short_label(name)} ({row['support']})" for name, row in zip(names, rows)], fontsize=8)
    ax.invert_yaxis()  # the run's label order, top to bottom
    ax.set_xlim(0, 1)
    ax.set_xlabel("score on the test split (support in brackets)")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"micro-F1 {metrics['micro_f1']:.3f}, macro-F1 {metrics['macro_f1']:.3f}, subset accuracy "
                 f"{metrics['subset_accuracy']:.2%} on {metrics['num_examples']} examples")
    return fig


def _matrix_panel(fig, ax, matrix, names, font, title, fmt, vmax):
    from matplotlib.ticker import MaxNLocator

    n = len(names)
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax, interpolation="nearest")
    counts = fmt == "{:d}"
    bar = fig.colorbar(image, ax=ax, shrink=0.8, label="examples" if counts else "fraction of the true class")
    if counts:
        bar.locator = MaxNLocator(integer=True)  # no 2.5 examples
        bar.update_ticks()
    ax.set_xticks(range(n), names, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize=font)
    ax.set_yticks(range(n), names, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for (i, j), value in np.ndenumerate(matrix):
        if np.isnan(value):
            continue
        dark = value > vmax / 2  # white text on the dark half of the colour map
        ax.text(j, i, fmt.format(int(value) if counts else value), ha="center", va="center",
                fontsize=font - 1, color="white" if dark else "black")
