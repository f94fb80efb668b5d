"""Progress bars for every step that can take more than a couple of seconds.

One place decides how progress looks, so every floor (data, text, models, training,
inference) reports the same way:

- on a terminal: a tqdm bar on stderr with count, rate and ETA;
- not on a terminal (CI logs, pipes): plain lines, at most one every ``interval``
  seconds, never carriage returns;
- ``configure(enabled=False)`` (the CLI's ``--quiet``, or ``LEXICLASS_QUIET=1``): nothing;
- ``with muted():`` around a call whose own bar the caller's bar already covers (scoring a test split
  chunk by chunk): one bar for the work, not one per chunk.

Example::

    from lexiclass.progress import progress

    for text in progress(texts, desc="reading", unit="text"):
        ...
    with progress(total=n_steps, desc="fitting") as bar:
        bar.update(1)
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager

from tqdm import tqdm

_state = {"enabled": os.environ.get("LEXICLASS_QUIET", "") in ("", "0"), "interval": 10.0}


def configure(enabled: bool | None = None, interval: float | None = None) -> None:
    """Turn progress output on or off, and set the seconds between plain lines when not on a terminal."""
    if enabled is not None:
        _state["enabled"] = bool(enabled)
    if interval is not None:
        _state["interval"] = float(interval)


def enabled() -> bool:
    return _state["enabled"]


ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # cursor moves of nested bars (e.g. "\x1b[A"): noise in a log


class _LineWriter:
    """A file-like target for tqdm that turns its carriage-return redraws into whole lines, without escapes."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = ESCAPES.sub("", text.replace("\r", "")).strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(iterable=None, total=None, desc: str = "", unit: str = "it", **kwargs) -> tqdm:
    """A tqdm bar (or a disabled one) configured as the module docstring says; arguments as tqdm's."""
    stream = sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    options = dict(desc=desc, unit=unit, disable=not _state["enabled"], dynamic_ncols=True, leave=tty)
    if not tty:
        # tqdm's bar needs a terminal; elsewhere print a status line every `interval` seconds.
        # smoothing=0: rate and ETA over the whole run so far, not the last few updates, which in a log
        # written every `interval` seconds swing wildly (an epoch bar once showed 1:36:30 left, then done).
        options.update(file=_LineWriter(stream), mininterval=_state["interval"], maxinterval=_state["interval"],
                       ascii=True, ncols=80, leave=True, smoothing=0)
    else:
        options.update(file=stream)
    options.update(kwargs)
    return tqdm(iterable, total=total, **options)


@contextmanager
def muted():
    """Mute the bars opened inside, such as a model's own per-call bar: the caller's bar, created before and
    left on, already covers that work, and a bar per inner call would print lines at every call in a log."""
    was = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = was
