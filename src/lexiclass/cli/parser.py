"""The ``lexiclass`` command line: `build_parser`, one sub-parser per command, each flag with its help.

A `TrainConfig` setting is a ``--flag`` of ``train`` and ``tune`` (``data`` takes those that read and
split a dataset); a flag left out keeps the --config file's value.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from lexiclass import __version__
from lexiclass.backend import BACKENDS
from lexiclass.cli.commands import (check_predict, check_serve, cmd_data, cmd_evaluate, cmd_explain, cmd_export,
                                    cmd_predict, cmd_serve, cmd_train, cmd_tune)
from lexiclass.config import CHOICES, MODEL_NAMES, TrainConfig, describe
from lexiclass.data.row_stream import FORMATS
from lexiclass.inference.export_folder import INT8_TOLERANCE
from lexiclass.models.registry import MODELS

# The settings `lexiclass data` uses: how a dataset is read and split. `train` offers all of them.
DATA_SETTINGS = ("test_dataset", "val_dataset", "imdb_archive", "text_column", "label_column", "multi_label",
                 "label_separator", "encoding", "encoding_errors", "val_fraction", "test_fraction", "split_seed",
                 "limit")



# --- flags ---------------------------------------------------------------------------

def _setting_flag(group, field, defaults: TrainConfig) -> None:
    """One ``--flag`` for a `TrainConfig` field; unset flags leave the config file's value alone."""
    flag = "--" + field.name.replace("_", "-")
    default = getattr(defaults, field.name)
    help_text = describe(field.name)
    if isinstance(default, bool):
        help_text += f" (default: {'on' if default else 'off'})"
    elif default is not None and "(default" not in help_text:
        help_text += f" (default: {default})"
    kwargs = dict(dest=f"cfg_{field.name}", default=argparse.SUPPRESS, help=help_text)
    if field.type in (bool, "bool"):
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        choices = MODEL_NAMES if field.name == "model" else CHOICES.get(field.name)
        if choices:
            kwargs.update(choices=choices, metavar="{" + ",".join(choices) + "}")
        else:
            kwargs["metavar"] = {"int": "N", "int | None": "N", "float": "X"}.get(str(field.type), "VALUE")
    group.add_argument(flag, **kwargs)


def _add_settings(parser, names=None) -> None:
    defaults = TrainConfig()
    group = parser.add_argument_group("settings (also accepted as keys of a --config TOML/YAML/JSON file)")
    for field in dataclasses.fields(TrainConfig):
        if names is None or field.name in names:
            _setting_flag(group, field, defaults)


# --- value types and formatting ---------------------------------------------------------

def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


class _HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" where a default means something (not None/False, not said already)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("(default" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings
                or isinstance(default, bool)):
            return text
        return f"{text} (default: {default})"


class _RawHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """`_HelpFormatter` that keeps the description's and epilog's line breaks (the model list)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where to read more, no usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # "--epoch" must not silently mean "--epochs"
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _number(value: str, low: float, strict: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number < low or (strict and number == low):
        raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low:g}, got {value}")
    return number


def _positive_float(value: str) -> float:
    return _number(value, 0.0, strict=True)


def _non_negative_float(value: str) -> float:
    return _number(value, 0.0, strict=False)




# --- the parser ----------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The whole command line; `main` parses with it."""
    parser = _Parser(prog="lexiclass", description="Train, evaluate, explain and serve text classifiers: one "
                                                   "command per step.",
                                     epilog="`lexiclass COMMAND --help` explains each command's options.")
    parser.add_argument("--version", action="version", version=f"lexiclass {__version__}")
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    output = common.add_argument_group("output")
    output.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes, only results and errors")
    output.add_argument("-v", "--verbose", action="store_true", help="also TensorFlow's start-up and log lines")
    # The commands that run a Keras model also take the backend it runs on.
    keras_common = argparse.ArgumentParser(add_help=False, allow_abbrev=False, parents=[common])
    keras_common.add_argument_group("backend").add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="the Keras backend models run on (default: $KERAS_BACKEND, else tensorflow); any run folder loads "
             "on any backend; jax and torch need the lexiclass[jax] / lexiclass[torch] extras")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_data(sub, [common])
    _add_train(sub, [keras_common])
    _add_evaluate(sub, [keras_common])
    _add_predict(sub, [keras_common])
    _add_serve(sub, [keras_common])
    _add_tune(sub, [keras_common])
    _add_export(sub, [keras_common])
    _add_explain(sub, [keras_common])
    return parser


def _add_data(sub, parents: list) -> None:
    """``lexiclass data SOURCE``: the dataset settings only, no backend."""
    p = sub.add_parser("data", parents=parents, help="load a dataset and print its split sizes",
                       description="Load a dataset the way `train` would and print its split sizes and classes.")
    p.add_argument("source", help='"imdb", or a folder of class subfolders, a .csv, .tsv or .jsonl file')
    p.add_argument("--config", help="TOML/YAML/JSON settings file; flags override it")
    _add_settings(p, DATA_SETTINGS)
    p.set_defaults(func=cmd_data)


def _add_train(sub, parents: list) -> None:
    """``lexiclass train``: every setting, and the model list in its help."""
    models = "\n".join(f"  {name:<24}{spec.description}" for name, spec in MODELS.items())
    p = sub.add_parser("train", parents=parents, help="train a model and write a run directory",
                       usage="lexiclass train --out RUN_DIR [--model NAME] [--dataset PATH] [--config FILE] "
                             "[options]",
                       formatter_class=_RawHelpFormatter,
                       description="Train a model and write a run directory with everything needed to predict.\n"
                                   "The run is built beside --out and moved there only when complete.",
                       epilog=f"models (--model):\n{models}\n\nexample:\n  lexiclass train --model bow "
                              "--dataset reviews.csv --out runs/bow --epochs 5")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory to create (or continue with --resume)")
    p.add_argument("--config", help="TOML/YAML/JSON settings file; flags override it")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run for --out from its last "
                                                         "finished epoch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out once the new one "
                                                            "is complete (folders that are not runs are refused)")
    p.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard logs to DIR (Keras models)")
    _add_settings(p)
    p.set_defaults(func=cmd_train)


def _add_evaluate(sub, parents: list) -> None:
    """``lexiclass evaluate RUN_DIR``."""
    p = sub.add_parser("evaluate", parents=parents,
                       help="reload a run and score its test split",
                       description="Reload a run and score its own test split (or another dataset's); "
                                   "the stored test accuracy is printed beside it.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (from lexiclass train --out)")
    p.add_argument("--dataset", help="score this dataset's test split instead (same classes as the run)")
    p.add_argument("--test-dataset", "--test", dest="test_dataset",
                   help="with --dataset: a separate test file or folder")
    p.add_argument("--imdb-archive", help="local aclImdb archive or folder, for runs trained on IMDB")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(func=cmd_evaluate)


def _add_predict(sub, parents: list) -> None:
    """``lexiclass predict RUN_DIR [TEXT ...]``: texts, stdin or files, locally or on Ray."""
    p = sub.add_parser("predict", parents=parents,
                       help="predict labels for texts or a file",
                       description="Predict labels for texts given as arguments, for one text per line on "
                                   'stdin ("-"), or for every row of a file (--input).')
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (from lexiclass train --out)")
    p.add_argument("texts", nargs="*", help='texts to classify; "-" reads one text per line from stdin')
    p.add_argument("--input", "--file", dest="input", metavar="FILE",
                   help="a .txt (one text per line), .csv, .tsv, .jsonl or .parquet file; one output row per "
                        "input row, in order")
    p.add_argument("--output", metavar="FILE", help="write results to a .csv, .tsv, .jsonl or .parquet file "
                                                    "(default: JSON lines on stdout)")
    p.add_argument("--input-format", choices=FORMATS,
                   help="format of --input or stdin (default: from the file's suffix; stdin: txt)")
    p.add_argument("--text-column", default="text", metavar="NAME", help="column or field of --input holding the text")
    p.add_argument("--id-column", metavar="NAME", help="column or field of --input that identifies a row (default: row number)")
    p.add_argument("--encoding", default="utf-8", metavar="CODEC",
                   help="text encoding of --input or stdin, e.g. utf-8 (default), latin-1, cp949, euc-kr")
    p.add_argument("--encoding-errors", default="strict", metavar="HOW",
                   help="undecodable bytes: strict (stop with the line, the default), replace or ignore")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: score --input files (a path or a glob) on a Ray cluster into the folder --output "
                        "(needs pip install 'lexiclass[ray]')")
    p.add_argument("--address", help="with --engine ray: a running cluster (auto, or host:port); default: start "
                                     "Ray on this machine")
    p.add_argument("--workers", type=_positive_int, metavar="N", help="with --engine ray: predictor actors "
                                                                      "(default: one per CPU)")
    p.add_argument("--output-format", choices=("parquet", "csv", "tsv", "jsonl"), default="parquet",
                   help="with --engine ray: format of the files written into --output")
    p.add_argument("--max-chars", type=_positive_int, metavar="N",
                   help="--input and stdin: refuse a text longer than this many characters, naming its row; "
                        "memory grows with a text's length (default: 1,000,000)")
    p.add_argument("-k", "--top-k", type=_positive_int, metavar="K",
                   help="texts as arguments: show only the k most probable classes")
    p.add_argument("--format", choices=("json", "table"), default="json",
                   help="texts as arguments or '-': JSON lines or an aligned table (stdin: a row per non-blank line)")
    p.set_defaults(func=cmd_predict, check=check_predict)


def _add_serve(sub, parents: list) -> None:
    """``lexiclass serve RUN_DIR``: the server's limits."""
    p = sub.add_parser("serve", parents=parents,
                       help="serve a run over HTTP (FastAPI + uvicorn)",
                       description="Serve a run over HTTP: a page to try it at /, POST /predict, POST /explain, "
                                   "GET /health, GET /metadata, API docs at /docs (all offline).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (from lexiclass train --out)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000, metavar="N", help="TCP port, 1..65535")
    p.add_argument("--examples", metavar="FILE", help="texts the page offers to click, one per line (at most 20)")
    p.add_argument("--max-texts", type=_positive_int, metavar="N", default=256, help="texts per request")
    p.add_argument("--max-chars", type=_positive_int, metavar="N", default=100_000, help="characters per text")
    p.add_argument("--max-body-bytes", type=_positive_int, metavar="N", default=5_000_000, help="request body size in bytes")
    p.add_argument("--max-batch", type=_positive_int, metavar="N", default=32, help="texts per model call across requests")
    p.add_argument("--batch-wait-ms", type=_non_negative_float, metavar="MS", default=5.0,
                   help="how long a model call waits for more requests")
    p.add_argument("--max-queue-texts", type=_positive_int, metavar="N", default=1024,
                   help="texts waiting at once; beyond it requests get 503 with Retry-After")
    p.add_argument("--request-timeout-s", type=_positive_float, metavar="S", default=30.0,
                   help="a request not answered within this many seconds gets 504")
    p.set_defaults(func=cmd_serve, check=check_serve)


def _add_tune(sub, parents: list) -> None:
    """``lexiclass tune``: the search's own flags and every setting."""
    p = sub.add_parser("tune", parents=parents, help="search settings on validation; train the best",
                       usage="lexiclass tune --space SPACE.toml --trials N --out DIR [--model NAME] "
                             "[--dataset PATH] [options]",
                       description="Train --trials runs over the settings in --space, pick the best by validation "
                                   "accuracy (the test split is never used), train it again into DIR/best and "
                                   "write DIR/trials.csv and DIR/trials.md. The space file maps settings to a list "
                                   "of choices or to {min, max, log}; see docs/scale-out.md.")
    p.add_argument("--space", required=True, metavar="FILE", help="TOML file: setting = [choices] or {min, max, log}")
    p.add_argument("--trials", type=_positive_int, required=True, metavar="N", help="number of trials")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for best/, trials.csv, trials.md, tune.json")
    p.add_argument("--engine", choices=("ray", "local"), default="ray",
                   help="ray: trials in parallel on Ray Tune (needs pip install 'lexiclass[ray]'); local: one "
                        "after another in this process")
    p.add_argument("--address", help="with --engine ray: a running cluster (auto, or host:port)")
    p.add_argument("--workers", type=_positive_int, metavar="N", help="trials at once (default: as CPUs allow)")
    p.add_argument("--search-seed", type=int, default=0, metavar="N", help="seed of the trials drawn from --space")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier search in --out")
    p.add_argument("--config", help="TOML/YAML/JSON settings file for everything not searched")
    _add_settings(p)
    p.set_defaults(func=cmd_tune)


def _add_export(sub, parents: list) -> None:
    """``lexiclass export RUN_DIR``."""
    p = sub.add_parser("export", parents=parents, help="export a run to run without lexiclass",
                       description="Export a run: a TensorFlow SavedModel that takes raw strings (servable by "
                                   "TensorFlow Serving), or an ONNX model of the network with its vocabulary and "
                                   "a tokenizing recipe. See docs/export.md.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (from lexiclass train --out)")
    p.add_argument("--format", choices=("savedmodel", "onnx"), default="savedmodel",
                   help="savedmodel: raw strings in; onnx: token ids (or n-gram vectors) in, needs "
                        "pip install 'lexiclass[export]'")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to create; it appears only when complete")
    p.add_argument("--int8", action="store_true",
                   help="onnx: quantize the network's matrix products to int8 (ONNX Runtime dynamic quantization): "
                        f"a smaller file, faster on CPUs with VNNI or AMX; probabilities within {INT8_TOLERANCE}")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    p.set_defaults(func=cmd_export)


def _add_explain(sub, parents: list) -> None:
    """``lexiclass explain RUN_DIR TEXT``."""
    p = sub.add_parser("explain", parents=parents, help="attention maps and token importances for a text",
                       description="Print why a run predicts what it does for TEXT; files are written only "
                                   "where asked.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (from lexiclass train --out)")
    p.add_argument("text", help='the text to explain ("-" reads stdin)')
    p.add_argument("--out", metavar="PNG", help="write the attention heatmap here (Transformer runs)")
    p.add_argument("--html", metavar="HTML", help="write the text with each token shaded by its importance here")
    p.add_argument("--png", metavar="PNG", help="write a bar chart of the most important tokens here")
    p.add_argument("--top-k", type=_positive_int, default=10, metavar="K", help="strongest token pairs / tokens to list "
                                                                   "(default: 10)")
    p.set_defaults(func=cmd_explain)
