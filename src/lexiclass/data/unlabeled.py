"""Texts without labels, for the models that learn document vectors from them (nbsvm-docvec, nbsvm-dvcosine).

`unlabeled_texts_for` picks them the way a `TrainConfig` says: the texts of ``--unlabeled FILE`` if given, else on
IMDB the 50,000 reviews of ``train/unsup``, else none.
"""

from __future__ import annotations

import os

from lexiclass.data.imdb import locate_imdb
from lexiclass.data.row_stream import RowStream
from lexiclass.errors import DataError
from lexiclass.progress import progress

_STDIN_TEXTS: list[str] | None = None  # stdin can be read once; a refit in the same process reuses it


def unlabeled_texts_for(config) -> list[str] | None:
    """The unlabelled texts for ``config`` (a `TrainConfig`): ``config.unlabeled``'s (a file, or ``-`` for
    stdin) if set, else IMDB's unlabelled reviews when ``config.dataset`` is ``imdb``, else None."""
    if config.unlabeled:
        return read_unlabeled_texts(config.unlabeled, config.text_column, config.encoding, config.encoding_errors)
    if config.dataset == "imdb":
        return imdb_unlabeled_texts(config.imdb_archive)
    return None


def imdb_unlabeled_texts(archive=None) -> list[str]:
    """The 50,000 reviews of IMDB's ``train/unsup`` folder, in file-name order."""
    folder = locate_imdb(archive) / "train" / "unsup"
    names = sorted(n for n in os.listdir(folder) if n.endswith(".txt"))
    return [(folder / n).read_text(encoding="utf-8") for n in names]


def read_unlabeled_texts(path, text_column: str = "text", encoding: str = "utf-8",
                         encoding_errors: str = "strict") -> list[str]:
    """The non-blank texts of a .txt (one per line), .csv, .tsv, .jsonl or .parquet file, or of stdin
    (``-``, one text per line); missing and blank texts are skipped (they teach the vector model
    nothing). Errors name file and line."""
    global _STDIN_TEXTS

    if str(path) == "-" and _STDIN_TEXTS is not None:
        return list(_STDIN_TEXTS)
    texts = []
    with RowStream(path, text_column=text_column, encoding=encoding, encoding_errors=encoding_errors) as rows:
        with progress(total=rows.progress_total, desc=f"reading unlabelled texts of {rows.name}",
                      unit=rows.progress_unit, unit_scale=rows.progress_unit == "B") as bar:
            for chunk in rows:
                texts += [t for t in chunk.texts if t is not None and t.strip()]
                bar.update(chunk.position - bar.n)
    if not texts:
        raise DataError(f"{rows.name}: no unlabelled texts in it (every row is blank or missing)")
    if rows.is_stdin:
        _STDIN_TEXTS = texts
    return texts
