"""C declarations for maps (bpf.h/libbpf.h): map info, batch operations, fd-by-id, setters.

Exact libbpf spellings. ``STRUCTS``: mirrored structures (sizes/offsets checked by
tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same format and checks as
``core.py``. Element and batch calls are hot paths: ``NONE``-checked on purpose, the
callers in ``libbpf_py/map*.py`` check the ``-errno`` result themselves.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, c_char, c_char_p, c_int, c_int32, c_size_t, c_uint32, c_uint64
from ctypes import c_void_p

from .core import INT, NONE, map_p

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BPF_OBJ_NAME_LEN = 16


class bpf_map_batch_opts(ctypes.Structure):
    _fields_ = [("sz", c_size_t), ("elem_flags", c_uint64), ("flags", c_uint64)]


class bpf_map_create_opts(ctypes.Structure):
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


class bpf_map_info(ctypes.Structure):
    """``struct bpf_map_info`` (linux/bpf.h), filled by ``bpf_obj_get_info_by_fd``."""

    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("key_size", c_uint32),
        ("value_size", c_uint32),
        ("max_entries", c_uint32),
        ("map_flags", c_uint32),
        ("name", c_char * BPF_OBJ_NAME_LEN),
        ("ifindex", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32),
        ("netns_dev", c_uint64),
        ("netns_ino", c_uint64),
        ("btf_id", c_uint32),
        ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32),
        ("btf_vmlinux_id", c_uint32),
        ("map_extra", c_uint64),
        ("hash", c_uint64),
        ("hash_size", c_uint32),
    ]


#: Not listed in STRUCTS: tests/test_ffi.py checks opts structures only (``sz`` first);
#: tests/test_map_admin.py checks this layout against the C compiler.
INFO_STRUCTS: tuple[type[ctypes.Structure], ...] = (bpf_map_info,)
#: Kernel structures: checked field by field by tests/test_ffi.py.
KERNEL_STRUCTS: tuple[type[ctypes.Structure], ...] = (bpf_map_info,)

STRUCTS: tuple[type[ctypes.Structure], ...] = (bpf_map_batch_opts, bpf_map_create_opts)

_u32_p = POINTER(c_uint32)
_batch_opts_p = POINTER(bpf_map_batch_opts)

SIGNATURES: list[tuple[str, Any, list[Any], str]] = [
    # --- bpf.h: by fd. Hot paths (element and batch calls) are NONE: the caller checks.
    ("bpf_map_lookup_batch", c_int,
     [c_int, c_void_p, c_void_p, c_void_p, c_void_p, _u32_p, _batch_opts_p], NONE),
    ("bpf_map_create", c_int,
     [c_int, c_char_p, c_uint32, c_uint32, c_uint32, POINTER(bpf_map_create_opts)], INT),
    ("bpf_map_lookup_and_delete_elem_flags", c_int, [c_int, c_void_p, c_void_p, c_uint64], NONE),
    ("bpf_map_delete_elem_flags", c_int, [c_int, c_void_p, c_uint64], NONE),
    ("bpf_map_update_batch", c_int, [c_int, c_void_p, c_void_p, _u32_p, _batch_opts_p], NONE),
    ("bpf_map_delete_batch", c_int, [c_int, c_void_p, _u32_p, _batch_opts_p], NONE),
    ("bpf_map_lookup_and_delete_batch", c_int,
     [c_int, c_void_p, c_void_p, c_void_p, c_void_p, _u32_p, _batch_opts_p], NONE),
    ("bpf_map_get_fd_by_id", c_int, [c_uint32], INT),
    # --- libbpf.h: struct bpf_map definition, before load
    ("bpf_map__initial_value", c_void_p, [map_p, POINTER(c_size_t)], NONE),
    ("bpf_map__set_type", c_int, [map_p, c_int], INT),
    ("bpf_map__set_key_size", c_int, [map_p, c_uint32], INT),
    ("bpf_map__numa_node", c_uint32, [map_p], NONE),
    ("bpf_map__set_numa_node", c_int, [map_p, c_uint32], INT),
    ("bpf_map__map_extra", c_uint64, [map_p], NONE),
    ("bpf_map__set_map_extra", c_int, [map_p, c_uint64], INT),
    ("bpf_map__ifindex", c_uint32, [map_p], NONE),
    ("bpf_map__set_inner_map_fd", c_int, [map_p, c_int], INT),
    ("bpf_map__inner_map", map_p, [map_p], NONE),
    ("bpf_map__reuse_fd", c_int, [map_p, c_int], INT),
    # --- src/atomic.c: atomic read-and-reset of an mmapped global (variables.py)
    ("lbpy_atomic_xchg", ctypes.c_ulonglong, [c_void_p, ctypes.c_uint, ctypes.c_ulonglong], NONE),
]
