"""C types of the core slice, mirrored from libbpf v1.7.0: the opaque handles of objects,
programs, maps, links and BTF, ``bpf_object_open_opts``, the log callback type, ``make_opts``.

Only what an open + load + attach needs lives here, because every class costs import time (cold
start is benchmarked); each area's types live with its table in ``_ffi/<area>.py`` (ring and perf
buffer handles and callbacks in ``stream.py``, attach and program-load opts in ``attach.py``, map
opts in ``maps.py``, btf_dump in ``btf.py``).

Names are libbpf's exact C spellings so a grep leads to ``libbpf.h`` / ``bpf.h``. Every structure
is checked against the C compiler's ``sizeof``/``offsetof`` by ``tests/test_ffi.py``.
Padding members that stand for anonymous C bitfields are named ``_pad*`` and skipped by that check.
"""

from __future__ import annotations

import ctypes
from ctypes import CFUNCTYPE, Structure, c_bool, c_char_p, c_int, c_size_t, c_uint32, c_void_p

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

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _S = TypeVar("_S", bound=Structure)


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
