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

The flags are built in `lexiclass.cli.parser`, the commands run in `lexiclass.cli.commands`; here is
`main`, which turns every failure into that one line and exit code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

from lexiclass import progress
from lexiclass.backend import import_tensorflow_quietly, select as select_backend
from lexiclass.cli.parser import build_parser
from lexiclass.config import load_config
from lexiclass.errors import LexiclassError
from lexiclass.resources import check_address_space, keep_freed_memory

__all__ = ["build_parser", "main"]


def _needs_keras(args) -> bool:
    """False when the command's model is an n-gram one (nbsvm, tfidf, ...): then TensorFlow, ~7 s to import,
    is never loaded; nor for an ONNX export folder. Nor for a run folder whose config cannot be read: loading it
    fails first, with one line."""
    from lexiclass import run_dir as rd
    from lexiclass.models.registry import MODELS

    model = None
    if args.command in ("train", "tune") and not getattr(args, "resume", False):
        settings = {k.removeprefix("cfg_"): v for k, v in vars(args).items() if k.startswith("cfg_")}
        try:  # the model the command line and --config file name (the command reports a bad setting itself)
            model = load_config(getattr(args, "config", None), settings).model
        except LexiclassError:
            return False
    if getattr(args, "run_dir", None) is not None:
        if rd.is_export(args.run_dir):  # an ONNX export predicts under ONNX Runtime
            return False
        try:
            model = rd.read_json(os.path.join(args.run_dir, rd.CONFIG_FILE)).get("model")
        except LexiclassError:
            return False
    spec = MODELS.get(model) if isinstance(model, str) else None
    return spec is None or spec.needs_keras


@contextlib.contextmanager
def _status(args, doing: str):
    """Say on a terminal what a silent step is doing, and wipe the line when it is done (nothing in pipes,
    logs or with --quiet: there it would be noise after the fact)."""
    shown = not args.quiet and "tensorflow" not in sys.modules and sys.stderr.isatty()
    if shown:
        print(f"lexiclass {args.command}: {doing}...", end="", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        if shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def _interrupted(args) -> str:
    if args.command == "train" and args.out:
        return (f"interrupted; the last finished epoch is kept. Continue with: "
                f"lexiclass train --resume --out {args.out}")
    return "interrupted"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if not argv:  # bare `lexiclass`: the overview, not an error
        build_parser().print_help()
        return 0
    args = build_parser().parse_args(argv)
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
        if args.command != "data":  # every command but `data` runs numba, BLAS or a framework
            check_address_space()
        if hasattr(args, "check"):  # a typo is reported at once, not after seconds of imports and loading
            args.check(args)
        if hasattr(args, "backend"):  # `data` needs no Keras
            backend = select_backend(args.backend)
            # Keras imports TensorFlow whenever it is installed, even on JAX or PyTorch (to save models).
            if _needs_keras(args):
                keep_freed_memory()  # before TensorFlow allocates: 1.4x training here (lexiclass.resources)
                with _status(args, "importing TensorFlow (several seconds)"):
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

