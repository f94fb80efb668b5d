"""The Large Movie Review Dataset v1.0 (aclImdb): download or local archive, check, split.

The validation split follows *Deep Learning with Python*: for each training class
folder, file names are shuffled with seed 1337 and 20% are held out (20,000 train /
5,000 validation / 25,000 test). ``train/unsup`` (unlabelled) is never read here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lexiclass.data.dataset import TextDataset
from lexiclass.data.download import cache_home, download, extract, sha256_of
from lexiclass.data.splits import shuffled_file_split
from lexiclass.errors import DataError

IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SIZE = 84_125_825
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
REVIEWS_PER_FOLDER = 12_500
LABELS = ["neg", "pos"]  # index 0 = negative, 1 = positive, as in the book
ARCHIVE_ENV = "LEXICLASS_IMDB_ARCHIVE"


def locate_imdb(archive: str | os.PathLike | None = None, url: str = IMDB_URL, sha256: str = IMDB_SHA256,
                size: int | None = IMDB_SIZE) -> Path:
    """Return the path of an extracted ``aclImdb`` folder, preparing it if needed.

    ``archive`` may be an extracted ``aclImdb`` folder (or its parent), a local
    ``.tar.gz``, or None: then ``$LEXICLASS_IMDB_ARCHIVE`` is used if set, else the
    official archive is downloaded, verified and cached under `cache_home()`.
    """
    archive = archive or os.environ.get(ARCHIVE_ENV)
    if archive:
        path = Path(archive).expanduser()
        if path.is_dir():
            return path if (path / "train").is_dir() else path / "aclImdb"
        if not path.is_file():
            raise DataError(f"IMDB archive {path} does not exist")
        # Key the extraction by content, so two different archives never share a folder.
        target = cache_home() / "datasets" / f"aclImdb-{sha256_of(path)[:16]}"
    else:
        tarball = download(url, cache_home() / "downloads" / "aclImdb_v1.tar.gz", sha256=sha256, size=size)
        path = tarball
        target = cache_home() / "datasets" / f"aclImdb-{sha256[:16]}"
    return extract(path, target) / "aclImdb"


def _read_folder(folder: Path, names: list[str]) -> list[str]:
    texts = []
    for name in names:
        try:
            texts.append((folder / name).read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise DataError(f"{folder / name}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return texts


def check_layout(root: Path, expected_per_folder: int | None = REVIEWS_PER_FOLDER) -> dict[str, list[str]]:
    """List the review files of the four labelled folders; raise naming any folder that is missing or short."""
    files = {}
    for split in ("train", "test"):
        for label in LABELS:
            folder = root / split / label
            if not folder.is_dir():
                raise DataError(f"IMDB folder {folder} is missing: is {root} an extracted aclImdb?")
            names = [n for n in os.listdir(folder) if n.endswith(".txt")]
            if expected_per_folder is not None and len(names) != expected_per_folder:
                raise DataError(
                    f"IMDB folder {folder} has {len(names):,} reviews, expected {expected_per_folder:,}"
                    " (incomplete download or extraction?)"
                )
            if not names:
                raise DataError(f"IMDB folder {folder} has no reviews")
            files[f"{split}/{label}"] = names
    return files


def load_imdb(archive: str | os.PathLike | None = None, val_fraction: float = 0.2, seed: int = 1337,
              expected_per_folder: int | None = REVIEWS_PER_FOLDER) -> TextDataset:
    """Load IMDB as a `TextDataset` with the book's validation split."""
    root = locate_imdb(archive)
    files = check_layout(root, expected_per_folder)
    parts = {"train": ([], []), "val": ([], []), "test": ([], [])}
    for label_id, label in enumerate(LABELS):
        train_names, val_names = shuffled_file_split(files[f"train/{label}"], val_fraction, seed)
        for split, split_dir, names in (("train", "train", train_names), ("val", "train", val_names),
                                        ("test", "test", sorted(files[f"test/{label}"]))):
            parts[split][0].extend(_read_folder(root / split_dir / label, names))
            parts[split][1].extend([label_id] * len(names))
    as_arrays = {k: (texts, np.asarray(labels, dtype=np.int32)) for k, (texts, labels) in parts.items()}
    return TextDataset(*as_arrays["train"], *as_arrays["val"], *as_arrays["test"], label_names=list(LABELS),
                       source=f"imdb:{root}")
