"""Ray for the commands that run on it (``predict --engine ray``, ``tune``): `require_ray` imports it or says
how to install it, `RaySession` joins a cluster or starts a local Ray, `reraise_user_error` finds the user's
one-line error inside Ray's wrappers, `limit_threads` keeps a worker inside its CPU share.

Ray is the optional extra ``pip install 'lexiclass[ray]'``: it is imported only inside these functions.
"""

from __future__ import annotations

import os
import socket
import time

from lexiclass.errors import LexiclassError, first_line

INSTALL_HINT = "pip install 'lexiclass[ray]'"
CONNECT_TIMEOUT_S = 10  # how long to wait for a cluster's address to accept a connection
RAY_CLIENT_PORT = 10001  # ray:// addresses without a port


def require_ray(what: str = "the ray engine"):
    """Import and return the ``ray`` module, or raise a one-line `LexiclassError` saying how to install it."""
    try:
        import ray  # deferred: the optional extra, and seconds to import
        import ray.data  # noqa: F401  (the [data] part of the extra)
    except ImportError:
        raise LexiclassError(f"{what} needs Ray, which is not installed: {INSTALL_HINT} "
                             "(or use --engine local)") from None
    return ray


# -- starting and joining Ray ------------------------------------------------------------------------


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """`LexiclassError` unless ``host:port`` (or ``ray://host[:port]``) accepts a TCP connection within ``timeout``;
    ``auto`` (the cluster this machine belongs to) is left to Ray."""
    if address == "auto":
        return
    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":") if ":" in where else (where, "", str(RAY_CLIENT_PORT))
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise LexiclassError(f"--address {address!r}: give host:port, ray://host[:port] or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise LexiclassError(f"cannot reach the Ray cluster at {address}: {reason} (waited up to {timeout:g} s)") \
            from None


class RaySession:
    """``with RaySession(address, cpus) as info:`` joins ``address`` (``auto`` or ``ray://...`` / ``host:port``),
    or starts a local Ray with ``cpus`` logical CPUs; reuses one already started in this process. Shuts
    down only what it started. ``info`` has ``started``, ``startup_seconds`` and ``cluster_cpus``."""

    def __init__(self, address: str | None = None, cpus: int | None = None):
        self.address, self.cpus = address, cpus
        self.ray, self.started = require_ray(), False

    def __enter__(self) -> dict:
        ray = self.ray
        began = time.perf_counter()
        if not ray.is_initialized():
            env = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
                                "LEXICLASS_QUIET": "1"}}
            kwargs = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=False, runtime_env=env)
            if self.address:
                check_reachable(self.address)  # Ray itself retries an unreachable address for minutes
            try:
                if self.address:
                    ray.init(address=self.address, **kwargs)
                else:
                    ray.init(num_cpus=self.cpus or os.cpu_count() or 1, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise LexiclassError(f"cannot start or join {where}: {first_line(exc)}") from None
            self.started = True
        return {"started": self.started, "startup_seconds": round(time.perf_counter() - began, 3),
                "cluster_cpus": float(ray.cluster_resources().get("CPU", 0))}

    def __exit__(self, *exc_info):
        if self.started:
            self.ray.shutdown()


def lexiclass_error_in(exc: BaseException) -> LexiclassError | None:
    """The `LexiclassError` a Ray task raised, found in the chain of Ray's wrappers (None if there is none)."""
    seen = set()
    stack = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, LexiclassError) and not type(item).__module__.startswith("ray"):
            return item
        stack.extend([item.__cause__, item.__context__, getattr(item, "cause", None)])
    return None


def reraise_user_error(exc: BaseException):
    """Raise the user's one-line error from inside Ray's wrappers, or re-raise ``exc`` as it is."""
    found = lexiclass_error_in(exc)
    if found is None:
        if isinstance(exc, LexiclassError):  # a Ray wrapper that subclasses our error: keep its first line
            raise type(exc).__mro__[1](first_line(exc)) from None
        raise exc
    raise type(found)(first_line(found)) from None


def limit_threads(cpus: float, tensorflow: bool = True) -> None:
    """Keep TensorFlow, BLAS and ONNX Runtime inside a worker's CPU share (before TensorFlow starts);
    ``tensorflow=False`` for a worker that never needs it (an ONNX export's), so it is not imported."""
    n = max(1, int(cpus))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(n)
    if not tensorflow:
        return
    try:
        import tensorflow as tf  # deferred: seconds to import, and only a Ray worker needs it

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except (ImportError, RuntimeError):  # RuntimeError: TensorFlow already started in this process
        pass
