"""Which floating-point precision the Keras models compute in: ``--precision auto|float32|bfloat16``.

``bfloat16`` is Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 weights and
output layer). It pays only where the CPU multiplies bfloat16 natively: AVX512-BF16 or
AMX. Elsewhere TensorFlow emulates it and training gets slower, not faster. ``auto`` picks
bfloat16 on such a CPU with the TensorFlow backend (where it was measured) and float32
otherwise, and says why; the run's config.json records the precision it used.

Measured before ``auto`` became the default (docs/performance.md, "bfloat16 by
measurement"): full IMDB, same settings and seeds, test accuracy bfloat16 vs float32.
"""

from __future__ import annotations

from pathlib import Path

PRECISIONS = ("auto", "float32", "bfloat16")
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags of native bfloat16 arithmetic


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
    """``requested`` -> (``"float32"`` or ``"bfloat16"``, the reason, for the user)."""
    if requested != "auto":
        return requested, "as requested"
    native = sorted(BF16_FLAGS & (cpu_flags() if flags is None else flags))
    if not native:
        return "float32", "auto: this CPU has no native bfloat16 (avx512_bf16 or amx_bf16)"
    if backend != "tensorflow":
        return "float32", f"auto: bfloat16 is chosen only on the tensorflow backend, not {backend}"
    return "bfloat16", f"auto: this CPU computes bfloat16 natively ({', '.join(native)})"
