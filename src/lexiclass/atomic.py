"""Atomic writes: a file is written beside its final name, then renamed over it.

A reader, or a process killed at any instant, sees the old complete file or the new
one, never a half-written file. Used by every floor that writes (vectorizer, models,
training, inference), so it sits below them all.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def default_file_mode() -> int:
    """The mode ``open`` would give a new file under the current umask (mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic(path: Path, write, suffix: str = ".tmp") -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes(path, data: bytes) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path, value) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def write_npy(path, array) -> None:
    """A NumPy array as ``.npy`` (no pickle), streamed to disk: no second copy in memory."""
    import numpy as np

    _atomic(path, lambda tmp: np.save(tmp, array, allow_pickle=False), suffix=".npy")


def save_model(model, path) -> None:
    # Keras infers the format from the suffix, so the temporary name must end in .keras too.
    _atomic(path, model.save, suffix=".keras")


def save_figure(figure, path) -> None:
    _atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def is_temporary(path: Path) -> bool:
    """A file or folder that `_atomic` (or a model save) was writing when the process stopped."""
    return path.name.startswith(".") and (path.name.endswith(".tmp") or path.name.endswith(".keras"))


def remove_temporaries(folder) -> list[Path]:
    """Delete what interrupted atomic writes left in ``folder`` (not recursive); return what was removed."""
    import shutil

    removed = []
    for path in Path(folder).iterdir() if Path(folder).is_dir() else ():
        if is_temporary(path):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            removed.append(path)
    return removed
