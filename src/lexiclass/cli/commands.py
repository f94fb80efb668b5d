"""What each ``lexiclass`` subcommand does once its flags are parsed: ``cmd_*`` run it, ``check_*`` refuse
a mistake first. Every command imports its library module when it runs: most of them import Keras
(seconds), which ``lexiclass data`` and the n-gram models never need.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import lexiclass
from lexiclass.config import TrainConfig, load_config
from lexiclass.data.user_files import check_encoding
from lexiclass.errors import LexiclassError, first_line


# --- settings given as flags ----------------------------------------------------------

def _config_from_args(args, **fixed) -> TrainConfig:
    overrides = {k.removeprefix("cfg_"): v for k, v in vars(args).items() if k.startswith("cfg_")}
    return load_config(getattr(args, "config", None), {**overrides, **fixed})


def _given_settings(args) -> list[str]:
    return ["--" + k.removeprefix("cfg_").replace("_", "-") for k in vars(args) if k.startswith("cfg_")]


# --- the subcommands -----------------------------------------------------------------

def cmd_data(args) -> int:
    from lexiclass.data import load_dataset

    config = _config_from_args(args, dataset=args.source)
    data = load_dataset(config)
    sizes = data.sizes()
    print(f"source: {data.source}")
    print(f"train: {sizes['train']}  val: {sizes['val']}  test: {sizes['test']}")
    counts = ", ".join(f"{k}={v}" for k, v in data.class_counts().items())
    if data.multi_label:
        print(f"labels ({data.num_classes}, multi-label, {data.label_cardinality():.2f} per training text): {counts}")
    else:
        print(f"classes ({data.num_classes}): {counts}")
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
        import keras  # deferred: Keras imports TensorFlow (seconds); only Keras runs take --tensorboard

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
    if info.get("monitor") == "val_micro_f1":  # a multi-label n-gram model: one fit, no epochs
        print(f"fit in {info['seconds_per_epoch_median']:.1f} s (validation micro-F1 {info['best_value']:.4f})")
    elif info.get("monitor") == "val_accuracy" and info["epochs_run"] == 1:  # an n-gram model: one fit, no epochs
        print(f"fit in {info['seconds_per_epoch_median']:.1f} s (validation accuracy {info['best_value']:.4f})")
        if (calibration := info.get("calibration")) and calibration.get("reason"):
            print(f"not calibrated: {calibration['reason']}")
        elif calibration:
            print(f"calibrated on validation: temperature {calibration['temperature']:.3f} (expected calibration "
                  f"error {calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f})")
    else:
        print(f"best epoch {info['best_epoch']} of {info['epochs_run']} "
              f"(median {info['seconds_per_epoch_median']:.1f} s/epoch)")
    if "test_micro_f1" in info:
        print(f"test micro-F1: {info['test_micro_f1']:.4f}, subset accuracy {info['test_accuracy']:.4f} "
              f"({info['data_sizes']['test']} examples)")
    else:
        print(f"test accuracy: {info['test_accuracy']:.4f} ({info['data_sizes']['test']} examples)")
    return 0


def cmd_evaluate(args) -> int:
    from lexiclass.inference.evaluate import evaluate

    metrics = evaluate(args.run_dir, dataset=args.dataset, test_dataset=args.test_dataset,
                       imdb_archive=args.imdb_archive)
    if args.format == "json":
        print(json.dumps(metrics, indent=2))
    elif metrics.get("multi_label"):
        _print_multi_label_metrics(metrics)
    else:
        stored = metrics["stored_accuracy"]
        stored = f"{stored:.4f}" if isinstance(stored, float) else "none"
        print(f"test accuracy: {metrics['accuracy']:.4f} ({metrics['num_examples']} examples); stored: {stored}")
        print(f"macro precision {metrics['macro_precision']:.4f}  recall {metrics['macro_recall']:.4f}  "
              f"F1 {metrics['macro_f1']:.4f}")
        print(f"expected calibration error {metrics['expected_calibration_error']:.4f} (0: the predicted class's "
              "probability is how often it is right)")
    return 0


def _print_multi_label_metrics(metrics: dict) -> None:
    stored = metrics["stored_accuracy"]
    stored = f"{stored:.4f}" if isinstance(stored, float) else "none"
    print(f"test micro-F1 {metrics['micro_f1']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  subset accuracy "
          f"{metrics['subset_accuracy']:.4f} (stored: {stored})  Hamming loss {metrics['hamming_loss']:.4f} "
          f"({metrics['num_examples']} examples)")
    print(f"{'label':<24} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8} {'threshold':>9}")
    for name, row in metrics["per_label"].items():
        print(f"{name[:24]:<24} {row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} "
              f"{row['support']:>8} {row['threshold']:>9.2f}")


def _check_argument_text(number: int, text: str) -> None:
    """A text argument the shell passed as bytes that are not UTF-8: Python keeps each undecodable byte
    as a surrogate U+DC80..U+DCFF ("surrogateescape"); name the byte, not the surrogate."""
    bad = next((i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"), None)
    if bad is not None:
        raise LexiclassError(f"text argument {number} is not valid UTF-8 (byte 0x{ord(text[bad]) - 0xDC00:02X} at "
                             f"character {bad}): set the terminal to UTF-8, or put the text in a file and pass "
                             "--input FILE --encoding ENCODING")


def check_predict(args) -> None:
    """--output's type and place and the encoding, before TensorFlow is imported or the model loaded."""
    from lexiclass.inference.predict_files import output_format_of, refuse_same_file

    check_encoding(args.encoding, args.encoding_errors)
    for i, text in enumerate(args.texts, 1):
        _check_argument_text(i, text)
    if args.output and args.engine == "local":
        output_format_of(args.output)
        if args.input:
            refuse_same_file(args.input, args.output)


def cmd_predict(args) -> int:
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
            label = ",".join(result["labels"]) or "(none)" if "labels" in result else result["label"]
            print(f"{label:<12} {probs}  {snippet}")
    return 0


def rate_text(per_second: float | None) -> str:
    """A rate as people read it: "1,234", "3.5", "0.13" (a handful of rows behind Ray's start-up once printed 0)."""
    if per_second is None:
        return "?"
    return f"{per_second:,.0f}" if per_second >= 10 else f"{per_second:.2g}"


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
          f"{args.output} ({rate_text(summary['rows_per_second'])} rows/s on {summary['workers']} Ray workers)",
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
        ranked_by = summary.get("ranked_by", "val_accuracy")
        what = "micro-F1" if ranked_by == "val_micro_f1" else "accuracy"
        run = summary["best_run"]
        tested = (f"test micro-F1 {run['test_micro_f1']:.4f}" if "test_micro_f1" in run
                  else f"test accuracy {run['test_accuracy']:.4f}")
        print(f"best trial {best.get('trial')}: validation {what} {best.get(ranked_by):.4f}; "
              f"its run: {args.out}/best ({tested})")
    return 0


def cmd_export(args) -> int:
    from lexiclass.inference.export import describe, export_run

    print(describe(export_run(args.run_dir, args.out, args.format, overwrite=args.overwrite, int8=args.int8)))
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

