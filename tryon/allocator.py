"""Keep freed memory in the process during batch scoring, instead of returning it to the kernel on every free.

glibc serves every allocation above its mmap threshold (at most 32 MB by default) with a fresh `mmap` and
returns it with `munmap` when freed. Batch scoring allocates and frees tensors of tens of MB thousands of times
(SSIM's stacked maps, LPIPS and Inception activations), so each one is page-faulted and zeroed anew: in a
3 x 100 eval at 512x384 that was 8 million page faults and 28 s of system time out of 87 s of wall time. With
the thresholds raised, freed blocks are reused from the heap (about 1.6 s of system time; `benchmarks/
eval_speed.py`). The cost is that the process keeps its peak memory until it exits, which suits a
command-line eval; the thresholds are process-wide, so only the `eval` command sets them (never the app).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameter numbers


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; False (and nothing changed) where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    settings = ((_M_MMAP_THRESHOLD, 2**30), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, 2**28))
    return all(mallopt(option, value) == 1 for option, value in settings)
