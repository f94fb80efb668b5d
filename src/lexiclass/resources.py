"""What this process may use: its CPUs (`usable_cpus`), limits that lexiclass's libraries cannot work
under, checked before any work starts (`check_address_space`), and how its memory is reused
(`keep_freed_memory`, below).

An address-space limit (``ulimit -v``, RLIMIT_AS) counts virtual memory, which thread pools reserve far
beyond what they touch: under 2 GiB, numba's and OpenBLAS's worker threads cannot start, and the process
aborts in C ("cannot allocate memory for thread-local data", or C++'s std::bad_alloc) or hangs, leaving a
half-trained run behind. Measured on 2 cores: every family trains its tiny test run under 4 GiB
(nbsvm, bow and nbsvm-dvcosine tried), none does under 2 GiB.
"""

from __future__ import annotations

import ctypes
import os
import resource

from lexiclass.errors import LexiclassError

MIN_ADDRESS_SPACE = 4 * 2**30  # bytes of virtual memory: see the module's docstring


def usable_cpus() -> int:
    """The CPUs this process may use (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_address_space(limit: int | None = None) -> None:
    """Refuse, in one line, an address-space limit too small to work under (``limit``: RLIMIT_AS's soft value)."""
    if limit is None:
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY and limit < MIN_ADDRESS_SPACE:
        raise LexiclassError(
            f"the address-space limit (ulimit -v) is {limit / 2**30:.1f} GiB; the numerical libraries' threads "
            f"reserve more virtual memory than that and would abort: raise it to at least "
            f"{MIN_ADDRESS_SPACE // 2**30} GiB (ulimit -v unlimited), or limit resident memory instead "
            "(a cgroup, e.g. systemd-run --user --scope -p MemoryMax=2G lexiclass ...)")


# glibc's malloc gives a freed block above its mmap threshold back to the kernel, and TensorFlow frees and
# allocates its activations again at every step: a 2-core positional Transformer spent a third of its CPU time
# in the kernel's page-fault handler (11.5 M minor faults in 90 s; docs/performance.md, "Memory allocator").
# Blocks up to glibc's largest threshold (32 MiB) then stay in the heap, which is never trimmed and grows 512 MiB
# at a time (of address space; pages are touched only when used). The pad is what matters: without it the faults
# stayed (11.4 M, measured), whatever the thresholds.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # mallopt's parameters, from glibc's malloc.h
MALLOC_SETTINGS = ((M_MMAP_THRESHOLD, 32 * 2**20), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, 512 * 2**20))


def keep_freed_memory() -> bool:
    """Tune glibc's malloc (`MALLOC_SETTINGS`) for a process that allocates the same large tensors again and
    again: the CLI does so before TensorFlow starts. False where it does not apply (no glibc ``mallopt``)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(ctypes.c_int(parameter), ctypes.c_int(value)) == 1 for parameter, value in MALLOC_SETTINGS)
