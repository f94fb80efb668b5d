"""Keras callbacks of a run: `RunCheckpoint` keeps the best model and, after every epoch, enough state to
resume; `ResumableEarlyStopping` continues an interrupted run's count of epochs without improvement."""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras

from lexiclass import atomic, run_dir as rd
from lexiclass.data.download import sha256_of


class RunCheckpoint(keras.callbacks.Callback):
    """After each epoch: save the best model (by ``monitor``) and the last one with the history.

    Like ``keras.callbacks.ModelCheckpoint(save_best_only=True)``, plus what a
    resumable run needs: every file is written atomically, and the last epoch's
    model is saved under its epoch number *before* ``state.json`` points to it, so
    a run killed at any instant resumes from a consistent finished epoch.
    """

    def __init__(self, run_path, monitor="val_loss", run_id=None, history=None, best=None, best_epoch=None):
        super().__init__()
        self.run_path = Path(run_path)
        self.run_id = run_id  # written into state.json so --resume can check the checkpoint is this run's
        self.monitor = monitor
        self.mode_max = "acc" in monitor
        self.history = list(history or [])
        self.best = best
        self.best_epoch = best_epoch
        self._started = None

    def _improved(self, value) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode_max else value < self.best

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()},
               "seconds": round(time.perf_counter() - self._started, 3)}
        self.history.append(row)
        value = row.get(self.monitor)
        if self._improved(value):
            self.best, self.best_epoch = value, epoch + 1
            atomic.save_model(self.model, self.run_path / rd.MODEL_FILE)
        ckpt = self.run_path / rd.CHECKPOINT_DIR
        model_name = f"epoch-{epoch + 1:04d}.keras"
        atomic.save_model(self.model, ckpt / model_name)
        atomic.write_json(ckpt / rd.STATE_FILE, {
            "epochs_done": epoch + 1, "model": model_name, "history": self.history, "run_id": self.run_id,
            "model_sha256": sha256_of(ckpt / model_name),
            "monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch,
        })
        for old in ckpt.glob("epoch-*.keras"):  # only now is the older checkpoint unneeded
            if old.name != model_name:
                old.unlink(missing_ok=True)
        rd.write_history_csv(self.run_path, self.history)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` that starts from a resumed run's best value and epochs without improvement.

    Plain ``EarlyStopping`` forgets both when a run restarts, so a run killed after it
    had decided to stop would train on; this one picks up where the run left off.
    """

    def __init__(self, best=None, wait=0, **kwargs):
        super().__init__(**kwargs)
        self.resumed_best = best
        self.resumed_wait = wait

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.resumed_best is not None:
            self.best, self.wait = self.resumed_best, self.resumed_wait
