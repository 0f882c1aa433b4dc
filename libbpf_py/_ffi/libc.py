"""C library calls that Python's ``os`` module lacks on the oldest supported Pythons.

``setns(2)``: ``os.setns`` exists from Python 3.12; before, the C library's is called through
ctypes (glibc and musl both have it). Bound on first use.
"""

from __future__ import annotations

import ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["setns", "CLONE_NEWNET"]

CLONE_NEWNET = 0x40000000  # <sched.h>

_libc: Any = None


def setns(fd: int, nstype: int) -> None:
    """Move the calling thread into the namespace ``fd`` refers to (``setns(2)``); OSError
    on failure. Needs CAP_SYS_ADMIN."""
    global _libc
    os_setns = getattr(os, "setns", None)
    if os_setns is not None:
        os_setns(fd, nstype)
        return
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns.restype = ctypes.c_int
        libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        _libc = libc
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
