"""The Large Movie Review Dataset v1.0 (aclImdb): download or local archive, check, split.

The validation split follows *Deep Learning with Python*: for each training class
folder, file names are shuffled with seed 1337 and 20% are held out (20,000 train /
5,000 validation / 25,000 test). ``train/unsup`` (unlabelled) is never read here.

Where the data comes from, first match wins (`find_imdb`):

1. the ``archive`` argument (``--imdb-archive``): a ``.tar.gz``, an extracted
   ``aclImdb`` folder or its parent;
2. ``$LEXICLASS_IMDB_ARCHIVE``, the same kinds of path;
3. a complete extracted copy already in the cache, ``cache_home()/datasets/aclImdb-*``;
4. the project's offline archive, ``../shared/data/aclImdb_v1.tar.gz`` relative to the
   current folder and to the repository, then ``/work/shared/data/aclImdb_v1.tar.gz``;
5. otherwise the official archive is downloaded, verified and cached.

`resolve_imdb_source` gives the absolute path of that source, for a run to record.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lexiclass.data.dataset import TextDataset
from lexiclass.data.download import cache_home, download, extract, sha256_of
from lexiclass.data.splits import shuffled_file_split
from lexiclass.errors import DataError
from lexiclass.progress import progress

IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SIZE = 84_125_825
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
REVIEWS_PER_FOLDER = 12_500
LABELS = ["neg", "pos"]  # index 0 = negative, 1 = positive, as in the book
ARCHIVE_ENV = "LEXICLASS_IMDB_ARCHIVE"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
SHARED_DATA = Path("/work/shared/data")


def _repository_root() -> Path | None:
    """The nearest folder above this package that holds ``pyproject.toml`` (the checkout, when installed editable)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def offline_archives() -> list[Path]:
    """Where the project's offline copy of the archive may be, in the order they are tried (absolute, distinct)."""
    try:
        candidates = [Path.cwd() / ".." / "shared" / "data" / ARCHIVE_NAME]
    except OSError:  # the working folder was deleted
        candidates = []
    root = _repository_root()
    if root is not None:
        candidates.append(root.parent / "shared" / "data" / ARCHIVE_NAME)
    candidates.append(SHARED_DATA / ARCHIVE_NAME)
    out = []
    for path in candidates:
        path = Path(os.path.abspath(path))
        if path not in out:
            out.append(path)
    return out


def _is_complete(root: Path, expected_per_folder: int | None) -> bool:
    try:
        check_layout(root, expected_per_folder)
    except (DataError, OSError):
        return False
    return True


def cached_imdb_folders(expected_per_folder: int | None = REVIEWS_PER_FOLDER) -> list[Path]:
    """Complete extracted ``aclImdb`` folders in the cache, the official archive's first."""
    base = cache_home() / "datasets"
    official = f"aclImdb-{IMDB_SHA256[:16]}"
    folders = sorted(base.glob("aclImdb-*"), key=lambda p: (p.name != official, p.name))
    return [p / "aclImdb" for p in folders if _is_complete(p / "aclImdb", expected_per_folder)]


def find_imdb(archive: str | os.PathLike | None = None,
              expected_per_folder: int | None = REVIEWS_PER_FOLDER) -> Path | None:
    """The absolute path of a local IMDB archive or folder (see the module docstring for the order), or None.

    A path given as ``archive`` or in ``$LEXICLASS_IMDB_ARCHIVE`` must exist.
    """
    given, origin = (archive, "--imdb-archive") if archive else (os.environ.get(ARCHIVE_ENV), f"${ARCHIVE_ENV}")
    if given:
        path = Path(given).expanduser()
        if not path.exists():
            raise DataError(f"IMDB archive {path} does not exist (given by {origin})")
        return path.resolve()
    for folder in cached_imdb_folders(expected_per_folder):
        return folder.resolve()
    for path in offline_archives():
        if path.is_file():
            return path.resolve()
    return None


def resolve_imdb_source(archive: str | os.PathLike | None = None, url: str = IMDB_URL, sha256: str = IMDB_SHA256,
                        size: int | None = IMDB_SIZE, expected_per_folder: int | None = REVIEWS_PER_FOLDER) -> str:
    """The absolute path of the archive or folder IMDB is read from, downloading the archive if no local copy
    exists. Store it in a run's settings so the run finds the same data from any folder."""
    found = find_imdb(archive, expected_per_folder)
    if found is not None:
        return str(found)
    dest = cache_home() / "downloads" / ARCHIVE_NAME
    try:
        path = download(url, dest, sha256=sha256, size=size)
    except DataError as exc:
        looked = ", ".join(str(p) for p in [cache_home() / "datasets", *offline_archives()])
        raise DataError(f"{exc}; no local copy found (looked in {looked}): pass --imdb-archive PATH or set"
                        f" {ARCHIVE_ENV}=PATH to a local {ARCHIVE_NAME} or extracted aclImdb folder") from exc
    return str(Path(path).resolve())


def locate_imdb(archive: str | os.PathLike | None = None, url: str = IMDB_URL, sha256: str = IMDB_SHA256,
                size: int | None = IMDB_SIZE, expected_per_folder: int | None = REVIEWS_PER_FOLDER) -> Path:
    """Return the absolute path of an extracted ``aclImdb`` folder, preparing it if needed.

    The source is `resolve_imdb_source`'s; an archive is extracted once into the cache, in
    a folder keyed by its SHA-256, so two different archives never share a folder.
    """
    path = Path(resolve_imdb_source(archive, url, sha256, size, expected_per_folder))
    if path.is_dir():
        return path if (path / "train").is_dir() else path / "aclImdb"
    target = cache_home() / "datasets" / f"aclImdb-{sha256_of(path)[:16]}"
    return (extract(path, target) / "aclImdb").resolve()


def _read_folder(folder: Path, names: list[str], bar=None) -> list[str]:
    texts = []
    for name in names:
        try:
            texts.append((folder / name).read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise DataError(f"{folder / name}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
        except OSError as exc:
            raise DataError(f"cannot read {folder / name}: {exc.strerror or exc}") from exc
        if bar is not None:
            bar.update(1)
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
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be a number greater than 0 and less than 1 (e.g. 0.2), got {val_fraction!r}")
    root = locate_imdb(archive, expected_per_folder=expected_per_folder)
    files = check_layout(root, expected_per_folder)
    jobs = []  # (split, folder, names, label id)
    for label_id, label in enumerate(LABELS):
        train_names, val_names = shuffled_file_split(files[f"train/{label}"], val_fraction, seed)
        jobs += [("train", root / "train" / label, train_names, label_id),
                 ("val", root / "train" / label, val_names, label_id),
                 ("test", root / "test" / label, sorted(files[f"test/{label}"]), label_id)]
    parts = {"train": ([], []), "val": ([], []), "test": ([], [])}
    with progress(total=sum(len(job[2]) for job in jobs), desc="reading IMDB reviews", unit="file") as bar:
        for split, folder, names, label_id in jobs:
            parts[split][0].extend(_read_folder(folder, names, bar))
            parts[split][1].extend([label_id] * len(names))
    as_arrays = {k: (texts, np.asarray(labels, dtype=np.int32)) for k, (texts, labels) in parts.items()}
    data = TextDataset(*as_arrays["train"], *as_arrays["val"], *as_arrays["test"], label_names=list(LABELS),
                       source=f"imdb:{root}")
    return data.check_splits()
