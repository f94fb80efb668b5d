"""The ``lexiclass`` command: one subcommand per lifecycle step, a thin shell over the library.

    lexiclass data imdb|PATH         load a dataset and print its splits
    lexiclass train --model NAME     train and write a run directory
    lexiclass evaluate RUN_DIR       reload a run and score its test split
    lexiclass predict RUN_DIR TEXT   labels and probabilities for texts, or a file ("-" reads stdin)
    lexiclass serve RUN_DIR          a web page and an HTTP API
    lexiclass explain RUN_DIR TEXT   attention maps and token importances
    lexiclass tune --space FILE      search settings on validation (locally or on Ray)
    lexiclass export RUN_DIR         a SavedModel or ONNX model that runs without lexiclass

A user's mistake ends with one line on stderr (``lexiclass CMD: error: ...``) and exit
code 2; Ctrl-C with exit code 130 and, for training, the command that resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import warnings

from lexiclass.backend import BACKENDS, import_tensorflow_quietly, select as select_backend
from lexiclass.config import CHOICES, MODEL_NAMES, TrainConfig, describe
from lexiclass.data.row_stream import FORMATS
from lexiclass.errors import LexiclassError, first_line

# The settings `lexiclass data` uses: how a dataset is read and split. `train` offers all of them.
DATA_SETTINGS = ("test_dataset", "imdb_archive", "text_column", "label_column", "encoding", "encoding_errors",
                 "val_fraction", "test_fraction", "split_seed", "limit")


def _needs_keras(args) -> bool:
    """False when the command's model is an n-gram one (nbsvm, tfidf, ...): then TensorFlow, ~7 s to import,
    is never loaded. Nor for a run folder whose config cannot be read: loading it fails first, with one line."""
    from lexiclass import run_dir as rd
    from lexiclass.models.registry import MODELS

    model = getattr(args, "model", None) if args.command in ("train", "tune") and not getattr(args, "resume", False) \
        else None
    if getattr(args, "run_dir", None) is not None:
        try:
            model = rd.read_json(os.path.join(args.run_dir, rd.CONFIG_FILE)).get("model")
        except LexiclassError:
            return False
    spec = MODELS.get(model) if isinstance(model, str) else None
    return spec is None or spec.inputs != "text"


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


def _config_from_args(args, **fixed) -> TrainConfig:
    from lexiclass.config import load_config

    overrides = {k.removeprefix("cfg_"): v for k, v in vars(args).items() if k.startswith("cfg_")}
    return load_config(getattr(args, "config", None), {**overrides, **fixed})


def _given_settings(args) -> list[str]:
    return ["--" + k.removeprefix("cfg_").replace("_", "-") for k in vars(args) if k.startswith("cfg_")]


# --- subcommands ---------------------------------------------------------------------

def cmd_data(args) -> int:
    from lexiclass.data import load_dataset

    config = _config_from_args(args, dataset=args.source)
    data = load_dataset(config)
    sizes = data.sizes()
    print(f"source: {data.source}")
    print(f"train: {sizes['train']}  val: {sizes['val']}  test: {sizes['test']}")
    print(f"classes ({data.num_classes}): " + ", ".join(f"{k}={v}" for k, v in data.class_counts().items()))
    return 0


def cmd_train(args) -> int:
    from lexiclass.training.fit import train

    if args.out is None:
        raise LexiclassError("train needs --out RUN_DIR (the folder the run is written to)")
    if args.resume:
        given = _given_settings(args) + (["--config"] if args.config else [])
        if given:
            raise LexiclassError(f"--resume continues with the run's saved settings; drop {', '.join(given)}")
        config = TrainConfig()  # replaced by the run's own config.json
    else:
        config = _config_from_args(args)
    callbacks = []
    if args.tensorboard:
        import importlib.util

        import keras

        if importlib.util.find_spec("tensorboard") is None:
            raise LexiclassError("--tensorboard needs TensorBoard: pip install 'lexiclass[tensorboard]'")

        callbacks.append(keras.callbacks.TensorBoard(log_dir=args.tensorboard))
    verbose = 0 if args.quiet else None
    info = train(config, args.out, resume=args.resume, overwrite=args.overwrite, verbose=verbose,
                 callbacks=callbacks)
    print(f"run directory: {args.out}")
    if info.get("auto"):
        settings = ", ".join(f"{k}={v}" for k, v in info["auto"]["winner"]["settings"].items())
        print(f"auto chose {info['model']}{f' ({settings})' if settings else ''}: {info['auto']['reason']}")
    if info.get("monitor") == "val_accuracy" and info["epochs_run"] == 1:  # an n-gram model: one fit, no epochs
        print(f"fit in {info['seconds_per_epoch_median']:.1f} s (validation accuracy {info['best_value']:.4f})")
    else:
        print(f"best epoch {info['best_epoch']} of {info['epochs_run']} "
              f"(median {info['seconds_per_epoch_median']:.1f} s/epoch)")
    print(f"test accuracy: {info['test_accuracy']:.4f} ({info['data_sizes']['test']} examples)")
    return 0


def cmd_evaluate(args) -> int:
    from lexiclass.inference.evaluate import evaluate

    metrics = evaluate(args.run_dir, dataset=args.dataset, test_dataset=args.test_dataset,
                       imdb_archive=args.imdb_archive)
    if args.format == "json":
        print(json.dumps(metrics, indent=2))
    else:
        stored = metrics["stored_accuracy"]
        stored = f"{stored:.4f}" if isinstance(stored, float) else "none"
        print(f"test accuracy: {metrics['accuracy']:.4f} ({metrics['num_examples']} examples); stored: {stored}")
        print(f"macro precision {metrics['macro_precision']:.4f}  recall {metrics['macro_recall']:.4f}  "
              f"F1 {metrics['macro_f1']:.4f}")
        print(f"expected calibration error {metrics['expected_calibration_error']:.4f} (0: the predicted class's "
              "probability is how often it is right)")
    return 0


def check_predict(args) -> None:
    """--output's type and place and the encoding, before TensorFlow is imported or the model loaded."""
    from lexiclass.data.user_files import check_encoding
    from lexiclass.inference.predict_files import output_format_of, refuse_same_file

    check_encoding(args.encoding, args.encoding_errors)
    if args.output and args.engine == "local":
        output_format_of(args.output)
        if args.input:
            refuse_same_file(args.input, args.output)


def cmd_predict(args) -> int:
    import lexiclass

    sources = [t for t in args.texts if t == "-"]
    if args.input and (args.texts):
        raise LexiclassError("give texts as arguments or --input FILE, not both")
    if len(sources) > 1 or (sources and len(args.texts) > 1):
        raise LexiclassError('"-" (stdin) must be the only text argument')
    if not args.texts and not args.input:
        raise LexiclassError("no texts given: pass them as arguments, --input FILE, or '-' for stdin")
    if args.engine == "ray":
        return _predict_on_ray(args)
    predictor = lexiclass.load(args.run_dir)
    if sources and args.format == "table" and not args.output:  # a person reads it: the table, texts beside
        from lexiclass.data.user_files import check_encoding

        codec = check_encoding(args.encoding, args.encoding_errors)  # utf-8 drops a byte-order mark, as files do
        try:
            lines = sys.stdin.buffer.read().decode(codec, args.encoding_errors).splitlines()
        except UnicodeDecodeError as exc:
            raise LexiclassError(f"stdin: cannot decode it as {args.encoding} ({first_line(exc)})") from None
        args.texts, sources = [line for line in lines if line.strip()], []
    if args.input or sources:
        from lexiclass.inference.predict_files import MAX_CHARS, predict_file

        summary = predict_file(predictor, args.input or "-", args.output, text_column=args.text_column,
                               id_column=args.id_column, input_format=args.input_format, encoding=args.encoding,
                               encoding_errors=args.encoding_errors, max_chars=args.max_chars or MAX_CHARS)
        if summary.get("renamed") and not args.quiet:
            renamed = ", ".join(f"{old} -> {new}" for old, new in dict(summary["renamed"]).items())
            print(f"input columns renamed to keep them apart from the results: {renamed}", file=sys.stderr)
        if args.output and not args.quiet:
            print(f"{summary['rows']} rows ({summary['empty_rows']} empty) -> {args.output}", file=sys.stderr)
        return 0
    if args.output:
        raise LexiclassError("--output needs --input FILE (or '-'); texts given as arguments print to stdout")
    results = predictor.predict(args.texts, top_k=args.top_k)
    for text, result in zip(args.texts, results):
        if args.format == "json":
            print(json.dumps(result, ensure_ascii=False))
        else:
            probs = "  ".join(f"{k}={v:.4f}" for k, v in result["probabilities"].items())
            snippet = text if len(text) <= 60 else text[:57] + "..."
            print(f"{result['label']:<12} {probs}  {snippet}")
    return 0


def _predict_on_ray(args) -> int:
    from lexiclass.inference.ray_predict import predict_files_ray

    if not args.input or not args.output or args.texts:
        raise LexiclassError("--engine ray needs --input PATH_OR_GLOB and --output DIR (texts as arguments and "
                             "stdin are scored locally)")
    summary = predict_files_ray(args.run_dir, args.input, args.output, output_format=args.output_format,
                                text_column=args.text_column, id_column=args.id_column,
                                input_format=args.input_format, address=args.address, workers=args.workers,
                                encoding=args.encoding, encoding_errors=args.encoding_errors)
    print(f"{summary['rows']} rows ({summary['empty_rows']} empty) in {len(summary['files'])} files -> "
          f"{args.output} ({summary['rows_per_second']:.0f} rows/s on {summary['workers']} Ray workers)",
          file=sys.stderr)
    return 0


def cmd_tune(args) -> int:
    from lexiclass.training.tune import tune

    config = _config_from_args(args)
    summary = tune(config, args.space, args.trials, args.out, engine=args.engine, address=args.address,
                   workers=args.workers, seed=args.search_seed, overwrite=args.overwrite)
    best = summary.get("best") or {}
    failed = f" ({summary['failed']} failed)" if summary.get("failed") else ""
    print(f"{summary['trials']} trials{failed} -> {args.out}/trials.md")
    if summary.get("best_run"):
        print(f"best trial {best.get('trial')}: validation accuracy {best.get('val_accuracy'):.4f}; "
              f"its run: {args.out}/best (test accuracy {summary['best_run']['test_accuracy']:.4f})")
    return 0


def cmd_export(args) -> int:
    from lexiclass.inference.export import describe, export_run

    print(describe(export_run(args.run_dir, args.out, args.format, overwrite=args.overwrite)))
    return 0


def check_serve(args) -> None:
    """--port and --examples, before TensorFlow is imported (seconds) or the run loaded."""
    if not 0 < args.port < 65536:
        raise LexiclassError(f"--port must be 1..65535, got {args.port}")
    args.example_texts = None
    if args.examples:
        try:
            with open(args.examples, encoding="utf-8") as f:
                args.example_texts = [line.strip() for line in f if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise LexiclassError(f"--examples {args.examples}: cannot read it ({exc})") from None


def cmd_serve(args) -> int:
    from lexiclass.inference.serve import serve

    serve(args.run_dir, host=args.host, port=args.port, examples=args.example_texts, max_texts=args.max_texts,
          max_chars=args.max_chars,
          max_body_bytes=args.max_body_bytes, max_batch=args.max_batch, batch_wait_ms=args.batch_wait_ms,
          max_queue_texts=args.max_queue_texts, request_timeout_s=args.request_timeout_s)
    return 0


def cmd_explain(args) -> int:
    from lexiclass.inference.explain import explain_to_files

    text = sys.stdin.read() if args.text == "-" else args.text
    report = explain_to_files(args.run_dir, text, attention_png=args.out, importance_html=args.html,
                              importance_png=args.png, top_k=args.top_k)
    print(report)
    return 0


# --- the parser ----------------------------------------------------------------------

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


def build_parser() -> argparse.ArgumentParser:
    from lexiclass import __version__

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

    p = sub.add_parser("data", parents=[common], help="load a dataset and print its split sizes",
                       description="Load a dataset the way `train` would and print its split sizes and classes.")
    p.add_argument("source", help='"imdb", or a folder of class subfolders, a .csv, .tsv or .jsonl file')
    p.add_argument("--config", help="TOML/YAML/JSON settings file; flags override it")
    _add_settings(p, DATA_SETTINGS)
    p.set_defaults(func=cmd_data)

    from lexiclass.models.registry import MODELS

    models = "\n".join(f"  {name:<24}{spec.description}" for name, spec in MODELS.items())
    p = sub.add_parser("train", parents=[keras_common], help="train a model and write a run directory",
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

    p = sub.add_parser("evaluate", parents=[keras_common],
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

    p = sub.add_parser("predict", parents=[keras_common],
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

    p = sub.add_parser("serve", parents=[keras_common],
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

    p = sub.add_parser("tune", parents=[keras_common], help="search settings on validation; train the best",
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

    p = sub.add_parser("export", parents=[keras_common], help="export a run to run without lexiclass",
                       description="Export a run: a TensorFlow SavedModel that takes raw strings (servable by "
                                   "TensorFlow Serving), or an ONNX model of the network with its vocabulary and "
                                   "a tokenizing recipe. See docs/export.md.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (from lexiclass train --out)")
    p.add_argument("--format", choices=("savedmodel", "onnx"), default="savedmodel",
                   help="savedmodel: raw strings in; onnx: token ids (or n-gram vectors) in, needs "
                        "pip install 'lexiclass[export]'")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to create; it appears only when complete")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("explain", parents=[keras_common], help="attention maps and token importances for a text",
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
    return parser


def _interrupted(args) -> str:
    if args.command == "train" and args.out:
        return (f"interrupted; the last finished epoch is kept. Continue with: "
                f"lexiclass train --resume --out {args.out}")
    return "interrupted"


def main(argv: list[str] | None = None) -> int:
    import logging

    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if not argv:  # bare `lexiclass`: the overview, not an error
        build_parser().print_help()
        return 0
    args = build_parser().parse_args(argv)
    from lexiclass import progress

    # main() may run inside a longer Python process (tests, notebooks): put the globals back afterwards.
    was_enabled, show_warning = progress.enabled(), warnings.showwarning
    progress.configure(enabled=not args.quiet)
    warnings.showwarning = lambda message, *rest, **kw: print(f"lexiclass {args.command}: warning: {message}",
                                                              file=sys.stderr)
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)  # notes, not results
    logging.getLogger("jax").setLevel(logging.WARNING)  # not JAX's notes on looking for a TPU
    logging.getLogger("gensim").setLevel(logging.WARNING)  # not ~500 lines of per-epoch notes: lexiclass shows a bar
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)  # not its optimizer's notes ("replacing einsum node")
    backend_before = os.environ.get("KERAS_BACKEND")
    try:
        if hasattr(args, "check"):  # a typo is reported at once, not after seconds of imports and loading
            args.check(args)
        if hasattr(args, "backend"):  # `data` needs no Keras
            backend = select_backend(args.backend)
            # Keras imports TensorFlow whenever it is installed, even on JAX or PyTorch (to save models).
            if _needs_keras(args):
                import_tensorflow_quietly(args.verbose, required=backend == "tensorflow")
        return args.func(args)
    except LexiclassError as exc:
        print(f"lexiclass {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lexiclass {args.command}: {_interrupted(args)}", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"lexiclass {args.command}: error: out of memory; use smaller settings or less data", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permission denied, a path that is a folder...
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        kept = " (the run in --out, if any, is unchanged)" if args.command == "train" else ""
        print(f"lexiclass {args.command}: error: {where}{exc.strerror or exc}{kept}", file=sys.stderr)
        return 2
    finally:
        if backend_before is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = backend_before
        progress.configure(enabled=was_enabled)
        warnings.showwarning = show_warning


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines) if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
