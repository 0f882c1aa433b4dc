"""The core slice of the raw layer: what opening, loading and attaching an object needs.

Its C types, mirrored from libbpf v1.7.0: the opaque handles of objects, programs, maps, links
and BTF, ``bpf_object_open_opts``, the log callback type, and ``make_opts`` (any area's opts);
and its signature table, ``SIGNATURES``: the calls of that path plus those that take only these
types. Only what a cold start needs lives here, in one module, because every module and every
ctypes class costs import time (cold start is benchmarked). Each area of the library keeps its
own C declarations in ``_ffi/<area>.py`` (structures in a ``STRUCTS`` tuple, functions in
``SIGNATURES``): ``btf`` (btf_dump), ``maps`` (map opts), ``attach`` (attach and program-load
opts), ``stream`` (ring and perf buffer handles and callbacks). ``ALL_SIGNATURES`` adds every
area's table.

Names are libbpf's exact C spellings so a grep leads to ``libbpf.h`` / ``bpf.h``. Every structure
is checked against the C compiler's ``sizeof``/``offsetof`` by ``tests/test_ffi.py``.
Padding members that stand for anonymous C bitfields are named ``_pad*`` and skipped by that check.

One table row per function: ``(name, restype, argtypes, check)``. ``check`` says how errors are
reported:

- ``INT``: libbpf 1.x convention, a negative return is ``-errno``;
- ``PTR``: NULL means failure, the reason is in ``errno``;
- ``NONE``: the value is returned as is (getters, iterators whose NULL means "no more", and hot
  paths whose caller checks the result itself to save a Python call).

``_ffi/__init__.py`` binds a core row on the first use of its function, and an area's rows when a
function of no bound table is first used; a missing symbol is a build bug and fails loudly
(ImportError), and ``tests/test_ffi.py`` checks every row of every table.
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
    c_int64,
    c_size_t,
    c_uint,
    c_uint32,
    c_uint64,
    c_void_p,
)

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _S = TypeVar("_S", bound=Structure)


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


# --- *_opts structures. `sz` must hold sizeof(struct); `make_opts` fills it (any area's opts).


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


OPTS_STRUCTS: tuple[type[Structure], ...] = (bpf_object_open_opts,)

def make_opts(cls: type[_S], **fields: Any) -> _S:
    """An opts structure with ``sz`` filled in (libbpf's OPTS_VALID contract) and fields set.

    ctypes would store an out-of-range int truncated and a ``bytes`` cut at its first NUL:
    such a field raises ValueError naming it (``bpf_uprobe_opts.bpf_cookie must be in ...``)."""
    limits = None
    for name, value in fields.items():
        if value is None or value is False or value is True or (
                type(value) is int and value == 0):
            continue  # fits every field (0 is the common default: no limits looked up)
        if limits is None:
            limits = _limits(cls)
        limit = limits.get(name)
        if limit is None:
            continue
        if type(limit) is tuple:
            if type(value) is int and not limit[0] <= value <= limit[1]:
                raise ValueError(f"{cls.__name__}.{name} must be in {limit[0]}..{limit[1]}, "
                                 f"not {value}")
        elif isinstance(value, bytes) and b"\0" in value:
            raise ValueError(f"{cls.__name__}.{name} {value!r} has a NUL character inside")
    opts = cls(**fields)
    opts.sz = ctypes.sizeof(cls)  # type: ignore[attr-defined]
    return opts


_INTS = "bBhHiIlLqQ"
_limits_of: dict[type, dict[str, Any]] = {}


def _limits(cls: type) -> dict[str, Any]:
    """Per field: (min, max) of an integer field, "str" for a C string, by structure."""
    found = _limits_of.get(cls)
    if found is None:
        found = {}
        for name, ctype, *_ in cls._fields_:  # type: ignore[attr-defined]
            code = getattr(ctype, "_type_", None)
            if ctype is c_char_p:
                found[name] = "str"
            elif isinstance(code, str) and code in _INTS:
                bits = 8 * ctypes.sizeof(ctype)
                found[name] = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if code.islower()
                               else (0, (1 << bits) - 1))
        _limits_of[cls] = found
    return found


# --- callback types

# src/lbpy.h (log.c): typedef void (*lbpy_log_fn)(int level, const char *msg);
lbpy_log_fn = CFUNCTYPE(None, c_int, c_char_p)


# --- the core signature table

INT, PTR, NONE = "int", "ptr", "none"

obj_p = POINTER(bpf_object)
prog_p = POINTER(bpf_program)
map_p = POINTER(bpf_map)
link_p = POINTER(bpf_link)
btf_p = POINTER(btf)

SIGNATURES: list[tuple[str, Any, list[Any], str]] = [
    # --- libbpf.h: version, errors, names
    ("libbpf_major_version", c_uint32, [], NONE),
    ("libbpf_minor_version", c_uint32, [], NONE),
    ("libbpf_version_string", c_char_p, [], NONE),
    ("libbpf_strerror", c_int, [c_int, c_char_p, c_size_t], NONE),
    ("libbpf_bpf_attach_type_str", c_char_p, [c_int], NONE),
    ("libbpf_bpf_link_type_str", c_char_p, [c_int], NONE),
    ("libbpf_bpf_map_type_str", c_char_p, [c_int], NONE),
    ("libbpf_bpf_prog_type_str", c_char_p, [c_int], NONE),
    ("libbpf_num_possible_cpus", c_int, [], INT),
    ("libbpf_probe_bpf_prog_type", c_int, [c_int, c_void_p], INT),
    ("libbpf_probe_bpf_map_type", c_int, [c_int, c_void_p], INT),
    ("libbpf_probe_bpf_helper", c_int, [c_int, c_int, c_void_p], INT),
    # --- libbpf.h: bpf_object
    ("bpf_object__open_file", obj_p, [c_char_p, POINTER(bpf_object_open_opts)], PTR),
    ("bpf_object__open_mem", obj_p, [c_void_p, c_size_t, POINTER(bpf_object_open_opts)], PTR),
    ("bpf_object__load", c_int, [obj_p], INT),
    ("bpf_object__close", None, [obj_p], NONE),
    ("bpf_object__name", c_char_p, [obj_p], NONE),
    ("bpf_object__kversion", c_uint, [obj_p], NONE),
    ("bpf_object__btf", btf_p, [obj_p], NONE),
    # core: a skeleton hashes its object's BTF at open (no area tables on a cold start)
    ("btf__raw_data", c_void_p, [btf_p, POINTER(c_uint32)], PTR),
    ("bpf_object__btf_fd", c_int, [obj_p], NONE),
    ("bpf_object__token_fd", c_int, [obj_p], NONE),
    ("bpf_object__next_program", prog_p, [obj_p, prog_p], NONE),
    ("bpf_object__next_map", map_p, [obj_p, map_p], NONE),
    ("bpf_object__find_program_by_name", prog_p, [obj_p, c_char_p], NONE),
    ("bpf_object__find_map_by_name", map_p, [obj_p, c_char_p], NONE),
    ("bpf_object__pin_maps", c_int, [obj_p, c_char_p], INT),
    ("bpf_object__unpin_maps", c_int, [obj_p, c_char_p], INT),
    # --- libbpf.h: bpf_program
    ("bpf_program__name", c_char_p, [prog_p], NONE),
    ("bpf_program__section_name", c_char_p, [prog_p], NONE),
    ("bpf_program__autoload", c_bool, [prog_p], NONE),
    ("bpf_program__set_autoload", c_int, [prog_p, c_bool], INT),
    ("bpf_program__autoattach", c_bool, [prog_p], NONE),
    ("bpf_program__set_autoattach", None, [prog_p, c_bool], NONE),
    ("bpf_program__insn_cnt", c_size_t, [prog_p], NONE),
    ("bpf_program__fd", c_int, [prog_p], NONE),
    ("bpf_program__type", c_int, [prog_p], NONE),
    ("bpf_program__set_type", c_int, [prog_p, c_int], INT),
    ("bpf_program__expected_attach_type", c_int, [prog_p], NONE),
    ("bpf_program__set_expected_attach_type", c_int, [prog_p, c_int], INT),
    ("bpf_program__log_level", c_uint32, [prog_p], NONE),
    ("bpf_program__set_log_level", c_int, [prog_p, c_uint32], INT),
    ("bpf_program__pin", c_int, [prog_p, c_char_p], INT),
    ("bpf_program__unpin", c_int, [prog_p, c_char_p], INT),
    ("bpf_program__attach", link_p, [prog_p], PTR),
    ("bpf_program__attach_trace", link_p, [prog_p], PTR),
    ("bpf_program__attach_xdp", link_p, [prog_p, c_int], PTR),
    # --- libbpf.h: bpf_map
    ("bpf_map__name", c_char_p, [map_p], NONE),
    ("bpf_map__fd", c_int, [map_p], NONE),
    ("bpf_map__type", c_int, [map_p], NONE),
    ("bpf_map__key_size", c_uint32, [map_p], NONE),
    ("bpf_map__value_size", c_uint32, [map_p], NONE),
    ("bpf_map__set_value_size", c_int, [map_p, c_uint32], INT),
    ("bpf_map__max_entries", c_uint32, [map_p], NONE),
    ("bpf_map__set_max_entries", c_int, [map_p, c_uint32], INT),
    ("bpf_map__map_flags", c_uint32, [map_p], NONE),
    ("bpf_map__set_map_flags", c_int, [map_p, c_uint32], INT),
    ("bpf_map__btf_key_type_id", c_uint32, [map_p], NONE),
    ("bpf_map__btf_value_type_id", c_uint32, [map_p], NONE),
    ("bpf_map__set_initial_value", c_int, [map_p, c_void_p, c_size_t], INT),
    ("bpf_map__is_internal", c_bool, [map_p], NONE),
    ("bpf_map__autocreate", c_bool, [map_p], NONE),
    ("bpf_map__set_autocreate", c_int, [map_p, c_bool], INT),
    ("bpf_map__pin", c_int, [map_p, c_char_p], INT),
    ("bpf_map__unpin", c_int, [map_p, c_char_p], INT),
    ("bpf_map__pin_path", c_char_p, [map_p], NONE),
    ("bpf_map__set_pin_path", c_int, [map_p, c_char_p], INT),
    ("bpf_map__is_pinned", c_bool, [map_p], NONE),
    # --- libbpf.h: bpf_link
    ("bpf_link__fd", c_int, [link_p], NONE),
    ("bpf_link__destroy", c_int, [link_p], INT),
    ("bpf_link__detach", c_int, [link_p], INT),
    ("bpf_link__pin", c_int, [link_p, c_char_p], INT),
    ("bpf_link__unpin", c_int, [link_p], INT),
    ("bpf_link__pin_path", c_char_p, [link_p], NONE),
    ("bpf_link__open", link_p, [c_char_p], PTR),
    ("bpf_link__update_program", c_int, [link_p, prog_p], INT),
    ("bpf_link__disconnect", None, [link_p], NONE),
    # --- bpf.h: low-level syscall wrappers, by fd. Map element calls are hot paths: NONE.
    ("bpf_map_lookup_elem", c_int, [c_int, c_void_p, c_void_p], NONE),
    ("bpf_map_lookup_elem_flags", c_int, [c_int, c_void_p, c_void_p, c_uint64], NONE),
    ("bpf_map_update_elem", c_int, [c_int, c_void_p, c_void_p, c_uint64], NONE),
    ("bpf_map_delete_elem", c_int, [c_int, c_void_p], NONE),
    ("bpf_map_lookup_and_delete_elem", c_int, [c_int, c_void_p, c_void_p], NONE),
    ("bpf_map_get_next_key", c_int, [c_int, c_void_p, c_void_p], NONE),
    ("bpf_map_freeze", c_int, [c_int], INT),
    ("bpf_obj_pin", c_int, [c_int, c_char_p], INT),
    ("bpf_obj_get", c_int, [c_char_p], INT),
    # --- btf.h
    ("btf__load_vmlinux_btf", btf_p, [], PTR),
    ("btf__parse", btf_p, [c_char_p, c_void_p], PTR),
    ("btf__free", None, [btf_p], NONE),
    ("btf__type_cnt", c_uint32, [btf_p], NONE),
    ("btf__find_by_name_kind", c_int, [btf_p, c_char_p, c_uint32], NONE),
    ("btf__type_by_id", c_void_p, [btf_p, c_uint32], NONE),
    ("btf__name_by_offset", c_char_p, [btf_p, c_uint32], NONE),
    ("btf__resolve_size", c_int64, [btf_p, c_uint32], INT),
    ("btf__resolve_type", c_int, [btf_p, c_uint32], INT),
    ("btf__align_of", c_int, [btf_p, c_uint32], INT),
    # --- the shim (ours, src/lbpy.h): src/log.c, src/version.c
    ("lbpy_set_log_fn", None, [lbpy_log_fn], NONE),
    ("lbpy_libbpf_version", c_char_p, [], NONE),
]


def __getattr__(name: str) -> Any:
    if name == "ALL_SIGNATURES":
        # Every table: the core one and each area's (importing an area binds its table).
        import importlib

        areas = [importlib.import_module(f".{a}", __package__) for a in
                 ("attach", "btf", "maps", "stream")]
        return SIGNATURES + [row for area in areas for row in area.SIGNATURES]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
