"""Progress written to a file or a pipe: plain whole lines, no terminal escapes, honest rates."""

from __future__ import annotations

import io
import types

import pytest

from lexiclass import progress as progress_module
from lexiclass.progress import muted, progress


@pytest.fixture
def log(monkeypatch):
    """stderr as a file (not a terminal), progress on, a line at every update."""
    stream = io.StringIO()
    # the module's own `sys`: pytest puts its capture back on the real sys.stderr when the test starts
    monkeypatch.setattr(progress_module, "sys", types.SimpleNamespace(stderr=stream))
    monkeypatch.setitem(progress_module._state, "enabled", True)
    monkeypatch.setitem(progress_module._state, "interval", 0.0)
    return stream


def test_nested_bars_in_a_log_are_plain_lines(log):
    with progress(total=2, desc="outer") as outer:
        for _ in range(2):
            with progress(total=3, desc="inner", position=1) as inner:
                for _ in range(3):
                    inner.update(1)
            outer.update(1)
    text = log.getvalue()
    assert "\x1b" not in text and "\r" not in text  # no cursor moves, no redraws
    lines = text.splitlines()
    assert any(line.startswith("outer: 100%") for line in lines), lines
    assert any(line.startswith("inner: 100%") for line in lines), lines
    assert all(line == line.strip() and line for line in lines)


def test_a_log_reports_the_average_rate_not_the_last_burst(log):
    bar = progress(total=10, desc="epochs")
    assert bar.smoothing == 0  # tqdm: 0 means the average over the whole run
    bar.close()


def test_muted_hides_the_inner_bars_and_keeps_the_outer_one(log):
    with progress(total=2, desc="outer") as outer:
        for _ in range(2):
            with muted():
                with progress(total=3, desc="inner") as inner:  # a model's own per-call bar
                    inner.update(3)
            outer.update(1)
    lines = log.getvalue().splitlines()
    assert any(line.startswith("outer: 100%") for line in lines), lines
    assert not any(line.startswith("inner") for line in lines), lines
    with progress(total=1, desc="after") as after:  # muted() leaves progress as it found it
        after.update(1)
    assert log.getvalue().splitlines()[-1].startswith("after: 100%")
