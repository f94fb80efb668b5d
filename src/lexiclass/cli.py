"""The ``lexiclass`` command: one subcommand per lifecycle step, a thin shell over the library.

    lexiclass data imdb|PATH         load a dataset and print its splits
    lexiclass train --model NAME     train and write a run directory
    lexiclass evaluate RUN_DIR       reload a run and score its test split
    lexiclass predict RUN_DIR TEXT   labels and probabilities for texts ("-" reads stdin)
    lexiclass serve RUN_DIR          HTTP API
    lexiclass explain RUN_DIR TEXT   attention maps and token importances
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from lexiclass.config import CHOICES, TrainConfig
from lexiclass.errors import LexiclassError


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ start-up chatter


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per `TrainConfig` field; unset flags leave the config file's value alone."""
    group = parser.add_argument_group("settings (also accepted in a --config TOML/YAML file)")
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        extra = {"choices": CHOICES[field.name]} if field.name in CHOICES else {}
        if field.name == "model":
            from lexiclass.models.registry import MODEL_NAMES

            extra = {"choices": MODEL_NAMES}
        group.add_argument(flag, dest=f"cfg_{field.name}", default=argparse.SUPPRESS, metavar="VALUE",
                           help=f"default: {getattr(defaults, field.name)}", **extra)


def _config_from_args(args) -> TrainConfig:
    from lexiclass.config import load_config

    overrides = {k.removeprefix("cfg_"): v for k, v in vars(args).items() if k.startswith("cfg_")}
    return load_config(args.config, overrides)


def cmd_data(args) -> int:
    from lexiclass.data import load_dataset

    config = _config_from_args(args)
    data = load_dataset(config, dataset=args.source, test_dataset=args.test)
    sizes = data.sizes()
    print(f"source: {data.source}")
    print(f"train: {sizes['train']}  val: {sizes['val']}  test: {sizes['test']}")
    print(f"classes ({data.num_classes}): " + ", ".join(f"{k}={v}" for k, v in data.class_counts().items()))
    return 0


def cmd_train(args) -> int:
    from lexiclass.training.fit import train

    if not args.resume and args.out is None:
        raise LexiclassError("train needs --out RUN_DIR")
    config = _config_from_args(args)
    info = train(config, args.out, resume=args.resume, overwrite=args.overwrite)
    print(f"run directory: {args.out}")
    print(f"best epoch {info['best_epoch']} of {info['epochs_run']} "
          f"(median {info['seconds_per_epoch_median']:.1f} s/epoch)")
    print(f"test accuracy: {info['test_accuracy']:.4f} ({info['data_sizes']['test']} examples)")
    return 0


def cmd_evaluate(args) -> int:
    from lexiclass.inference.evaluate import evaluate

    metrics = evaluate(args.run_dir, dataset=args.dataset, test_dataset=args.test, imdb_archive=args.imdb_archive)
    if args.format == "json":
        print(json.dumps(metrics, indent=2))
    else:
        print(f"test accuracy: {metrics['accuracy']:.4f} ({metrics['num_examples']} examples); "
              f"stored: {metrics['stored_accuracy']}")
        print(f"macro precision {metrics['macro_precision']:.4f}  recall {metrics['macro_recall']:.4f}  "
              f"F1 {metrics['macro_f1']:.4f}")
    return 0


def read_texts(texts: list[str], file: str | None) -> list[str]:
    """Texts from arguments, ``-`` (stdin, one per line) and ``--file`` (one per line)."""
    out = []
    for text in texts:
        if text == "-":
            out.extend(line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            out.append(text)
    if file:
        try:
            with open(file, encoding="utf-8") as f:
                out.extend(line.rstrip("\n") for line in f if line.strip())
        except (OSError, UnicodeDecodeError) as exc:
            raise LexiclassError(f"cannot read {file}: {exc}") from exc
    if not out:
        raise LexiclassError("no texts given: pass them as arguments, with --file, or '-' for stdin")
    return out


def cmd_predict(args) -> int:
    import lexiclass

    texts = read_texts(args.texts, args.file)
    predictor = lexiclass.load(args.run_dir)
    for text, result in zip(texts, predictor.predict(texts)):
        if args.format == "json":
            print(json.dumps(result))
        else:
            probs = "  ".join(f"{k}={v:.4f}" for k, v in result["probabilities"].items())
            snippet = text if len(text) <= 60 else text[:57] + "..."
            print(f"{result['label']:<12} {probs}  {snippet}")
    return 0


def cmd_serve(args) -> int:
    from lexiclass.inference.serve import serve

    serve(args.run_dir, host=args.host, port=args.port, max_texts=args.max_texts, max_chars=args.max_chars,
          max_body_bytes=args.max_body_bytes, max_batch=args.max_batch, batch_wait_ms=args.batch_wait_ms)
    return 0


def cmd_explain(args) -> int:
    from lexiclass.inference.explain import explain_to_files

    text = sys.stdin.read() if args.text == "-" else args.text
    report = explain_to_files(args.run_dir, text, out=args.out, html=args.html, top_k=args.top_k)
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lexiclass", description=__doc__.split("\n\n")[0])
    from lexiclass import __version__

    parser.add_argument("--version", action="version", version=f"lexiclass {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="load a dataset and print its split sizes")
    p.add_argument("source", help='"imdb", or a folder / .csv / .tsv / .jsonl of labelled text')
    p.add_argument("--test", help="a second file or folder holding the test split")
    p.add_argument("--config", help="TOML/YAML settings file")
    _add_config_flags(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train a model and write a run directory")
    p.add_argument("--out", help="run directory to create (or continue with --resume)")
    p.add_argument("--config", help="TOML/YAML settings file; command-line flags override it")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    _add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="reload a run and score its test split")
    p.add_argument("run_dir")
    p.add_argument("--dataset", help="score another dataset's test split instead")
    p.add_argument("--test", help="with --dataset: a separate test file or folder")
    p.add_argument("--imdb-archive", help="local aclImdb archive or folder")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict labels for texts")
    p.add_argument("run_dir")
    p.add_argument("texts", nargs="*", help='texts to classify; "-" reads one text per line from stdin')
    p.add_argument("--file", help="a UTF-8 file with one text per line")
    p.add_argument("--format", choices=("json", "table"), default="json")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("serve", help="serve a run over HTTP (FastAPI + uvicorn)")
    p.add_argument("run_dir")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-texts", type=int, default=256, help="texts per request")
    p.add_argument("--max-chars", type=int, default=100_000, help="characters per text")
    p.add_argument("--max-body-bytes", type=int, default=5_000_000, help="request body size")
    p.add_argument("--max-batch", type=int, default=32, help="texts per micro-batch across requests")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a micro-batch waits to fill")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("explain", help="attention maps and token importances for a text")
    p.add_argument("run_dir")
    p.add_argument("text", help='the text to explain ("-" reads stdin)')
    p.add_argument("--out", default="attention.png", help="attention heatmap PNG (Transformer runs)")
    p.add_argument("--html", default="importance.html", help="token-importance HTML (a PNG is written beside it)")
    p.add_argument("--top-k", type=int, default=10, help="strongest token pairs / tokens to list")
    p.set_defaults(func=cmd_explain)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)  # progress notes, not results
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LexiclassError as exc:
        print(f"lexiclass {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lexiclass {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
