"""C types mirrored from libbpf v1.7.0: opaque handles, ``*_opts`` structures, callback types.

Names are libbpf's exact C spellings so a grep leads to ``libbpf.h`` / ``bpf.h``. Every structure
here is checked against the C compiler's ``sizeof``/``offsetof`` by ``tests/test_ffi.py``.
Padding members that stand for anonymous C bitfields are named ``_pad*`` and skipped by that check.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_ulong,
    c_void_p,
)

# --- opaque handles: one empty Structure per C struct, so pointers of different kinds can't mix.


class bpf_object(Structure):
    pass


class bpf_program(Structure):
    pass


class bpf_map(Structure):
    pass


class bpf_link(Structure):
    pass


class btf(Structure):
    pass


class ring_buffer(Structure):
    pass


class ring(Structure):
    pass


class user_ring_buffer(Structure):
    pass


class perf_buffer(Structure):
    pass


# --- *_opts structures. `sz` must hold sizeof(struct); `make_opts` fills it.


class bpf_object_open_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("object_name", c_char_p),
        ("relaxed_maps", c_bool),
        ("pin_root_path", c_char_p),
        ("_pad0", c_uint32),  # __u32 :32; stub of the removed attach_prog_fd
        ("kconfig", c_char_p),
        ("btf_custom_path", c_char_p),
        ("kernel_log_buf", c_void_p),
        ("kernel_log_size", c_size_t),
        ("kernel_log_level", c_uint32),
        ("bpf_token_path", c_char_p),
    ]


class bpf_prog_load_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("attempts", c_int),
        ("expected_attach_type", c_int),  # enum bpf_attach_type
        ("prog_btf_fd", c_uint32),
        ("prog_flags", c_uint32),
        ("prog_ifindex", c_uint32),
        ("kern_version", c_uint32),
        ("attach_btf_id", c_uint32),
        ("attach_prog_fd", c_uint32),
        ("attach_btf_obj_fd", c_uint32),
        ("fd_array", POINTER(c_int)),
        ("func_info", c_void_p),
        ("func_info_cnt", c_uint32),
        ("func_info_rec_size", c_uint32),
        ("line_info", c_void_p),
        ("line_info_cnt", c_uint32),
        ("line_info_rec_size", c_uint32),
        ("log_level", c_uint32),
        ("log_size", c_uint32),
        ("log_buf", c_char_p),
        ("log_true_size", c_uint32),
        ("token_fd", c_uint32),
        ("fd_array_cnt", c_uint32),
    ]


class bpf_tracepoint_opts(Structure):
    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64)]


class bpf_raw_tracepoint_opts(Structure):
    _fields_ = [("sz", c_size_t), ("cookie", c_uint64)]


class bpf_kprobe_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("bpf_cookie", c_uint64),
        ("offset", c_size_t),
        ("retprobe", c_bool),
        ("attach_mode", c_int),  # enum probe_attach_mode
    ]


class bpf_uprobe_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("ref_ctr_offset", c_size_t),
        ("bpf_cookie", c_uint64),
        ("retprobe", c_bool),
        ("func_name", c_char_p),
        ("attach_mode", c_int),  # enum probe_attach_mode
    ]


class ring_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t)]


class perf_buffer_opts(Structure):
    _fields_ = [("sz", c_size_t), ("sample_period", c_uint32)]


class bpf_map_batch_opts(Structure):
    _fields_ = [("sz", c_size_t), ("elem_flags", c_uint64), ("flags", c_uint64)]


class bpf_map_create_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("btf_fd", c_uint32),
        ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32),
        ("inner_map_fd", c_uint32),
        ("map_flags", c_uint32),
        ("map_extra", c_uint64),
        ("numa_node", c_uint32),
        ("map_ifindex", c_uint32),
        ("value_type_btf_obj_fd", c_int32),
        ("token_fd", c_uint32),
        ("excl_prog_hash", c_void_p),
        ("excl_prog_hash_size", c_uint32),
    ]


class bpf_test_run_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("data_in", c_void_p),
        ("data_out", c_void_p),
        ("data_size_in", c_uint32),
        ("data_size_out", c_uint32),
        ("ctx_in", c_void_p),
        ("ctx_out", c_void_p),
        ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32),
        ("retval", c_uint32),
        ("repeat", c_int),
        ("duration", c_uint32),
        ("flags", c_uint32),
        ("cpu", c_uint32),
        ("batch_size", c_uint32),
    ]


class bpf_kprobe_multi_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("syms", POINTER(c_char_p)),
        ("addrs", POINTER(c_ulong)),
        ("cookies", POINTER(c_uint64)),
        ("cnt", c_size_t),
        ("retprobe", c_bool),
        ("session", c_bool),
        ("unique_match", c_bool),
    ]


OPTS_STRUCTS: tuple[type[Structure], ...] = (
    bpf_object_open_opts,
    bpf_prog_load_opts,
    bpf_tracepoint_opts,
    bpf_raw_tracepoint_opts,
    bpf_kprobe_opts,
    bpf_uprobe_opts,
    ring_buffer_opts,
    perf_buffer_opts,
    bpf_map_batch_opts,
    bpf_map_create_opts,
    bpf_test_run_opts,
    bpf_kprobe_multi_opts,
)

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _S = TypeVar("_S", bound=Structure)


def make_opts(cls: type[_S], **fields: Any) -> _S:
    """An opts structure with ``sz`` filled in (libbpf's OPTS_VALID contract) and fields set."""
    opts = cls(**fields)
    opts.sz = ctypes.sizeof(cls)  # type: ignore[attr-defined]
    return opts


# --- callback types (typedefs in libbpf.h)

# typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
ring_buffer_sample_fn = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
# typedef void (*perf_buffer_sample_fn)(void *ctx, int cpu, void *data, __u32 size);
perf_buffer_sample_fn = CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_uint32)
# typedef void (*perf_buffer_lost_fn)(void *ctx, int cpu, __u64 cnt);
perf_buffer_lost_fn = CFUNCTYPE(None, c_void_p, c_int, c_uint64)
# shim.c: typedef void (*lbpy_log_fn)(int level, const char *msg);
lbpy_log_fn = CFUNCTYPE(None, c_int, c_char_p)
