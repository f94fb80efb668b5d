"""`KerasTextClassifier`: a Keras network with its vectorizer, its epoch loop and its bucketed prediction,
behind the same `TextClassifier` interface as the n-gram models.

    model = KerasTextClassifier(config, num_classes, network=build_positional_transformer, input_kind="sequence")
    model.fit(texts, labels, validation=(val_texts, val_labels))   # epochs, best epoch on validation kept
    model.predict_proba(texts)                                     # (n, classes)

In a run folder `fit_run` trains with a checkpoint after every epoch (model.keras holds the best
one, checkpoints/ the last one and the state to resume from); `load_run` reads a finished run back.
Keras is imported inside the methods on purpose: n-gram runs never import TensorFlow (~7 s).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lexiclass import atomic, run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.models.classifier import FitSession, NetworkClassifier, class_weights
from lexiclass.models.saved import load_keras_model, on_this_backend
from lexiclass.text.pipeline import make_vectorizer, model_inputs
from lexiclass.text.vectorizer import Vectorizer

log = logging.getLogger(__name__)


def _targets(labels) -> np.ndarray:
    """What the loss takes: class ids as they are; a multi-label (n, L) 0/1 matrix as float32."""
    labels = np.asarray(labels)
    return labels.astype(np.float32) if labels.ndim == 2 else labels


class KerasTextClassifier(NetworkClassifier):
    """A Keras network on token ids (``input_kind="sequence"``) or n-gram vectors (``"bow"``).

    Args:
        config: the run's `TrainConfig` (vectorizer, batching, epochs, optimiser, precision, seed).
        num_classes: classes to predict (one sigmoid output for two, a softmax otherwise).
        network: ``network(config, num_classes, vocabulary) -> keras.Model``, uncompiled.
        input_kind: ``"sequence"`` or ``"bow"``: what the vectorizer makes of a text.
        default_epochs: epochs when ``config.epochs`` is unset.
    Learned: ``vectorizer_`` (fitted on the training texts), ``network_`` (the best epoch's model), ``classes_``.
    """

    needs_keras = True
    unfitted = "call fit() or load_run() first"  # prediction (predict_proba) is NetworkClassifier's

    def __init__(self, config, num_classes: int, network: Callable | None = None, input_kind: str = "sequence",
                 default_epochs: int = 10):
        self.config = config
        self.num_classes = num_classes
        self.network = network
        self.input_kind = input_kind
        self.default_epochs = default_epochs
        self.classes_ = np.arange(num_classes)

    # --- training ------------------------------------------------------------------------
    def fit(self, texts, labels, validation=None) -> "KerasTextClassifier":
        """Train on ``texts``; keep the epoch best on ``validation`` (texts, labels) by the config's monitor."""
        from types import SimpleNamespace

        val_texts, val_labels = validation if validation is not None else ([], np.zeros(0, np.int64))
        data = SimpleNamespace(train_texts=list(texts), train_labels=np.asarray(labels), val_texts=list(val_texts),
                               val_labels=np.asarray(val_labels), num_classes=self.num_classes)
        with tempfile.TemporaryDirectory(prefix="lexiclass-fit-") as folder:
            self.fit_run(data, Path(folder), FitSession())
            loaded = self.load_run(folder, self.config, self.num_classes)
        self.vectorizer_, self.network_ = loaded.vectorizer_, loaded.network_
        return self

    def fit_run(self, data, folder: Path, session: FitSession) -> dict:
        """Epochs of ``model.fit`` with a checkpoint after each, in ``folder``; the best epoch's model ends
        in ``folder/model.keras`` (read it back with `load_run`). Returns the training summary."""
        import keras  # deferred on purpose: TensorFlow's import takes ~7 s

        from lexiclass.models.callbacks import ResumableEarlyStopping, RunCheckpoint

        config, state = self.config, session.state
        keras.utils.set_random_seed(config.seed)
        epochs = config.epochs or self.default_epochs
        self.vectorizer_ = self._vectorizer(data.train_texts, folder, state)
        initial_epoch = (state or {}).get("epochs_done", 0)
        # Epoch e of training shuffles with seed + e, so a resumed run continues the same sequence.
        train_ds = model_inputs(self.vectorizer_, data.train_texts, _targets(data.train_labels), config,
                                self.input_kind, shuffle=True, seed=config.seed + initial_epoch)
        val_ds = model_inputs(self.vectorizer_, data.val_texts, _targets(data.val_labels), config, self.input_kind)
        model = self._network(folder, state)
        if initial_epoch:
            log.info("resuming after epoch %d of %d", initial_epoch, epochs)
        checkpoint = RunCheckpoint(folder, monitor=config.monitor, run_id=session.run_id,
                                   history=(state or {}).get("history"), best=(state or {}).get("best"),
                                   best_epoch=(state or {}).get("best_epoch"))
        callbacks = [checkpoint, *session.callbacks]
        stale = initial_epoch - (checkpoint.best_epoch or initial_epoch)  # finished epochs since the best one
        if config.early_stopping_patience:
            callbacks.append(ResumableEarlyStopping(monitor=config.monitor, patience=config.early_stopping_patience,
                                                    best=checkpoint.best, wait=stale))
            if initial_epoch and stale >= config.early_stopping_patience:
                epochs = initial_epoch  # the interrupted run had already stopped early: only finish the files
        started = time.perf_counter()
        if initial_epoch < epochs:
            model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                      callbacks=callbacks, verbose=session.verbose, shuffle=False,  # batches shuffle themselves
                      class_weight=class_weights(data.train_labels, self.num_classes, config.class_weight))
        if checkpoint.best_epoch is None:
            raise LexiclassError(f"no epoch produced a finite {config.monitor}; nothing to save")
        return {
            "best_epoch": checkpoint.best_epoch, "epochs_run": len(checkpoint.history), "monitor": config.monitor,
            "best_value": checkpoint.best, "history": checkpoint.history,
            "seconds_per_epoch_median": float(np.median([row["seconds"] for row in checkpoint.history])),
            "fit_seconds_this_session": time.perf_counter() - started,
        }

    def _vectorizer(self, texts, folder: Path, state: dict | None) -> Vectorizer:
        """A new run adapts its vectorizer to the training texts and saves it at once (a resumed run reads it)."""
        if state is not None:
            return Vectorizer.load(folder)
        vectorizer = make_vectorizer(self.config, self.input_kind).adapt(texts)
        vectorizer.save(folder)
        return vectorizer

    def _network(self, folder: Path, state: dict | None):
        """A new compiled network, or the interrupted run's last checkpoint."""
        import keras  # deferred on purpose, as above

        from lexiclass.layers import register

        if state is not None and state.get("epochs_done"):
            register()  # the custom layers, for load_model
            return on_this_backend(keras.models.load_model(folder / rd.CHECKPOINT_DIR / state["model"]))
        return self.build_network(self.vectorizer_.vocabulary)

    def build_network(self, vocabulary: list[str], compiled: bool = True):
        """The family's new network for ``vocabulary``: compiled as training compiles it (loss, optimiser,
        precision), or as built with ``compiled=False``."""
        from lexiclass.models.heads import compile_model

        network = self.network(self.config, self.num_classes, vocabulary)
        return compile_model(network, self.num_classes, self.config) if compiled else network

    # --- files ---------------------------------------------------------------------------
    def model_path(self, run_folder) -> Path:
        return Path(run_folder) / rd.MODEL_FILE

    def save(self, directory) -> Path:
        """The vectorizer's files and model.keras, into ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.vectorizer_.save(directory)
        atomic.save_model(self.network_, directory / rd.MODEL_FILE)
        return directory

    def save_to_run(self, run_folder) -> None:
        """`fit_run` wrote the vectorizer and model.keras into its run folder as it trained; a model fitted
        elsewhere (`fit`, `load_run`) saves them now."""
        if getattr(self, "network_", None) is not None:
            self.save(run_folder)

    @classmethod
    def load_run(cls, run_folder, config, num_classes: int) -> "KerasTextClassifier":
        """A run's vectorizer and model.keras, checked to belong together and to ``num_classes``."""
        run_folder = Path(run_folder)
        vectorizer = Vectorizer.load(run_folder)
        sequence = vectorizer.output_mode == "int"
        # n-gram vectors have one entry per vocabulary n-gram (max_tokens, or fewer on a small corpus)
        width = None if sequence else len(vectorizer.vocabulary)
        model = cls(config, num_classes, input_kind="sequence" if sequence else "bow")
        model.vectorizer_ = vectorizer
        model.network_ = load_keras_model(run_folder / rd.MODEL_FILE, num_classes, input_width=width,
                                          multi_label=getattr(config, "multi_label", False))
        return model
