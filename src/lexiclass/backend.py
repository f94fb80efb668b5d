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

