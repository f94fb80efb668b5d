"""`train`: dataset -> vectorizer -> model -> fit with checkpoints -> test metrics, all into a run directory."""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from lexiclass.backend import import_tensorflow_quietly
from lexiclass.config import TrainConfig
from lexiclass.data.download import sha256_of
from lexiclass.errors import LexiclassError
from lexiclass import atomic, run_dir as rd

log = logging.getLogger(__name__)


def _versions() -> dict:
    import keras

    import lexiclass
    from lexiclass.backend import version

    # "backend" names the Keras backend the run was trained on; "backend_version" its package's version.
    return {"lexiclass": lexiclass.__version__, "keras": keras.__version__, "python": platform.python_version(),
            "backend": keras.backend.backend(), "backend_version": version()}


def _recover_swap(out: Path) -> None:
    """Finish or undo a replacement of ``out`` that a kill interrupted between its two renames."""
    old, work = rd.replaced_dir(out), rd.partial_dir(out)
    if not old.exists():
        return
    if out.exists():
        shutil.rmtree(old)  # the new run is in place; only the old one's removal was missed
    elif work.is_dir() and rd.is_run_dir(work) and rd.read_json(work / rd.RUN_FILE).get("status") == "complete":
        os.replace(work, out)
        shutil.rmtree(old)
    else:
        os.replace(old, out)


def _work_dir(out: Path, resume: bool, overwrite: bool) -> Path:
    """The folder to train in, after refusing anything that could lose a user's files.

    A new run is trained in a hidden sibling (`run_dir.partial_dir`) and replaces ``out``
    only once complete, so a failed or interrupted run never touches what ``out`` holds.
    """
    _recover_swap(out)
    work = rd.partial_dir(out)
    if out.exists() and not out.is_dir():
        raise LexiclassError(f"--out {out} is a file; give a folder for the run")
    if resume:
        if work.is_dir():
            return work
        if out.is_dir() and rd.is_run_dir(out):
            if rd.read_json(out / rd.RUN_FILE).get("status") == "complete":
                raise LexiclassError(f"--resume: the run in {out} is already complete")
            return out  # an interrupted run of an older lexiclass, trained in place
        raise LexiclassError(f"--resume: there is no interrupted run for {out}; start one without --resume")
    if work.exists():
        if not overwrite:
            raise LexiclassError(f"an interrupted run for {out} exists: continue it with "
                                 f"`lexiclass train --resume --out {out}`, or add --overwrite to start again")
        shutil.rmtree(work)
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise LexiclassError(f"{out} is not empty: choose another --out, add --resume to continue "
                                 "an interrupted run, or --overwrite to replace it")
        if not rd.is_run_dir(out):
            raise LexiclassError(f"--overwrite: {out} is not a lexiclass run (no run.json); it was left as it "
                                 "is: remove it yourself or choose another --out")
    return work


def _publish(work: Path, out: Path) -> None:
    """Move the finished run from ``work`` to ``out``, replacing what was there (two renames)."""
    if work == out:
        return
    old = rd.replaced_dir(out)
    if out.exists():
        os.replace(out, old)
    os.replace(work, out)
    shutil.rmtree(old, ignore_errors=True)


def _resumed_config(work: Path) -> TrainConfig:
    path = work / rd.CONFIG_FILE
    if not path.exists():
        raise LexiclassError(f"--resume: the interrupted run in {work} stopped before its settings were saved; "
                             "start it again with --overwrite")
    return TrainConfig.from_dict(rd.read_json(path), source=str(path))


def _load_state(work: Path, run_id: str | None) -> dict | None:
    """The checkpoint state to resume from (None: no finished epoch), checked to belong to this run."""
    path = work / rd.CHECKPOINT_DIR / rd.STATE_FILE
    if not path.exists():
        return None
    state = rd.read_json(path)
    redo = (f"; delete {path.parent} to restart this run from epoch 1 with --resume, or start again with "
            "--overwrite")
    name = state.get("model")
    if not isinstance(name, str) or not re.fullmatch(r"epoch-\d{4,6}\.keras", name):
        raise LexiclassError(f"{path}: 'model' must name a checkpoint file epoch-NNNN.keras in its own folder, "
                             f"got {str(name)[:80]!r}{redo}")
    done, history = state.get("epochs_done"), state.get("history")
    if (isinstance(done, bool) or not isinstance(done, int) or done != int(name[6:-6]) or not isinstance(history, list)
            or len(history) != done or not all(isinstance(row, dict) for row in history)):
        raise LexiclassError(f"{path}: epochs_done and history do not match its checkpoint {name}{redo}")
    best, best_epoch = state.get("best"), state.get("best_epoch")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))
                             or not isinstance(best_epoch, int) or not 1 <= best_epoch <= done):
        raise LexiclassError(f"{path}: best / best_epoch are not a value and an epoch 1..{done}{redo}")
    model_path = path.parent / name
    if not model_path.is_file() or model_path.is_symlink():
        raise LexiclassError(f"{model_path} is missing{redo}")
    if state.get("run_id") != run_id or state.get("model_sha256") != sha256_of(model_path):
        raise LexiclassError(f"{model_path} is not the checkpoint this run saved (run id or checksum differs){redo}")
    return state


def absolute_sources(config: TrainConfig) -> TrainConfig:
    """The config with its data paths made absolute (IMDB: the archive or folder actually used), so the
    saved run finds its data again from any folder (`lexiclass evaluate RUN`)."""
    from lexiclass.data import resolve_imdb_source

    keys = ("unlabeled",) if config.dataset == "imdb" else ("dataset", "test_dataset", "unlabeled")
    paths = {key: str(Path(getattr(config, key)).expanduser().resolve()) for key in keys
             if getattr(config, key) and getattr(config, key) != "-"}  # "-" is stdin, not a file
    if config.dataset == "imdb":
        paths["imdb_archive"] = resolve_imdb_source(config.imdb_archive)
    return config.updated(paths)


def train(config: TrainConfig, out, resume: bool = False, overwrite: bool = False, dataset=None,
          verbose: int | None = None, callbacks=()) -> dict:
    """Train ``config.model`` and write a complete run directory at ``out``; return its ``run.json``.

    The run is built in a hidden folder beside ``out`` (see `_work_dir`) and moved to
    ``out`` when complete; with ``overwrite`` an existing run there is replaced only then.
    ``dataset`` (a `TextDataset`) skips loading from ``config.dataset``, e.g. for tests.
    With ``resume=True`` the config, vocabulary and last finished epoch are taken from the
    interrupted run. ``callbacks`` are extra Keras callbacks, run after the checkpointing one.
    ``verbose``: Keras' fit verbosity (default: a bar on a terminal, a line per epoch otherwise).
    """
    from lexiclass.data import load_dataset
    from lexiclass.inference.evaluate import evaluate_run_files
    from lexiclass.models.registry import get_model_spec
    from lexiclass.training.callbacks import write_history_csv

    out = Path(out)
    work = _work_dir(out, resume, overwrite)
    state, run_id = None, uuid.uuid4().hex
    if resume:
        for folder in (work, work / rd.CHECKPOINT_DIR):
            atomic.remove_temporaries(folder)  # what a kill left mid-write
        config = _resumed_config(work)
        if (work / rd.RUN_FILE).exists():
            run_id = rd.read_json(work / rd.RUN_FILE).get("run_id") or run_id
        state = _load_state(work, run_id)
    config.validate()
    spec = get_model_spec(config.model)
    if dataset is None and not resume:
        config = absolute_sources(config)
    data = dataset if dataset is not None else load_dataset(config)
    log.info("data: %s, classes %s", data.sizes(), data.label_names)
    auto = None
    if config.model == "auto":  # choose on validation first; the winner is then trained like any model
        from lexiclass.training.auto import select_model

        config, auto = select_model(config, data)
        spec = get_model_spec(config.model)
    if spec.inputs != "text":
        import_tensorflow_quietly(required=False)  # before Keras: no absl/oneDNN lines from the Python API either
    if config.precision == "auto" and spec.inputs != "text":  # config.json records the precision used
        import keras

        from lexiclass.precision import resolve

        used, why = resolve(config.precision, keras.backend.backend())
        config = config.updated({"precision": used})
        log.info("precision: %s (%s)", used, why)
    if resume and (work / rd.LABELS_FILE).exists():
        if rd.read_labels(work) != data.label_names:
            raise LexiclassError(f"--resume: the dataset's labels {data.label_names} differ from "
                                 f"{work / rd.LABELS_FILE}")
    else:
        work.mkdir(parents=True, exist_ok=True)
        atomic.write_json(work / rd.CONFIG_FILE, config.to_dict())
        atomic.write_json(work / rd.LABELS_FILE, data.label_names)
    atomic.write_json(work / rd.RUN_FILE, {"status": "running", "model": config.model, "run_id": run_id})

    if spec.inputs == "text":
        summary = _fit_text_model(spec, config, data, work)
    else:
        verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
        summary = _fit_keras_model(spec, config, data, work, state, verbose, callbacks, run_id)

    history = summary.pop("history")
    metrics = evaluate_run_files(work, data, config)
    info = {
        "status": "complete", "model": config.model, "run_id": run_id, **summary,
        "test_accuracy": metrics["accuracy"], "data_sizes": data.sizes(), "data_source": data.source,
        "model_bytes": _size(work / (rd.MODEL_FILE if spec.inputs != "text" else rd.MODEL_DIR)),
        "versions": _versions(), **({"auto": auto} if auto else {}),
    }
    write_history_csv(work / rd.HISTORY_FILE, history)
    _write_plots(work, history, metrics, summary["best_epoch"])
    shutil.rmtree(work / rd.CHECKPOINT_DIR, ignore_errors=True)  # the run is complete; nothing to resume
    atomic.write_json(work / rd.RUN_FILE, info)
    _publish(work, out)
    return info


def _fit_keras_model(spec, config, data, out: Path, state: dict | None, verbose: int, callbacks,
                     run_id: str) -> dict:
    """Epochs of ``model.fit`` with a checkpoint after each; the best epoch's model ends in model.keras."""
    import keras

    from lexiclass.models.heads import compile_model
    from lexiclass.models.saved import on_this_backend
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
        from lexiclass.layers import register

        register()  # the custom layers, for load_model

        model = on_this_backend(keras.models.load_model(out / rd.CHECKPOINT_DIR / state["model"]))
        log.info("resuming after epoch %d of %d", initial_epoch, epochs)
    else:
        model = compile_model(spec.build(config, data.num_classes, vectorizer.vocabulary), data.num_classes, config)

    checkpoint = RunCheckpoint(out, monitor=config.monitor, run_id=run_id, history=(state or {}).get("history"),
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
                  callbacks=callbacks, verbose=verbose, shuffle=False,  # batches shuffle themselves
                  class_weight=class_weights(data.train_labels, data.num_classes, config.class_weight))
    if checkpoint.best_epoch is None:
        raise LexiclassError(f"no epoch produced a finite {config.monitor}; nothing to save")
    return {
        "best_epoch": checkpoint.best_epoch, "epochs_run": len(checkpoint.history), "monitor": config.monitor,
        "best_value": checkpoint.best, "history": checkpoint.history,
        "seconds_per_epoch_median": float(np.median([row["seconds"] for row in checkpoint.history])),
        "fit_seconds_this_session": time.perf_counter() - started,
    }


def class_weights(labels, num_classes: int, mode: str) -> dict[int, float] | None:
    """``balanced``: class k weighs n / (K * n_k), as scikit-learn's ``class_weight="balanced"``."""
    if mode != "balanced":
        return None
    counts = np.bincount(np.asarray(labels), minlength=num_classes)
    return {k: float(len(labels) / (num_classes * count)) for k, count in enumerate(counts) if count}


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
        # A model with parts learned without labels (nbsvm-docvec's vector model) refits the rest.
        texts, labels = data.train_texts + data.val_texts, np.concatenate([data.train_labels, data.val_labels])
        model = model.refit(texts, labels) if hasattr(model, "refit") else spec.build(config).fit(texts, labels)
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


def _write_plots(out: Path, history: list[dict], metrics: dict, best_epoch: int | None = None) -> None:
    from lexiclass.training.metrics import confusion_matrix_figure, training_curves_figure

    for figure, name in ((training_curves_figure(history, best_epoch=best_epoch), rd.CURVES_FILE),
                         (confusion_matrix_figure(metrics), rd.CONFUSION_FILE)):
        atomic.save_figure(figure, out / name)
