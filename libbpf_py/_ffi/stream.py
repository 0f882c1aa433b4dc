"""C declarations for event streaming (libbpf.h + shim.c): ring, user ring and perf buffers.

Exact libbpf spellings. The buffers' opaque handles and callback types live here too (not in
``types.py``): only streaming code builds them. ``STRUCTS``: mirrored structures
(sizes/offsets checked by tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same
format and checks as ``functions.py``. The ``lbpy_*`` rows are the readers and the raw perf
buffer constructor of ``src/shim.c``; ``lbpy_ring`` is its opaque ring reader.
"""

from __future__ import annotations

import ctypes
from ctypes import CFUNCTYPE, POINTER, Structure, c_int, c_size_t, c_uint, c_uint32, c_uint64
from ctypes import c_ulong, c_ulonglong, c_void_p

from .functions import INT, NONE, PTR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# --- opaque handles (libbpf.h)


class ring_buffer(Structure):
    pass


class ring(Structure):
    pass


class user_ring_buffer(Structure):
    pass


class perf_buffer(Structure):
    pass


# --- *_opts structures


class ring_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t)]


class perf_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t), ("sample_period", c_uint32)]


class user_ring_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t)]


class lbpy_ring(Structure):
    """shim.c's own mapping of a BPF ring buffer for batch reads (opaque)."""


STRUCTS: tuple[type[ctypes.Structure], ...] = (ring_buffer_opts, perf_buffer_opts,
                                                user_ring_buffer_opts)

# --- callback types (typedefs in libbpf.h)

# typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
ring_buffer_sample_fn = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
# typedef void (*perf_buffer_sample_fn)(void *ctx, int cpu, void *data, __u32 size);
perf_buffer_sample_fn = CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_uint32)
# typedef void (*perf_buffer_lost_fn)(void *ctx, int cpu, __u64 cnt);
perf_buffer_lost_fn = CFUNCTYPE(None, c_void_p, c_int, c_uint64)


rb_p = POINTER(ring_buffer)
ring_p = POINTER(ring)
pb_p = POINTER(perf_buffer)
urb_p = POINTER(user_ring_buffer)
lbpy_ring_p = POINTER(lbpy_ring)

SIGNATURES: list[tuple[str, Any, list[Any], str]] = [
    # --- libbpf.h: ring buffer
    ("ring_buffer__new", rb_p,
     [c_int, ring_buffer_sample_fn, c_void_p, POINTER(ring_buffer_opts)], PTR),
    ("ring_buffer__free", None, [rb_p], NONE),
    ("ring_buffer__add", c_int, [rb_p, c_int, ring_buffer_sample_fn, c_void_p], INT),
    # poll/consume are hot: the caller checks the result (and a pending callback error) itself.
    ("ring_buffer__poll", c_int, [rb_p, c_int], NONE),
    ("ring_buffer__consume", c_int, [rb_p], NONE),
    ("ring_buffer__consume_n", c_int, [rb_p, c_size_t], NONE),
    ("ring_buffer__epoll_fd", c_int, [rb_p], NONE),
    ("ring_buffer__ring", ring_p, [rb_p, c_uint], PTR),
    ("ring__consumer_pos", c_ulong, [ring_p], NONE),
    ("ring__producer_pos", c_ulong, [ring_p], NONE),
    ("ring__avail_data_size", c_size_t, [ring_p], NONE),
    ("ring__size", c_size_t, [ring_p], NONE),
    ("ring__map_fd", c_int, [ring_p], NONE),
    # --- libbpf.h: perf buffer
    ("perf_buffer__new", pb_p,
     [c_int, c_size_t, perf_buffer_sample_fn, perf_buffer_lost_fn, c_void_p,
      POINTER(perf_buffer_opts)], PTR),
    ("perf_buffer__free", None, [pb_p], NONE),
    ("perf_buffer__poll", c_int, [pb_p, c_int], NONE),
    ("perf_buffer__consume", c_int, [pb_p], NONE),
    ("perf_buffer__epoll_fd", c_int, [pb_p], NONE),
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
    # peek: starts, stops and ends are addresses of unsigned long arrays (array.array("L"))
    ("lbpy_ring_peek", c_size_t,
     [lbpy_ring_p, c_void_p, c_void_p, c_void_p, c_size_t, c_uint, POINTER(c_ulong),
      POINTER(c_uint)], NONE),
    ("lbpy_ring_commit", None, [lbpy_ring_p, c_ulong], NONE),
    ("lbpy_ring_runs", c_size_t,
     [lbpy_ring_p, c_uint, POINTER(c_size_t), POINTER(c_size_t), POINTER(c_ulong), c_size_t,
      c_size_t, POINTER(c_ulong), POINTER(c_uint)], NONE),
    ("lbpy_ring_read", c_size_t,
     [lbpy_ring_p, c_void_p, c_size_t, POINTER(c_uint), c_size_t, c_uint, POINTER(c_uint)], NONE),
    ("lbpy_perf_read", c_size_t,
     [c_void_p, c_size_t, c_void_p, c_size_t, POINTER(c_uint), c_size_t, c_uint, POINTER(c_uint),
      POINTER(c_ulonglong)], NONE),
    # read_all: bases, counts and lost are addresses of arrays (array.array "L"/"Q")
    ("lbpy_perf_read_all", c_size_t,
     [c_void_p, c_size_t, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, c_uint, c_void_p,
      c_void_p, POINTER(c_uint)], NONE),
    ("lbpy_perf_peek", c_size_t,
     [c_void_p, c_size_t, c_void_p, c_void_p, c_void_p, c_size_t, c_uint, c_void_p, c_size_t,
      POINTER(c_ulonglong), POINTER(c_ulonglong), POINTER(c_uint)], NONE),
    ("lbpy_perf_commit", None, [c_void_p, c_ulonglong], NONE),
    ("lbpy_perf_buffer_new", pb_p, [c_int, c_size_t, c_uint, c_int], PTR),
]
