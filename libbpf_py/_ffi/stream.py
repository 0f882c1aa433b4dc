"""C declarations for event streaming (libbpf.h + shim.c): ring buffer, user ring buffer, perf buffer.

Exact libbpf spellings. ``STRUCTS``: mirrored structures (sizes/offsets checked by
tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same format and checks as
``functions.py``. The ``lbpy_*`` rows are the readers and the raw perf buffer constructor of
``src/shim.c``; ``lbpy_ring`` is its opaque ring reader.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, c_int, c_size_t, c_uint, c_uint32, c_ulonglong
from ctypes import c_ulong, c_void_p

from . import types as t
from .functions import INT, NONE, PTR, pb_p

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class user_ring_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t)]


class lbpy_ring(Structure):
    """shim.c's own mapping of a BPF ring buffer for batch reads (opaque)."""


STRUCTS: tuple[type[ctypes.Structure], ...] = (user_ring_buffer_opts,)

urb_p = POINTER(t.user_ring_buffer)
lbpy_ring_p = POINTER(lbpy_ring)

SIGNATURES: list[tuple[str, Any, list[Any], str]] = [
    # --- libbpf.h: user ring buffer (reserve returns NULL + errno: checked by the caller, since
    # a full ring is an expected outcome there, not an error to raise generically)
    ("user_ring_buffer__new", urb_p, [c_int, POINTER(user_ring_buffer_opts)], PTR),
    ("user_ring_buffer__reserve", c_void_p, [urb_p, c_uint32], NONE),
    ("user_ring_buffer__reserve_blocking", c_void_p, [urb_p, c_uint32, c_int], NONE),
    ("user_ring_buffer__submit", None, [urb_p, c_void_p], NONE),
    ("user_ring_buffer__discard", None, [urb_p, c_void_p], NONE),
    ("user_ring_buffer__free", None, [urb_p], NONE),
    # --- libbpf.h: perf buffer internals for custom consumers
    ("perf_buffer__buffer_cnt", c_size_t, [pb_p], NONE),
    ("perf_buffer__buffer", c_int, [pb_p, c_int, POINTER(c_void_p), POINTER(c_size_t)], INT),
    ("perf_buffer__buffer_fd", c_int, [pb_p, c_size_t], INT),
    ("perf_buffer__consume_buffer", c_int, [pb_p, c_size_t], NONE),
    # --- shim.c: batch readers and the perf buffer with a custom wakeup
    ("lbpy_ring_open", lbpy_ring_p, [c_int], PTR),
    ("lbpy_ring_close", None, [lbpy_ring_p], NONE),
    ("lbpy_ring_data", c_void_p, [lbpy_ring_p, POINTER(c_size_t)], NONE),
    ("lbpy_ring_peek", c_size_t,
     [lbpy_ring_p, POINTER(c_size_t), POINTER(c_uint), POINTER(c_ulong), c_size_t,
      POINTER(c_ulong)], NONE),
    ("lbpy_ring_commit", None, [lbpy_ring_p, c_ulong], NONE),
    ("lbpy_ring_runs", c_size_t,
     [lbpy_ring_p, c_uint, POINTER(c_size_t), POINTER(c_size_t), POINTER(c_ulong), c_size_t,
      c_size_t, POINTER(c_ulong), POINTER(c_uint)], NONE),
    ("lbpy_ring_read", c_size_t,
     [lbpy_ring_p, c_void_p, c_size_t, POINTER(c_uint), c_size_t, c_uint, POINTER(c_uint)], NONE),
    ("lbpy_perf_read", c_size_t,
     [c_void_p, c_size_t, c_void_p, c_size_t, POINTER(c_uint), c_size_t, c_uint, POINTER(c_uint),
      POINTER(c_ulonglong)], NONE),
    ("lbpy_perf_peek", c_size_t,
     [c_void_p, c_size_t, POINTER(c_size_t), POINTER(c_uint), POINTER(c_ulonglong), c_size_t,
      c_void_p, c_size_t, POINTER(c_ulonglong), POINTER(c_ulonglong)], NONE),
    ("lbpy_perf_commit", None, [c_void_p, c_ulonglong], NONE),
    ("lbpy_perf_buffer_new", pb_p, [c_int, c_size_t, c_uint, c_int], PTR),
]
