"""`train`: load the data -> create the model -> fit (with checkpoints) -> save -> score the test split,
all into a run folder built beside ``out`` and moved there when complete."""

from __future__ import annotations

import logging
import platform
import re
import shutil
import sys
import uuid
from pathlib import Path

from lexiclass import atomic, run_dir as rd
from lexiclass.backend import import_tensorflow_quietly
from lexiclass.config import TrainConfig
from lexiclass.data import load_dataset, resolve_imdb_source
from lexiclass.data.download import sha256_of
from lexiclass.errors import ConfigError, LexiclassError
from lexiclass.models.checks import is_multi_label
from lexiclass.models.classifier import FitSession, validation_decisions
from lexiclass.models.registry import get_model_spec, multi_label_models
from lexiclass.precision import resolve
from lexiclass.training.auto import select_model
from lexiclass.training.metrics import (confusion_matrix_figure, per_label_figure, score_test_split,
                                       training_curves_figure)

log = logging.getLogger(__name__)


def _versions(needs_keras: bool) -> dict:
    """The versions a run was made with. Runs without a Keras network name the packages they use without
    importing Keras (TensorFlow's import alone is ~7 s and ~600 MB)."""
    from importlib.metadata import version as installed

    import lexiclass

    if not needs_keras:
        return {"lexiclass": lexiclass.__version__, "python": platform.python_version(),
                "numpy": installed("numpy"), "scikit-learn": installed("scikit-learn")}
    import keras

    from lexiclass.backend import version

    # "backend" names the Keras backend the run was trained on; "backend_version" its package's version.
    return {"lexiclass": lexiclass.__version__, "keras": keras.__version__, "python": platform.python_version(),
            "backend": keras.backend.backend(), "backend_version": version()}


def _work_dir(out: Path, resume: bool, overwrite: bool) -> Path:
    """The folder to train in, after refusing anything that could lose a user's files.

    A new run is trained in a hidden sibling (`run_dir.partial_dir`) and replaces ``out``
    only once complete, so a failed or interrupted run never touches what ``out`` holds.
    """
    rd.recover_swap(out)
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
    keys = ("unlabeled",) if config.dataset == "imdb" else ("dataset", "test_dataset", "val_dataset", "unlabeled")
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
    if dataset is None and not resume:
        config = absolute_sources(config)
    data = dataset if dataset is not None else load_dataset(config)
    log.info("data: %s, classes %s", data.sizes(), data.label_names)
    config = _multi_label_config(config, data)
    auto = None
    if config.model == "auto":  # choose on validation first; the winner is then trained like any model
        config, auto = select_model(config, data)
    spec = get_model_spec(config.model)
    if config.multi_label and not spec.multi_label:
        raise ConfigError(f"{config.model} learns one class per text; for several labels per text use one of "
                          f"{', '.join(multi_label_models())}")
    if spec.needs_keras:
        if config.multi_label and config.class_weight == "balanced":
            raise ConfigError("class_weight = 'balanced' weighs classes of single-label data; a Keras network "
                              "cannot weigh the labels of multi-label data (use none, or an n-gram model)")
        if config.calibration == "temperature":
            raise ConfigError(f"calibration = 'temperature' is for the n-gram models; {config.model} is a Keras "
                              "network, whose validation loss already picks its epoch (use auto or none)")
        config = _keras_precision(config)
    if resume and (work / rd.LABELS_FILE).exists():
        if rd.read_labels(work) != data.label_names:
            raise LexiclassError(f"--resume: the dataset's labels {data.label_names} differ from "
                                 f"{work / rd.LABELS_FILE}")
    else:
        work.mkdir(parents=True, exist_ok=True)
        atomic.write_json(work / rd.CONFIG_FILE, config.to_dict())
        atomic.write_json(work / rd.LABELS_FILE, data.label_names)
    atomic.write_json(work / rd.RUN_FILE, {"status": "running", "model": config.model, "run_id": run_id})

    model = spec.create(config, data.num_classes)
    session = FitSession(refit_on_val=bool(config.refit_on_val),
                         calibrate=config.calibration != "none" and not config.multi_label,
                         threshold=config.threshold, state=state, callbacks=tuple(callbacks),
                         verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose, run_id=run_id)
    summary = model.fit_run(data, work, session)
    model.save_to_run(work)
    if "calibration" in summary:  # read back by the model's loader: every later prediction uses it
        atomic.write_json(work / rd.CALIBRATION_FILE, summary["calibration"])
    history = summary.pop("history")
    metrics, thresholds = _score(spec, work, config, data, summary)
    info = {
        "status": "complete", "model": config.model, "run_id": run_id, **summary,
        "test_accuracy": metrics["accuracy"], **({"test_micro_f1": metrics["micro_f1"]} if thresholds else {}),
        "data_sizes": data.sizes(), "data_source": data.source,
        "model_bytes": _size(model.model_path(work)), "versions": _versions(model.needs_keras),
        **({"auto": auto} if auto else {}),
    }
    rd.write_history_csv(work, history)
    _write_plots(work, history, metrics, summary["best_epoch"])
    shutil.rmtree(work / rd.CHECKPOINT_DIR, ignore_errors=True)  # the run is complete; nothing to resume
    atomic.write_json(work / rd.RUN_FILE, info)
    rd.publish(work, out)
    return info


def _score(spec, work: Path, config: TrainConfig, data, summary: dict) -> tuple[dict, dict | None]:
    """(test metrics, thresholds or None) of the run's saved model; a multi-label run's thresholds are
    written first (every later prediction decides with them; Keras runs choose them on the best epoch)."""
    saved = spec.load(work, config, data.num_classes)
    thresholds = None
    if config.multi_label:
        thresholds = summary.pop("thresholds", None) or _keras_thresholds(saved, data, config)
        atomic.write_json(work / rd.THRESHOLDS_FILE, thresholds)
    # Scored from the saved files, so the stored numbers are what a later `evaluate` reproduces exactly.
    metrics = score_test_split(saved, data.label_names, data, thresholds=thresholds)
    atomic.write_json(work / rd.METRICS_FILE, metrics)
    return metrics, thresholds


def _multi_label_config(config: TrainConfig, data) -> TrainConfig:
    """``multi_label`` set as the data is (config.json then records it), or one line when asked of single-label data."""
    multi_label = is_multi_label(data.train_labels)
    if config.multi_label and not multi_label:
        raise ConfigError(f"multi_label is on but {data.source or 'the dataset'} has one class per text")
    return config.updated({"multi_label": True}) if multi_label and not config.multi_label else config


def _keras_thresholds(model, data, config: TrainConfig) -> dict:
    """A Keras run's thresholds, chosen on the validation predictions of its best epoch's saved model."""
    probabilities = model.predict_proba(data.val_texts) if len(data.val_texts) else None
    return validation_decisions(data, probabilities, config.threshold)["thresholds"]


def _keras_precision(config: TrainConfig) -> TrainConfig:
    """The config with ``precision: auto`` resolved for this machine, so config.json records the one used."""
    import_tensorflow_quietly(required=False)  # before Keras: no absl/oneDNN lines from the Python API either
    if config.precision != "auto":
        return config
    import keras

    used, why = resolve(config.precision, keras.backend.backend())
    log.info("precision: %s (%s)", used, why)
    return config.updated({"precision": used})


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _write_plots(out: Path, history: list[dict], metrics: dict, best_epoch: int | None = None) -> None:
    scores = ((per_label_figure(metrics), rd.PER_LABEL_FILE) if metrics.get("multi_label")
              else (confusion_matrix_figure(metrics), rd.CONFUSION_FILE))
    for figure, name in ((training_curves_figure(history, best_epoch=best_epoch), rd.CURVES_FILE), scores):
        atomic.save_figure(figure, out / name)
