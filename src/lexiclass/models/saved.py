"""Loading a run's saved model files, checked against the rest of the run, with one-line errors.

- `load_keras_model`: ``model.keras`` (Keras families), in safe mode, its inputs and outputs checked
  against the run's vectorizer and labels.json; `on_this_backend` sets it to compile the way this backend runs.
- `load_text_model`: a folder saved by a scikit-learn-style model (nbsvm, tfidf, ...), its classes checked.

The run folder's layout (file names, run.json) is `lexiclass.run_dir`'s; this module is what reads the models.
"""

from __future__ import annotations

from pathlib import Path

from lexiclass.backend import import_tensorflow_quietly, jit_compile
from lexiclass.errors import LexiclassError, first_line
from lexiclass.layers import register


def _check_model_archive(path: Path) -> None:
    """Refuse a missing, foreign or damaged ``.keras`` file before Keras reads it (its own errors mislead)."""
    import zipfile

    if not path.exists():
        raise LexiclassError(f"{path} is missing: is {path.parent} a lexiclass run directory?")
    if path.is_dir():
        raise LexiclassError(f"{path} is a folder, expected a .keras model file")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every member and checks its CRC: catches flipped bits
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise LexiclassError(f"{path} is damaged or not a Keras model (.keras files are zip archives): "
                             f"{first_line(exc, 200)}") from None
    if bad is not None:
        raise LexiclassError(f"{path} is damaged: member {bad!r} fails its checksum")


def load_keras_model(path, num_classes: int, input_width: int | None = None, multi_label: bool = False):
    """``keras.models.load_model`` in safe mode (no code in the file is ever run), with one-line errors.

    Also checks that the model fits the rest of the run: one output per class (one for two
    classes; one per label for ``multi_label`` runs) as labels.json says, and inputs of rank 2,
    ``input_width`` wide for n-gram vectors.
    """
    path = Path(path)
    _check_model_archive(path)
    import_tensorflow_quietly(required=False)  # the Python API too: no absl/oneDNN lines on stderr
    import keras

    register()  # explicit: the lazy registration misses Keras when TensorFlow's own import loads it

    try:
        model = keras.models.load_model(path, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a tampered config; all mean the same to a user
        raise LexiclassError(f"{path} cannot be loaded as a lexiclass model: {first_line(exc, 200)}") from None
    inputs = model.input_shape if isinstance(model.input_shape, tuple) else None
    token_ids = "int" in str(model.inputs[0].dtype) if len(model.inputs) == 1 else False
    if (inputs is None or len(inputs) != 2 or (input_width is not None and inputs[1] != input_width)
            or token_ids != (input_width is None)):  # sequence models take int token ids, n-gram models floats
        want = f"(batch, {input_width})" if input_width else "(batch, tokens)"
        raise LexiclassError(f"{path} takes inputs of shape {inputs}, but the run's vectorizer gives {want}; "
                             "the run's files do not belong together")
    outputs = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    expected = 1 if num_classes == 2 and not multi_label else num_classes
    if outputs != expected:
        raise LexiclassError(f"{path} gives {outputs} outputs per text but labels.json names {num_classes} "
                             f"classes (expected {expected}); the run's files do not belong together")
    return on_this_backend(model)


def on_this_backend(model):
    """A loaded model set to compile the way this backend runs best: a run trained with JAX's ``jax.jit``
    must not ask PyTorch for ``torch.compile`` (see `lexiclass.backend.jit_compile`)."""
    if getattr(model, "compiled", False):
        model.jit_compile = jit_compile(bool(getattr(model, "jit_compile", False)))
    return model


def load_text_model(load, path, num_classes: int):
    """A scikit-learn-style model saved as a folder (``load(path)``), with one-line errors and a class check."""
    path = Path(path)
    if not path.is_dir():
        raise LexiclassError(f"{path} is missing or not a folder: is {path.parent} a lexiclass run directory?")
    try:
        model = load(path)
    except LexiclassError:
        raise
    except Exception as exc:  # a tampered JSON or npz file
        raise LexiclassError(f"{path}: the saved model is damaged: {first_line(exc, 200)}") from None
    if len(model.classes_) != num_classes:
        raise LexiclassError(f"{path} predicts {len(model.classes_)} classes but labels.json names {num_classes}; "
                             "the run's files do not belong together")
    return model
