"""C declarations for event streaming (libbpf.h + the shim): ring, user ring and perf buffers.

Exact libbpf spellings. The buffers' opaque handles and callback types live here too (not in
``core.py``): only streaming code builds them. ``STRUCTS``: mirrored structures
(sizes/offsets checked by tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same
format and checks as ``core.py``. The ``lbpy_*`` rows are the shim's readers and raw perf
buffer constructor (``src/ringbuf.c``, ``src/perfbuf.c``) and its ``perf_event_open(2)``
(``src/perf_event.c``); ``lbpy_ring`` is its opaque ring reader. ``KERNEL_STRUCTS``: the perf
event structures (``perf_event_attr`` for ``lbpy_perf_event_open``, ``perf_event_mmap_page``
read by perfbuf), checked member by member against the C compiler.
"""

from __future__ import annotations

import ctypes
from ctypes import CFUNCTYPE, POINTER, Structure, c_int, c_size_t, c_uint, c_uint32, c_uint64
from ctypes import c_ulong, c_ulonglong, c_void_p

from .core import INT, NONE, PTR

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
    """src/ringbuf.c's own mapping of a BPF ring buffer for batch reads (opaque)."""


STRUCTS: tuple[type[ctypes.Structure], ...] = (ring_buffer_opts, perf_buffer_opts,
                                                user_ring_buffer_opts)


# --- kernel structures (linux/perf_event.h, the copy libbpf bundles)


class perf_event_attr(Structure):
    """``struct perf_event_attr`` (PERF_ATTR_SIZE_VER9, 144 bytes; ``size`` says how much of it
    the caller knows, and older kernels accept it while the part they do not know is zero), the
    argument of ``perf_event_open(2)``. The flag bits up to ``freq`` are named; the unions are
    anonymous, so both C names of a member work (``sample_period``/``sample_freq``)."""

    class _period_u(ctypes.Union):
        _fields_ = [("sample_period", c_uint64), ("sample_freq", c_uint64)]

    class _wakeup_u(ctypes.Union):
        _fields_ = [("wakeup_events", c_uint32), ("wakeup_watermark", c_uint32)]

    class _config1_u(ctypes.Union):
        _fields_ = [("bp_addr", c_uint64), ("kprobe_func", c_uint64), ("uprobe_path", c_uint64),
                    ("config1", c_uint64)]

    class _config2_u(ctypes.Union):
        _fields_ = [("bp_len", c_uint64), ("kprobe_addr", c_uint64), ("probe_offset", c_uint64),
                    ("config2", c_uint64)]

    _anonymous_ = ("_u0", "_u1", "_u2", "_u3")
    _fields_ = [
        ("type", c_uint32),
        ("size", c_uint32),
        ("config", c_uint64),
        ("_u0", _period_u),
        ("sample_type", c_uint64),
        ("read_format", c_uint64),
        ("disabled", c_uint64, 1),
        ("inherit", c_uint64, 1),
        ("pinned", c_uint64, 1),
        ("exclusive", c_uint64, 1),
        ("exclude_user", c_uint64, 1),
        ("exclude_kernel", c_uint64, 1),
        ("exclude_hv", c_uint64, 1),
        ("exclude_idle", c_uint64, 1),
        ("mmap", c_uint64, 1),
        ("comm", c_uint64, 1),
        ("freq", c_uint64, 1),
        ("_flags", c_uint64, 53),  # inherit_stat ... __reserved_1
        ("_u1", _wakeup_u),
        ("bp_type", c_uint32),
        ("_u2", _config1_u),
        ("_u3", _config2_u),
        ("branch_sample_type", c_uint64),
        ("sample_regs_user", c_uint64),
        ("sample_stack_user", c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", c_uint64),
        ("aux_watermark", c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("_reserved_2", ctypes.c_uint16),
        ("aux_sample_size", c_uint32),
        ("aux_action", c_uint32),  # a union with the aux_start_paused/pause/resume bits
        ("sig_data", c_uint64),
        ("config3", c_uint64),
        ("config4", c_uint64),
    ]


class perf_event_mmap_page(Structure):
    """``struct perf_event_mmap_page``: the first page of a perf event's mapping, whose
    ``data_head`` (written by the kernel) and ``data_tail`` (by the reader) delimit the samples
    waiting in the ring that follows it."""

    _fields_ = [
        ("version", c_uint32),
        ("compat_version", c_uint32),
        ("lock", c_uint32),
        ("index", c_uint32),
        ("offset", ctypes.c_int64),
        ("time_enabled", c_uint64),
        ("time_running", c_uint64),
        ("capabilities", c_uint64),  # a union with the cap_* bits
        ("pmc_width", ctypes.c_uint16),
        ("time_shift", ctypes.c_uint16),
        ("time_mult", c_uint32),
        ("time_offset", c_uint64),
        ("time_zero", c_uint64),
        ("size", c_uint32),
        ("_reserved_1", c_uint32),
        ("time_cycles", c_uint64),
        ("time_mask", c_uint64),
        ("_reserved", ctypes.c_uint8 * (116 * 8)),
        ("data_head", c_uint64),
        ("data_tail", c_uint64),
        ("data_offset", c_uint64),
        ("data_size", c_uint64),
        ("aux_head", c_uint64),
        ("aux_tail", c_uint64),
        ("aux_offset", c_uint64),
        ("aux_size", c_uint64),
    ]


KERNEL_STRUCTS: tuple[type[ctypes.Structure], ...] = (perf_event_attr, perf_event_mmap_page)

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
    # --- src/ringbuf.c, src/perfbuf.c: batch readers and the perf buffer with a custom wakeup
    ("lbpy_ring_open", lbpy_ring_p, [c_int], PTR),
    ("lbpy_ring_close", None, [lbpy_ring_p], NONE),
    ("lbpy_ring_data", c_void_p, [lbpy_ring_p, POINTER(c_size_t)], PTR),
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
    # --- src/perf_event.c: perf_event_open(2) (fd or -errno; the caller explains a failure itself)
    ("lbpy_perf_event_open", c_int,
     [POINTER(perf_event_attr), c_int, c_int, c_int, c_ulong], NONE),
]
