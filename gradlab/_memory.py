"""The process's memory policy, set once when gradlab is imported.

A training step frees and reallocates the same large arrays (activations,
temporaries, gradients) every step.  glibc's malloc serves arrays above its
mmap threshold (128 KiB at start) with fresh ``mmap`` pages and gives freed
memory at the top of its heap back to the kernel above its trim threshold, so
every step pays the kernel again to map and zero the same pages: 1,300-2,300
minor page faults per LeNet-5 step at batch 256, 11,000 per transformer step,
and a quarter to a third of the LSTM's step time (docs/performance.md,
"Memory, collector and threads").  Keeping freed memory in the process makes
the next step's arrays reuse it, as PyTorch's CPU allocator does.

On glibc, ``apply`` therefore raises

* ``M_MMAP_THRESHOLD`` to 32 MiB (glibc's maximum): arrays below it come from
  the heap, where freed blocks are reused;
* ``M_TRIM_THRESHOLD`` to 512 MiB: up to that much free memory at the top of
  the heap stays mapped rather than being returned and faulted in again.

The resident size stays the step's peak, as it would be anyway at that peak.
Elsewhere (macOS, Windows, musl) nothing is changed.

Turned off by ``GRADLAB_MALLOC=0`` (set before ``import gradlab``), and left
alone when the user chose malloc settings already (``GLIBC_TUNABLES``,
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``).  ``applied`` says
what was set: ``{"M_MMAP_THRESHOLD": bytes, "M_TRIM_THRESHOLD": bytes}``, or
``{}`` when nothing was.
"""
import os
import sys

__all__ = ["apply", "applied", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

MMAP_THRESHOLD = 32 * 1024 * 1024     # glibc refuses larger values (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 512 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # from glibc's malloc.h

_USER_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

applied = {}


def _glibc():
    """The C library as a ctypes handle when it is glibc, else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version   # only glibc has it (musl's mallopt does nothing)
        return libc
    except (OSError, AttributeError):
        return None


def apply(environ=os.environ):
    """Set the policy above unless it is turned off or the user set their own; return ``applied``."""
    if applied or environ.get("GRADLAB_MALLOC", "1") == "0":
        return applied
    if any(name in environ for name in _USER_SETTINGS):
        return applied
    libc = _glibc()
    if libc is None:
        return applied
    # mallopt returns 1 on success; the trim threshold goes first (setting the mmap threshold
    # turns off glibc's own adjustment of both, which is what we want)
    for option, name, value in ((_M_TRIM_THRESHOLD, "M_TRIM_THRESHOLD", TRIM_THRESHOLD),
                                (_M_MMAP_THRESHOLD, "M_MMAP_THRESHOLD", MMAP_THRESHOLD)):
        if libc.mallopt(option, value) == 1:
            applied[name] = value
    return applied
