"""Training curves and confusion matrix figures people can read."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from lexiclass.training.metrics import (classification_metrics, confusion_matrix_figure, normalised_rows,
                                        training_curves_figure)

HISTORY = [{"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + 0.1 * e, "val_loss": 1.1 / e, "val_accuracy": 0.55 + 0.1 * e,
            "seconds": 1.0} for e in (1, 2, 3)]


def drawn(fig):
    FigureCanvasAgg(fig).draw()  # tick positions and layout are settled at draw time
    return fig


def has_data(ax) -> bool:
    lines = [line for line in ax.get_lines() if len(line.get_xdata())]
    texts = [text for text in ax.texts if text.get_text().strip()]
    return bool(lines or ax.patches or ax.images or texts)


def test_curve_ticks_are_whole_epochs_and_best_epoch_is_marked():
    fig = drawn(training_curves_figure(HISTORY, best_epoch=2))
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax in fig.axes:
        ticks = ax.get_xticks()
        assert len(ticks) and np.allclose(ticks, np.round(ticks)), ticks
        markers = [line for line in ax.get_lines() if line.get_label() == "best epoch (2)"]
        assert len(markers) == 1 and set(markers[0].get_xdata()) == {2}
        assert "best epoch (2)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_curves_without_best_epoch_still_work():
    fig = drawn(training_curves_figure(HISTORY))  # fit.py's older call
    assert all(not any("best epoch" in line.get_label() for line in ax.get_lines()) for ax in fig.axes)


def test_one_fit_history_has_no_empty_panels():
    fig = drawn(training_curves_figure([{"epoch": 1, "val_accuracy": 0.9215, "seconds": 600.0}], best_epoch=1))
    assert fig.axes and all(has_data(ax) for ax in fig.axes)
    assert "validation accuracy: 92.15%" in " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_only_panels_with_data_are_drawn():
    history = [{"epoch": e, "val_accuracy": 0.8 + e / 100, "loss": None} for e in (1, 2, 3)]
    fig = drawn(training_curves_figure(history))
    assert [ax.get_title() for ax in fig.axes] == ["accuracy"] and all(has_data(ax) for ax in fig.axes)


def metrics_for(matrix, labels):
    matrix = np.asarray(matrix)
    return {"confusion_matrix": matrix.tolist(), "labels": labels, "accuracy": np.trace(matrix) / matrix.sum(),
            "num_examples": int(matrix.sum())}


def test_confusion_matrix_counts_and_recall_side_by_side_in_the_runs_order():
    labels = ["10", "2", "1"]  # the run's class order: not sorted as text or as numbers
    matrix = [[5, 1, 0], [2, 6, 2], [0, 0, 0]]
    fig = drawn(confusion_matrix_figure(metrics_for(matrix, labels)))
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2
    counts, recall = (np.ma.filled(ax.images[0].get_array().astype(float), np.nan) for ax in panels)
    np.testing.assert_array_equal(counts, matrix)
    np.testing.assert_allclose(np.nansum(recall, axis=1)[:2], 1.0)
    assert np.isnan(recall[2]).all()  # a class without test examples: blank, not 0/0
    assert panels[1].images[0].get_clim() == (0.0, 1.0)
    for ax in panels:
        assert [t.get_text() for t in ax.get_yticklabels()] == labels
        assert [t.get_text() for t in ax.get_xticklabels()] == labels


def test_confusion_matrix_readable_with_many_long_names():
    labels = [f"a rather long class name number {i}" for i in range(30)]
    fig = drawn(confusion_matrix_figure(metrics_for(np.eye(30, dtype=int) * 7 + 1, labels)))
    ax = [ax for ax in fig.axes if ax.images][0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert len(names) == 30 and all(len(name) <= 22 for name in names) and names[0].endswith("\u2026")
    assert min(t.get_fontsize() for t in ax.get_yticklabels()) >= 7
    assert min(t.get_fontsize() for t in ax.texts) >= 6


def test_normalised_rows():
    np.testing.assert_allclose(normalised_rows(np.array([[1, 3], [0, 0]]))[0], [0.25, 0.75])
    assert np.isnan(normalised_rows(np.array([[1, 3], [0, 0]]))[1]).all()


@pytest.mark.parametrize("n", [2, 5])
def test_confusion_matrix_small(n):
    fig = drawn(confusion_matrix_figure(metrics_for(np.eye(n, dtype=int) * 3, [f"c{i}" for i in range(n)])))
    assert "100.00%" in fig._suptitle.get_text()


def test_expected_calibration_error_is_zero_when_confidence_matches_accuracy():
    from lexiclass.training.metrics import expected_calibration_error

    # 10 texts at confidence 0.8, 8 of them right: calibrated
    probs = np.tile([0.2, 0.8], (10, 1))
    labels = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(labels, probs) == pytest.approx(0.0)
    # overconfident: 0.99 while right half the time -> 0.49
    probs = np.tile([0.01, 0.99], (10, 1))
    labels = np.array([1] * 5 + [0] * 5)
    assert expected_calibration_error(labels, probs) == pytest.approx(0.49)
    # two bins, weighted by size: 4 texts at 0.6 all right (|1 - 0.6|), 6 at 0.9 half right (|0.5 - 0.9|)
    probs = np.array([[0.4, 0.6]] * 4 + [[0.1, 0.9]] * 6)
    labels = np.array([1] * 4 + [1, 1, 1, 0, 0, 0])
    assert expected_calibration_error(labels, probs) == pytest.approx(0.4 * 0.4 + 0.6 * 0.4)
    assert classification_metrics(labels, probs, ["a", "b"])["expected_calibration_error"] == pytest.approx(0.4)
