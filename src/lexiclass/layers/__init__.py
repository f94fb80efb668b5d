"""Custom Keras layers. Importing this package registers them for `keras.models.load_model`.

Importing it does not import Keras (which takes seconds): if Keras is already imported the
layers are registered at once, otherwise right after Keras' own import finishes (a one-time
import hook). So ``import lexiclass.layers`` is cheap, and afterwards a plain
``keras.models.load_model("run/model.keras")`` finds ``lexiclass>TransformerEncoder`` and the
other layers whichever of the two was imported first. ``from lexiclass.layers import X``
imports X's module (and Keras) when X is first asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

_MODULES = {
    "MaskedGlobalMaxPooling1D": "pooling",
    "PositionalEmbedding": "positional_embedding",
    "TransformerEncoder": "transformer_encoder",
}

__all__ = ["MaskedGlobalMaxPooling1D", "PositionalEmbedding", "TransformerEncoder", "register"]


def register() -> None:
    """Import the layer modules, whose decorators register the layers with Keras (imports Keras)."""
    for module in dict.fromkeys(_MODULES.values()):
        importlib.import_module(f"{__name__}.{module}")


def __getattr__(name: str):
    if name in _MODULES:
        value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself; when ``keras`` is being imported, registers the layers once it is.

    It stays in place until Keras is really executed: TensorFlow first asks
    ``importlib.util.find_spec("keras")`` only to see whether Keras exists, and imports it later,
    so every spec handed out carries the registration.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)  # the real package, on sys.path
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _remove_hook()
            try:
                register()
            except Exception as exc:  # never break `import keras` itself
                warnings.warn(f"lexiclass could not register its Keras layers: {exc}", RuntimeWarning,
                              stacklevel=2)

        loader.exec_module = exec_then_register  # a fresh loader per spec: it serves this keras import only
        return spec


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegisterAfterKeras)]


if "keras" in sys.modules:
    register()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())
