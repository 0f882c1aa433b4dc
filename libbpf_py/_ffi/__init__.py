"""The raw layer: loads the bundled libbpf (+ shim) once and applies the signature table.

This package is the only code in libbpf_py that touches ``ctypes.CDLL`` or sets ``argtypes``.
``lib`` exposes every function of ``functions.SIGNATURES`` under its C name. Errors are
translated in exactly one place, ``_raise``: libbpf 1.x returns ``-errno`` from int functions and
NULL with ``errno`` set from pointer functions.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import BpfError
from . import types
from .functions import ALL_SIGNATURES, INT, PTR

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["lib", "types", "strerror", "check", "LIBRARY_PATH", "ALL_STRUCTS"]

LIBRARY_PATH = os.path.join(os.path.dirname(__file__), "_libbpf.so")


def _load() -> ctypes.CDLL:
    if not os.path.isfile(LIBRARY_PATH):
        raise ImportError(
            f"libbpf_py's bundled library {LIBRARY_PATH} is missing: the package was not built "
            "(install a wheel, or build from source with `pip install .`)"
        )
    # RTLD_LOCAL (the default): our libbpf never clashes with another libbpf in the process.
    return ctypes.CDLL(LIBRARY_PATH, use_errno=True)


lib = _load()


def strerror(err: int) -> str:
    """libbpf's message for ``err`` (covers errno values and libbpf's own 4000+ codes)."""
    buf = ctypes.create_string_buffer(256)
    lib.libbpf_strerror(err, buf, len(buf))
    return buf.value.decode(errors="replace")


def _raise(err: int, func: Any) -> NoReturn:
    name = getattr(func, "__name__", str(func))
    raise BpfError(err, strerror(err), name)


def _check_int(result: int, func: Any, args: tuple[Any, ...]) -> int:
    if result < 0:
        _raise(-result, func)
    return result


def _check_ptr(result: Any, func: Any, args: tuple[Any, ...]) -> Any:
    if not result:
        _raise(ctypes.get_errno() or 22, func)  # EINVAL if libbpf left errno unset
    return result


def check(result: int, what: str) -> int:
    """Raise ``BpfError`` for a negative result of a NONE-checked (hot path) call."""
    if result < 0:
        raise BpfError(-result, strerror(-result), what)
    return result


def _apply() -> None:
    missing = []
    for name, restype, argtypes, how in ALL_SIGNATURES:
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        if how == INT:
            fn.errcheck = _check_int
        elif how == PTR:
            fn.errcheck = _check_ptr
    if missing:
        raise ImportError(
            f"{LIBRARY_PATH} lacks {len(missing)} declared function(s): {', '.join(missing)} "
            "(a build bug: the bundled libbpf does not match libbpf_py)"
        )


_apply()


def _all_structs() -> tuple[type[ctypes.Structure], ...]:
    from . import attach, btf, maps, stream

    return types.OPTS_STRUCTS + attach.STRUCTS + btf.STRUCTS + maps.STRUCTS + stream.STRUCTS


#: Every mirrored C structure (checked against the C compiler by tests/test_ffi.py).
ALL_STRUCTS = _all_structs()

# Keep a stable reference for errno-based helpers used by concept modules.
get_errno = ctypes.get_errno
EINVAL = 22
