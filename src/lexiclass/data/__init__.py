"""Loading labelled text: IMDB, user files (one label per text or several), and seeded splits."""

from lexiclass.data.dataset import TextDataset
from lexiclass.data.imdb import load_imdb, locate_imdb, resolve_imdb_source
from lexiclass.data.user_files import load_user_dataset
from lexiclass.errors import DataError


def load_dataset(config, dataset: str | None = None, test_dataset: str | None = None) -> TextDataset:
    """The dataset a `TrainConfig` names (``dataset`` overrides it, and then its own ``test_dataset`` and no
    separate validation file apply): ``"imdb"`` or a user path."""
    name = dataset or config.dataset
    if name == "imdb":
        if config.multi_label:
            raise DataError("imdb has one label per review (pos or neg): --multi-label needs your own data"
                            " (a .jsonl with label lists, a .csv/.tsv with --label-separator or a fastText .txt)")
        data = load_imdb(config.imdb_archive, val_fraction=config.val_fraction, seed=config.split_seed)
    else:
        data = load_user_dataset(
            name, test_path=test_dataset if dataset else config.test_dataset,
            text_column=config.text_column, label_column=config.label_column, encoding=config.encoding,
            encoding_errors=config.encoding_errors, val_fraction=config.val_fraction,
            test_fraction=config.test_fraction, seed=config.split_seed,
            val_path=None if dataset else config.val_dataset, multi_label=config.multi_label,
            label_separator=config.label_separator,
        )
    return data.limit(config.limit, seed=config.split_seed)


__all__ = ["TextDataset", "load_dataset", "load_imdb", "load_user_dataset", "locate_imdb", "resolve_imdb_source"]
