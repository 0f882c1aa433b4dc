"""C declarations for BTF (btf.h): types, dumping, BTF of objects/vmlinux/modules.

Exact libbpf spellings. ``STRUCTS``: mirrored structures (sizes/offsets checked by
tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same format and checks as
``core.py``. The core rows (``btf__load_vmlinux_btf``, ``btf__parse``, ``btf__free``,
``btf__type_cnt``, ``btf__find_by_name_kind``, ``btf__type_by_id``, ``btf__name_by_offset``,
``btf__resolve_size``, ``btf__resolve_type``, ``btf__align_of``) live in ``core.py``.

``struct btf_type`` and the records that follow it (``btf_member``, ``btf_array`` ...) are read
with ``struct.unpack_from`` in ``libbpf_py/_types.py``: they are the kernel's stable UAPI layout
(linux/btf.h), all ``__u32`` words.

btf_dump's print callback receives a ``va_list`` (``btf_dump_printf_fn_t``), which ctypes cannot
model. Instead of a Python callback, libbpf_py hands btf_dump the C library's own ``vfprintf`` as
the callback and a ``FILE *`` (from ``open_memstream``) as its ``ctx``: ``int vfprintf(FILE *,
const char *, va_list)`` has exactly the callback's parameters (its int result is ignored by the
caller, harmless on every ABI), so the whole dump runs in C. ``btf_dump__new`` is therefore bound
below with ``c_void_p`` for the callback, outside the checked table (test_ffi cannot express a
``va_list`` typedef); ``btf_dump__free`` and the dump calls are in the table.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, c_bool, c_char_p, c_int, c_size_t, c_uint32
from ctypes import c_void_p

from .core import INT, NONE, PTR, btf_p

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class btf_dump(Structure):
    """Opaque ``struct btf_dump`` (btf.h)."""


class btf_dump_opts(Structure):
    _fields_ = [("sz", c_size_t)]


class btf_dump_type_data_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("indent_str", c_char_p),
        ("indent_level", c_int),
        ("compact", c_bool),
        ("skip_names", c_bool),
        ("emit_zeroes", c_bool),
        ("emit_strings", c_bool),
    ]


class btf_dump_emit_type_decl_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("field_name", c_char_p),
        ("indent_level", c_int),
        ("strip_mods", c_bool),
    ]


STRUCTS: tuple[type[ctypes.Structure], ...] = (btf_dump_opts, btf_dump_type_data_opts,
                                               btf_dump_emit_type_decl_opts)

dump_p = POINTER(btf_dump)

SIGNATURES: list[tuple[str, Any, list[Any], str]] = [
    ("btf__parse_raw", btf_p, [c_char_p], PTR),
    ("btf__parse_elf", btf_p, [c_char_p, c_void_p], PTR),
    ("btf__parse_split", btf_p, [c_char_p, btf_p], PTR),
    ("btf__load_module_btf", btf_p, [c_char_p, btf_p], PTR),
    ("btf__load_from_kernel_by_id", btf_p, [c_uint32], PTR),
    ("btf__load_from_kernel_by_id_split", btf_p, [c_uint32, btf_p], PTR),
    ("btf__new", btf_p, [c_void_p, c_uint32], PTR),
    ("btf__base_btf", btf_p, [btf_p], NONE),
    ("btf__pointer_size", c_size_t, [btf_p], NONE),
    ("btf__fd", c_int, [btf_p], NONE),
    ("btf__str_by_offset", c_char_p, [btf_p, c_uint32], NONE),
    ("btf__find_by_name", c_int, [btf_p, c_char_p], NONE),
    ("btf_dump__free", None, [dump_p], NONE),
    ("btf_dump__dump_type", c_int, [dump_p, c_uint32], INT),
    ("btf_dump__emit_type_decl", c_int,
     [dump_p, c_uint32, POINTER(btf_dump_emit_type_decl_opts)], INT),
    ("btf_dump__dump_type_data", c_int,
     [dump_p, c_uint32, c_void_p, c_size_t, POINTER(btf_dump_type_data_opts)], INT),
    # --- btf.h: building a BTF (types read from DWARF: libbpf_py/_dwarf.py)
    ("btf__new_empty", btf_p, [], PTR),
    ("btf__add_int", c_int, [btf_p, c_char_p, c_size_t, c_int], INT),
    ("btf__add_float", c_int, [btf_p, c_char_p, c_size_t], INT),
    ("btf__add_ptr", c_int, [btf_p, c_int], INT),
    ("btf__add_array", c_int, [btf_p, c_int, c_int, c_uint32], INT),
    ("btf__add_struct", c_int, [btf_p, c_char_p, c_uint32], INT),
    ("btf__add_union", c_int, [btf_p, c_char_p, c_uint32], INT),
    ("btf__add_field", c_int, [btf_p, c_char_p, c_int, c_uint32, c_uint32], INT),
    ("btf__add_enum", c_int, [btf_p, c_char_p, c_uint32], INT),
    ("btf__add_enum_value", c_int, [btf_p, c_char_p, ctypes.c_int64], INT),
    ("btf__add_enum64", c_int, [btf_p, c_char_p, c_uint32, c_bool], INT),
    ("btf__add_enum64_value", c_int, [btf_p, c_char_p, ctypes.c_uint64], INT),
    ("btf__add_fwd", c_int, [btf_p, c_char_p, c_int], INT),
    ("btf__add_typedef", c_int, [btf_p, c_char_p, c_int], INT),
    ("btf__add_volatile", c_int, [btf_p, c_int], INT),
    ("btf__add_const", c_int, [btf_p, c_int], INT),
    ("btf__add_restrict", c_int, [btf_p, c_int], INT),
    ("bpf_btf_get_fd_by_id", c_int, [c_uint32], INT),
    ("bpf_btf_get_next_id", c_int, [c_uint32, POINTER(c_uint32)], INT),
]


def _bind_btf_dump_new() -> Any:
    """``struct btf_dump *btf_dump__new(const struct btf *btf, btf_dump_printf_fn_t printf_fn,
    void *ctx, const struct btf_dump_opts *opts)`` with ``printf_fn`` as a plain address (see the
    module docstring). NULL + errno on failure, translated like a PTR row."""
    from . import _cdll, _check_ptr

    fn = _cdll.btf_dump__new  # AttributeError here = build bug, as for the table
    fn.restype = dump_p
    fn.argtypes = [btf_p, c_void_p, c_void_p, POINTER(btf_dump_opts)]
    fn.errcheck = _check_ptr
    return fn


def _bind_libc() -> Any:
    """The C library functions the btf_dump sink needs (glibc and musl both have them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.open_memstream.restype = c_void_p
    libc.open_memstream.argtypes = [POINTER(c_void_p), POINTER(c_size_t)]
    libc.fclose.restype = c_int
    libc.fclose.argtypes = [c_void_p]
    libc.fputs.restype = c_int
    libc.fputs.argtypes = [c_char_p, c_void_p]
    libc.free.restype = None
    libc.free.argtypes = [c_void_p]
    return libc


_cache: dict[str, Any] = {}


def btf_dump__new() -> Any:
    """The bound ``btf_dump__new`` (bound on first use)."""
    fn = _cache.get("btf_dump__new")
    if fn is None:
        fn = _cache["btf_dump__new"] = _bind_btf_dump_new()
    return fn


def libc() -> Any:
    """The process's C library with ``open_memstream``/``fclose``/``fputs``/``free`` bound, and
    ``vfprintf``'s address (``libc().vfprintf_addr``) to serve as a ``btf_dump_printf_fn_t``."""
    c = _cache.get("libc")
    if c is None:
        c = _cache["libc"] = _bind_libc()
        c.vfprintf_addr = ctypes.cast(c.vfprintf, c_void_p).value
    return c
