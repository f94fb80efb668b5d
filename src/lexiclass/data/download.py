"""Verified, atomic downloads and archive extraction into the lexiclass cache.

Nothing half-done is ever left where a later run would trust it: a download goes to
``<name>.part`` and is renamed only after its size and SHA-256 match; an archive is
extracted into a temporary folder beside its destination and renamed when complete.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from lexiclass.errors import DataError
from lexiclass.progress import enabled as progress_enabled
from lexiclass.progress import progress as progress_bar

CHUNK = 1 << 20


def cache_home() -> Path:
    """Root of the cache: ``$LEXICLASS_HOME`` or ``~/.cache/lexiclass``."""
    return Path(os.environ.get("LEXICLASS_HOME") or Path.home() / ".cache" / "lexiclass")


def sha256_of(path: Path, show_progress: bool = True) -> str:
    """SHA-256 of a file, with a progress bar (bytes, rate, ETA) for big files."""
    digest = hashlib.sha256()
    size = os.path.getsize(path)
    with open(path, "rb") as f, progress_bar(total=size, desc=f"checking {Path(path).name}", unit="B",
                                             unit_scale=True, disable=not (show_progress and progress_enabled())
                                             or size < 8 * CHUNK) as bar:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            bar.update(len(chunk))
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
            with progress_bar(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}",
                              disable=not (progress and progress_enabled())) as bar:
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


class _CountingReader(io.RawIOBase):
    """A read-only file that reports how many bytes were read to a progress bar (for tar.gz extraction)."""

    def __init__(self, f, bar):
        self.f, self.bar = f, bar

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        n = self.f.readinto(buffer)
        self.bar.update(self.f.tell() - self.bar.n)
        return n

    def seek(self, offset, whence=io.SEEK_SET):
        return self.f.seek(offset, whence)

    def tell(self):
        return self.f.tell()


def _extract_tar(archive: Path, into: Path) -> None:
    size = archive.stat().st_size
    with open(archive, "rb") as raw, progress_bar(total=size, desc=f"extracting {archive.name}", unit="B",
                                                  unit_scale=True) as bar:
        reader = io.BufferedReader(_CountingReader(raw, bar), CHUNK)
        try:
            with tarfile.open(fileobj=reader) as tf:
                tf.extractall(into, filter="data")  # 'data' refuses absolute paths and links out of `into`
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise DataError(f"{archive} is not a readable .tar.gz or .zip archive: {exc}") from exc


def _extract_zip(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in progress_bar(zf.infolist(), desc=f"extracting {archive.name}", unit="file"):
                zf.extract(info, into)  # zipfile drops absolute paths and '..'
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{archive} is not a readable .zip archive: {exc}") from exc


def extract(archive: Path, dest: Path) -> Path:
    """Extract a ``.tar.gz`` or ``.zip`` into ``dest`` atomically; reuse ``dest`` if it already exists."""
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        else:
            _extract_tar(archive, tmp)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():  # another process finished first otherwise
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
