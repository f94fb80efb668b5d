"""`OnnxTextClassifier`: an ONNX export of a Keras run (``lexiclass export RUN --format onnx [--int8]``)
predicting inside lexiclass, under ONNX Runtime instead of Keras.

    model = OnnxTextClassifier.load_export("exports/pt-int8", config, num_classes)
    model.predict_proba(["A wonderful film."])        # (1, classes), as the run's own model within its export check

The export folder holds the run's vectorizer files, its config.json and model.onnx (float32, or int8 with
``--int8``). Texts go through the run's own vectorizer, truncation and length-bucketed batches
(`lexiclass.text.pipeline.predict_probabilities`), so only the network differs from the run: ONNX Runtime
imports in well under a second where TensorFlow takes seconds, and an int8 export computes its matrix
products in int8. An export only predicts: `fit` and `save` refuse.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError, first_line
from lexiclass.models.classifier import NetworkClassifier
from lexiclass.run_dir import CONFIG_FILE, EXPORT_FILE, read_json

ONNX_FILE = "model.onnx"
PREDICTS_ONLY = "an ONNX export only predicts; train, refit or save with the run folder it was exported from"


class OnnxNetwork:
    """model.onnx in an ONNX Runtime session, called as prediction calls a Keras network.

    Args:
        path: the .onnx file; its first input takes token ids (int32, (batch, length)) or n-gram vectors
            (float32, (batch, vocabulary)); its first output is the probabilities (batch, classes).
    """

    def __init__(self, path):
        try:
            import onnxruntime as ort  # deferred: only export folders need it (~0.3 s to import)
        except ImportError:
            raise LexiclassError(f"{path}: predicting an ONNX export needs ONNX Runtime: "
                                 "pip install 'lexiclass[export]'") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its graph notes are not the user's business
        # ONNX Runtime starts one thread per core; a Ray actor's share of the CPUs is in OMP_NUM_THREADS
        # (`ray_session.limit_threads`), which a user can set too.
        threads = os.environ.get("OMP_NUM_THREADS", "")
        if threads.isdigit() and int(threads) > 0:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged or foreign file: name it, in one line
            raise LexiclassError(f"{path}: ONNX Runtime cannot load it ({first_line(exc, 200)})") from None
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_dtype = np.int32 if "int" in first.type else np.float32
        self.output_name = self.session.get_outputs()[0].name  # multi-label exports add "labels" after it

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """(batch, classes) float32 probabilities of one padded batch."""
        try:
            return self.session.run([self.output_name], {self.input_name: np.asarray(x, dtype=self.input_dtype)})[0]
        except Exception as exc:  # ONNX Runtime's own errors (shapes, types) as one line, not a C++ trace
            raise LexiclassError(f"ONNX Runtime could not run the export's model.onnx: {first_line(exc, 200)}") from None


class OnnxTextClassifier(NetworkClassifier):
    """The `TextClassifier` of an ONNX export folder: the run's vectorizer before an `OnnxNetwork`.

    Args:
        config: the exported run's `TrainConfig` (truncation, batching and batch size are the run's).
        num_classes: columns of the probabilities.
        input_kind: ``"sequence"`` (token ids) or ``"bow"`` (n-gram vectors), as the run's network.
    Learned (read by `load_export`): ``vectorizer_``, ``network_``, ``classes_``. Prediction is
    `NetworkClassifier`'s, the same code as a Keras run's.
    """

    unfitted = "build it with OnnxTextClassifier.load_export()"

    def __init__(self, config, num_classes: int, input_kind: str = "sequence"):
        self.config = config
        self.num_classes = num_classes
        self.input_kind = input_kind
        self.classes_ = np.arange(num_classes)

    def fit(self, texts, labels, validation=None):
        raise LexiclassError(PREDICTS_ONLY)

    def save(self, directory):
        raise LexiclassError(PREDICTS_ONLY)

    def save_to_run(self, run_folder) -> None:
        raise LexiclassError(PREDICTS_ONLY)

    def model_path(self, run_folder) -> Path:
        return Path(run_folder) / ONNX_FILE

    @classmethod
    def load_export(cls, folder, config, num_classes: int) -> "OnnxTextClassifier":
        """The export folder's vectorizer and model.onnx, checked to take what the vectorizer makes and to
        give ``num_classes`` columns."""
        from lexiclass.text.vectorizer import Vectorizer  # deferred, as SPEC_FILE below: see read_export_info

        folder = Path(folder)
        vectorizer = Vectorizer.load(folder)
        model = cls(config, num_classes, input_kind="sequence" if vectorizer.output_mode == "int" else "bow")
        model.vectorizer_, model.network_ = vectorizer, OnnxNetwork(folder / ONNX_FILE)
        _check_shapes(model.network_, folder, vectorizer, num_classes)
        return model


def _check_shapes(network: OnnxNetwork, folder: Path, vectorizer, num_classes: int) -> None:
    """model.onnx's input (token ids or n-gram vectors of the vocabulary's width) and output width against
    vectorizer.json, vocabulary.txt and labels.json."""
    width = network.session.get_outputs()[0].shape[-1]
    if isinstance(width, int) and width != num_classes:
        raise LexiclassError(f"{folder / ONNX_FILE} gives {width} probabilities but labels.json names "
                             f"{num_classes} labels; the export's files do not belong together")
    if (vectorizer.output_mode == "int") != (network.input_dtype == np.int32):
        wanted = "token ids" if network.input_dtype == np.int32 else "n-gram vectors"
        raise LexiclassError(f"{folder / ONNX_FILE} takes {wanted} but vectorizer.json makes {vectorizer.output_mode} "
                             "inputs; the export's files do not belong together")
    columns = network.session.get_inputs()[0].shape[-1]
    if vectorizer.output_mode != "int" and isinstance(columns, int) and columns != len(vectorizer.vocabulary):
        raise LexiclassError(f"{folder / ONNX_FILE} takes vectors of {columns} n-grams but vocabulary.txt has "
                             f"{len(vectorizer.vocabulary)}; the export's files do not belong together")


def read_export_info(folder) -> dict:
    """export.json of an export folder, or one line saying why the folder cannot predict in lexiclass."""
    # Deferred: `Predictor` imports this module for every run, and n-gram runs' start-up needs no vectorizer code.
    from lexiclass.text.vectorizer import SPEC_FILE

    folder = Path(folder)
    info = read_json(folder / EXPORT_FILE)
    if info.get("format") != "onnx":
        raise LexiclassError(f"{folder} is a {info.get('format', 'unknown')!s:.20} export: lexiclass predicts with "
                             "run folders and ONNX exports (a SavedModel predicts with TensorFlow itself, see "
                             "docs/export.md)")
    missing = [name for name in (CONFIG_FILE, SPEC_FILE, ONNX_FILE) if not (folder / name).is_file()]
    if missing:
        raise LexiclassError(f"{folder}: no {', '.join(missing)}; this export was made by an earlier lexiclass "
                             f"(export the run again to predict with it here)")
    return info
