"""Verified, atomic downloads and archive extraction into the lexiclass cache.

Nothing half-done is ever left where a later run would trust it: a download goes to
``<name>.part`` and is renamed only after its size and SHA-256 match; an archive is
extracted into a temporary folder beside its destination and renamed when complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from lexiclass.errors import DataError

CHUNK = 1 << 20


def cache_home() -> Path:
    """Root of the cache: ``$LEXICLASS_HOME`` or ``~/.cache/lexiclass``."""
    return Path(os.environ.get("LEXICLASS_HOME") or Path.home() / ".cache" / "lexiclass")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str, size: int | None = None, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` unless a verified copy is already there.

    Raises `DataError` (and leaves nothing at ``dest``) when the connection fails,
    the body is shorter or longer than ``size``, or the SHA-256 differs.
    """
    dest = Path(dest)
    if dest.exists():
        if sha256_of(dest) == sha256:
            return dest
        dest.unlink()  # a stale or foreign file: never trust it
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = size or int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if size is not None and received != size:
            raise DataError(f"download of {url} is {received:,} bytes, expected {size:,} (truncated or wrong file)")
        if digest.hexdigest() != sha256:
            raise DataError(
                f"download of {url} has SHA-256 {digest.hexdigest()}, expected {sha256}: corrupted or wrong file"
            )
        os.replace(part, dest)
    except (urllib.error.URLError, OSError, DataError) as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, DataError):
            raise
        raise DataError(f"could not download {url}: {exc}") from exc
    return dest


def extract(archive: Path, dest: Path) -> Path:
    """Extract a ``.tar.gz`` or ``.zip`` into ``dest`` atomically; reuse ``dest`` if it already exists."""
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            try:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")  # 'data' refuses absolute paths and links out of tmp
            except (tarfile.TarError, EOFError) as exc:
                raise DataError(f"{archive} is not a readable .tar.gz or .zip archive: {exc}") from exc
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():  # another process finished first otherwise
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
