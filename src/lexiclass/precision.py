"""Which floating-point precision the Keras models compute in: ``--precision auto|float32|bfloat16``.

``bfloat16`` is Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 weights and
output layer). It pays only where the CPU multiplies bfloat16 natively: AVX512-BF16 or
AMX; elsewhere it is emulated, with no speed to gain (not measured here). ``auto`` picks
bfloat16 on such a CPU with the TensorFlow backend (where it was measured) and float32
otherwise, and says why; the run's config.json records the precision it used.
``auto`` is the default; ``LEXICLASS_PRECISION=float32`` pins it. Checks that compare two
computations of a model (exports, attention rows) take their bound from `tolerance`, so they
hold in either precision.

Measured before ``auto`` became the default (docs/performance.md, "bfloat16 by
measurement"): full IMDB, same settings and seeds, test accuracy bfloat16 vs float32:
positional-transformer 88.38 / 88.48%, transformer 88.09 / 87.27%, bilstm 87.71 / 87.47%;
later bow 89.81 / 89.89% and glove-bilstm 85.67 / 84.94%.
"""

from __future__ import annotations

import os
from pathlib import Path

from lexiclass.errors import ConfigError

PRECISIONS = ("auto", "float32", "bfloat16")
ENV = "LEXICLASS_PRECISION"  # what ``auto`` means on this machine, e.g. float32 for reproducible test suites
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags of native bfloat16 arithmetic

# How far two computations of one model may differ, by the precision the run computes in. float32
# leaves about 1e-7 relative per value: 1e-5 on probabilities, 1e-4 on a softmax row's sum. bfloat16
# keeps 8 bits of mantissa (2**-8 = 0.4% relative per value): a softmax row sums to 1 within about
# 1e-2 (values near 0.5 round in steps of 2**-9) and probabilities move by about 1e-3, more after several layers.
PROBABILITY_TOLERANCE = {"float32": 1e-5, "bfloat16": 2e-2}
ATTENTION_SUM_TOLERANCE = {"float32": 1e-4, "bfloat16": 2e-2}


def tolerance(table: dict[str, float], precision: str) -> float:
    """``table``'s bound for a run that computed in ``precision`` (the loosest one if it is not known)."""
    return table.get(precision, max(table.values()))


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (empty when /proc/cpuinfo is unreadable, e.g. not Linux)."""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def resolve(requested: str, backend: str, flags: set[str] | None = None) -> tuple[str, str]:
    """``requested`` -> (``"float32"`` or ``"bfloat16"``, the reason, for the user). ``auto`` follows
    $LEXICLASS_PRECISION when it is set (as KERAS_BACKEND sets the backend), else the CPU."""
    if requested != "auto":
        return requested, "as requested"
    pinned = os.environ.get(ENV, "").strip()
    if pinned and pinned != "auto":
        if pinned not in PRECISIONS:
            raise ConfigError(f"${ENV} = {pinned!r} is not one of {', '.join(PRECISIONS)}")
        return pinned, f"auto: ${ENV} = {pinned}"
    native = sorted(BF16_FLAGS & (cpu_flags() if flags is None else flags))
    if not native:
        return "float32", "auto: this CPU has no native bfloat16 (avx512_bf16 or amx_bf16)"
    if backend != "tensorflow":
        return "float32", f"auto: bfloat16 is chosen only on the tensorflow backend, not {backend}"
    return "bfloat16", f"auto: this CPU computes bfloat16 natively ({', '.join(native)})"
