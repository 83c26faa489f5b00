"""Keep freed memory for the next file: glibc's malloc thresholds for a run of many small images.

Reading one CT slice after another, glibc's malloc returns the freed top of
the heap to the system after each file (its trim threshold follows the last
large block) and takes it back for the next: reading a JPEG Lossless slice
through GDCM then costs ~1,000 page faults, a quarter of its decode time
(bench/RESULTS.md, issue 25). With fixed thresholds -- up to
:data:`TRIM_THRESHOLD` of free heap kept, blocks under
:data:`MMAP_THRESHOLD` from the heap -- the next file reuses the same pages.
Blocks of :data:`MMAP_THRESHOLD` and more (a large volume) are still mapped
on their own and returned whole when freed.

Own code, through ctypes: ``mallopt`` is glibc's interface for this and no
package wraps it (an allocator swapped in with ``LD_PRELOAD``, jemalloc or
tcmalloc, would need to be installed and set before the process starts).
Elsewhere (macOS, Windows, musl) nothing is changed.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

TRIM_THRESHOLD = 32 << 20
"""Bytes of free memory at the top of the heap that malloc keeps rather than returns."""
MMAP_THRESHOLD = 4 << 20
"""Blocks this large and larger are mapped on their own (ITK advises huge pages on such buffers)."""


def _glibc() -> bool:
    """True when this process' C library is glibc (it names itself in ``CS_GNU_LIBC_VERSION``)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


@functools.cache
def keep_freed_memory() -> bool:
    """Set this process' glibc malloc thresholds once (see the module); False where it is not glibc."""
    # sys.platform and confstr, not the platform module: on Windows, platform.system() asks WMI
    # (Python 3.12 and later), which aborts the process under wine.
    if not sys.platform.startswith("linux") or not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Both are set: setting either turns off glibc's moving thresholds.
    mapped = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(mapped) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
