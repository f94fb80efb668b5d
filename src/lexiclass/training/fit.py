"""`train`: dataset -> vectorizer -> model -> fit with checkpoints -> test metrics, all into a run directory."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from lexiclass.config import TrainConfig
from lexiclass.errors import LexiclassError
from lexiclass import atomic, run_dir as rd

log = logging.getLogger(__name__)


def _versions() -> dict:
    import keras
    import tensorflow as tf

    import lexiclass

    return {"lexiclass": lexiclass.__version__, "keras": keras.__version__, "tensorflow": tf.__version__,
            "python": platform.python_version(), "backend": keras.backend.backend()}


def _prepare_out_dir(out: Path, resume: bool, overwrite: bool) -> dict | None:
    """Return the saved state to resume from (None for a fresh run); refuse to clobber a run by accident."""
    if resume:
        if not (out / rd.RUN_FILE).exists():
            raise LexiclassError(f"--resume: {out} holds no run to resume")
        info = rd.read_json(out / rd.RUN_FILE)
        if info.get("status") == "complete":
            raise LexiclassError(f"--resume: the run in {out} is already complete")
        state_path = out / rd.CHECKPOINT_DIR / rd.STATE_FILE
        return rd.read_json(state_path) if state_path.exists() else {}
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise LexiclassError(f"{out} is not empty: choose another --out, add --resume to continue "
                                 "an interrupted run, or --overwrite to replace it")
        shutil.rmtree(out)
    return None


def train(config: TrainConfig, out, resume: bool = False, overwrite: bool = False, dataset=None,
          verbose: int | None = None, callbacks=()) -> dict:
    """Train ``config.model`` and write a complete run directory at ``out``; return its ``run.json``.

    ``dataset`` (a `TextDataset`) skips loading from ``config.dataset``, e.g. for tests.
    With ``resume=True`` the config, vocabulary and last finished epoch are taken from ``out``.
    ``callbacks`` are extra Keras callbacks, run after the checkpointing one.
    """
    from lexiclass.data import load_dataset
    from lexiclass.inference.evaluate import evaluate_run_files
    from lexiclass.models.registry import get_model_spec
    from lexiclass.training.callbacks import write_history_csv

    out = Path(out)
    state = _prepare_out_dir(out, resume, overwrite)
    if state is not None:
        config = TrainConfig.from_dict(rd.read_json(out / rd.CONFIG_FILE), source=str(out / rd.CONFIG_FILE))
    config.validate()
    spec = get_model_spec(config.model)
    data = dataset if dataset is not None else load_dataset(config)
    log.info("data: %s, classes %s", data.sizes(), data.label_names)
    out.mkdir(parents=True, exist_ok=True)
    if state is None:
        atomic.write_json(out / rd.RUN_FILE, {"status": "running", "model": config.model})
        atomic.write_json(out / rd.CONFIG_FILE, config.to_dict())
        atomic.write_json(out / rd.LABELS_FILE, data.label_names)
    elif rd.read_json(out / rd.LABELS_FILE) != data.label_names:
        raise LexiclassError(f"--resume: the dataset's labels differ from {out / rd.LABELS_FILE}")

    if spec.inputs == "text":
        summary = _fit_text_model(spec, config, data, out)
    else:
        verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
        summary = _fit_keras_model(spec, config, data, out, state, verbose, callbacks)

    history = summary.pop("history")
    metrics = evaluate_run_files(out, data, config)
    info = {
        "status": "complete", "model": config.model, **summary,
        "test_accuracy": metrics["accuracy"], "data_sizes": data.sizes(), "data_source": data.source,
        "model_bytes": _size(out / (rd.MODEL_FILE if spec.inputs != "text" else rd.MODEL_DIR)),
        "versions": _versions(),
    }
    write_history_csv(out / rd.HISTORY_FILE, history)
    _write_plots(out, history, metrics)
    atomic.write_json(out / rd.RUN_FILE, info)
    shutil.rmtree(out / rd.CHECKPOINT_DIR, ignore_errors=True)  # the run is complete; nothing to resume
    return info


def _fit_keras_model(spec, config, data, out: Path, state: dict | None, verbose: int, callbacks) -> dict:
    """Epochs of ``model.fit`` with a checkpoint after each; the best epoch's model ends in model.keras."""
    import keras

    from lexiclass.models.heads import compile_model
    from lexiclass.text.pipeline import make_vectorizer, model_inputs
    from lexiclass.text.vectorizer import Vectorizer
    from lexiclass.training.callbacks import ResumableEarlyStopping, RunCheckpoint

    keras.utils.set_random_seed(config.seed)
    epochs = config.epochs or spec.default_epochs
    if state is None:
        vectorizer = make_vectorizer(config, spec.inputs).adapt(data.train_texts)
        vectorizer.save(out)
    else:
        vectorizer = Vectorizer.load(out)
    initial_epoch = (state or {}).get("epochs_done", 0)
    # Epoch e of training shuffles with seed + e, so a resumed run continues the same sequence.
    train_ds = model_inputs(vectorizer, data.train_texts, data.train_labels, config, spec.inputs,
                             shuffle=True, seed=config.seed + initial_epoch)
    val_ds = model_inputs(vectorizer, data.val_texts, data.val_labels, config, spec.inputs)
    if initial_epoch:
        import lexiclass.layers  # noqa: F401  registers the custom layers for load_model

        model = keras.models.load_model(out / rd.CHECKPOINT_DIR / state["model"])
        log.info("resuming after epoch %d of %d", initial_epoch, epochs)
    else:
        model = compile_model(spec.build(config, data.num_classes, vectorizer.vocabulary), data.num_classes, config)

    checkpoint = RunCheckpoint(out, monitor=config.monitor, history=(state or {}).get("history"),
                               best=(state or {}).get("best"), best_epoch=(state or {}).get("best_epoch"))
    callbacks = [checkpoint, *callbacks]
    stale = initial_epoch - (checkpoint.best_epoch or initial_epoch)  # finished epochs since the best one
    if config.early_stopping_patience:
        callbacks.append(ResumableEarlyStopping(monitor=config.monitor, patience=config.early_stopping_patience,
                                                best=checkpoint.best, wait=stale))
        if initial_epoch and stale >= config.early_stopping_patience:
            epochs = initial_epoch  # the interrupted run had already stopped early: only finish the files
    started = time.perf_counter()
    if initial_epoch < epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=verbose, shuffle=False)  # batches shuffle themselves
    if checkpoint.best_epoch is None:
        raise LexiclassError(f"no epoch produced a finite {config.monitor}; nothing to save")
    return {
        "best_epoch": checkpoint.best_epoch, "epochs_run": len(checkpoint.history), "monitor": config.monitor,
        "best_value": checkpoint.best, "history": checkpoint.history,
        "seconds_per_epoch_median": float(np.median([row["seconds"] for row in checkpoint.history])),
        "fit_seconds_this_session": time.perf_counter() - started,
    }


def _fit_text_model(spec, config, data, out: Path) -> dict:
    """Fit a scikit-learn-style model on the training split and score it on validation; then, with
    ``refit_on_val``, fit the same settings again on train + validation. The folder is saved atomically."""
    from lexiclass.training.metrics import classification_metrics

    started = time.perf_counter()
    model = spec.build(config).fit(data.train_texts, data.train_labels)
    val = classification_metrics(data.val_labels, model.predict_proba(data.val_texts), data.label_names)
    log.info("fit on %d texts in %.0f s; validation accuracy %.4f", len(data.train_texts),
             time.perf_counter() - started, val["accuracy"])
    if config.refit_on_val and len(data.val_texts):
        # Settings were chosen on validation; the final model may learn from every labelled text.
        model = spec.build(config).fit(data.train_texts + data.val_texts,
                                       np.concatenate([data.train_labels, data.val_labels]))
    fit_seconds = time.perf_counter() - started
    tmp = out / f".{rd.MODEL_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(tmp)
    shutil.rmtree(out / rd.MODEL_DIR, ignore_errors=True)
    os.replace(tmp, out / rd.MODEL_DIR)  # the model folder appears whole or not at all
    row = {"epoch": 1, "val_accuracy": val["accuracy"], "seconds": round(fit_seconds, 3)}
    return {"best_epoch": 1, "epochs_run": 1, "monitor": "val_accuracy", "best_value": val["accuracy"],
            "refit_on_val": bool(config.refit_on_val), "history": [row],
            "seconds_per_epoch_median": fit_seconds, "fit_seconds_this_session": fit_seconds}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _write_plots(out: Path, history: list[dict], metrics: dict) -> None:
    from lexiclass.training.metrics import confusion_matrix_figure, training_curves_figure

    for figure, name in ((training_curves_figure(history), rd.CURVES_FILE),
                         (confusion_matrix_figure(metrics), rd.CONFUSION_FILE)):
        atomic.save_figure(figure, out / name)
