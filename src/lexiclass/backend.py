"""Which Keras backend runs the models: TensorFlow (the default), JAX or PyTorch.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the choice has to be
made before that: the CLI's ``--backend`` sets it; library users set the environment
variable themselves. Everything lexiclass does before the model (text -> token ids ->
batches) is plain Python and NumPy, and a run folder trained on one backend loads on
the others.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from lexiclass.errors import ConfigError

BACKENDS = ("tensorflow", "jax", "torch")
_EXTRA = {"tensorflow": "", "jax": "[jax]", "torch": "[torch]"}


def requested() -> str:
    """The backend Keras will use (or uses): ``$KERAS_BACKEND``, else TensorFlow."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def select(name: str | None) -> str:
    """Make ``name`` the Keras backend of this process (None: keep `requested`); return the one in use.

    Raises `ConfigError` for an unknown name, a backend whose package is not installed, or
    a different backend than the one Keras was already imported with.
    """
    if name is None:
        name = requested()
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != name:
            raise ConfigError(f"Keras already runs on {keras.backend.backend()} in this process; the backend is "
                              f"chosen before Keras is imported (KERAS_BACKEND={name} or --backend {name})")
        return name
    if importlib.util.find_spec(name) is None:
        raise ConfigError(f"the {name} backend needs {name}: pip install 'lexiclass{_EXTRA[name]}'")
    os.environ["KERAS_BACKEND"] = name
    return name


def version() -> str:
    """The active backend package's version, e.g. ``"0.10.2"`` on JAX."""
    import keras

    return importlib.import_module(keras.backend.backend()).__version__


def jit_compile(requested_jit: bool) -> bool:
    """What to pass to ``model.compile(jit_compile=...)`` on the active backend.

    TensorFlow: XLA only when asked (``--jit-compile``); its graphs are fast without.
    JAX: always; without ``jax.jit`` every step runs op by op, many times slower.
    PyTorch: never; ``torch.compile`` costs minutes per new shape on a CPU.
    """
    import keras

    return {"tensorflow": bool(requested_jit), "jax": True}.get(keras.backend.backend(), False)



def import_tensorflow_quietly(verbose: bool = False, required: bool = True) -> None:
    """Import TensorFlow with its C++ start-up lines (absl, oneDNN, cpu_feature_guard) hidden, unless ``verbose``.

    They are written to file descriptor 2 while TensorFlow loads, before any log level
    applies, so stderr is pointed at /dev/null for the import only; Python errors raised
    by the import still reach the caller. Does nothing once TensorFlow is imported.
    ``required=False``: a missing TensorFlow is fine (JAX and PyTorch backends).
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if verbose:
        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow  # noqa: F401  (the import is the point: its start-up lines go to /dev/null)
    except ImportError:
        if required:
            raise
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
