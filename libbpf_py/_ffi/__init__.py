"""The raw layer: loads the bundled libbpf (+ shim) once and applies the signature tables.

This package is the only code in libbpf_py that touches ``ctypes.CDLL`` or sets ``argtypes``.
``lib`` exposes every declared function under its C name, configured (restype, argtypes,
errcheck) from its table row; a function no table declares is not reachable through ``lib``.
Errors are translated in exactly one place, ``_raise``: libbpf 1.x returns ``-errno`` from int
functions and NULL with ``errno`` set from pointer functions; ``BpfError(errno)`` picks the
errno's subclass (``FileNotFoundError``, ``PermissionError`` ...: ``errors.py``).

Tables: a row of the core one (``core.SIGNATURES``) is bound on the first use of its
function; the areas' (``_ffi/{attach,btf,maps,stream}.py``) are imported and bound whole on the
first use of a function no core row declares. Either way a declared symbol missing from the
bundled .so raises ImportError naming it (a build bug), and ``tests/test_ffi.py`` checks every
row. What fails at import is a library of another libbpf release than the one the tables mirror
(``MIRRORED_LIBBPF``): the build bug that would make rows or structure layouts wrong. Binding on
use keeps ``import libbpf_py`` cheap: a cold start (import + open + load + attach) uses 18 of
the 222 functions, and every ctypes class built costs it (benchmarked).

For type checkers ``lib`` is a ``Lib`` (``_lib.pyi``, generated from the tables by
scripts/gen-ffi-stub.py and checked by tests/test_ffi.py): every call's arity and its integer,
``bytes`` and ``None`` arguments and results are checked; pointers stay ``Any``.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import BpfError
from . import core
from .core import INT, NONE, PTR, SIGNATURES

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional

__all__ = ["lib", "core", "strerror", "text", "check", "holding_gil", "LIBRARY_PATH",
           "ALL_STRUCTS", "LIBBPF_VERSION", "MIRRORED_LIBBPF"]

LIBRARY_PATH = os.path.join(os.path.dirname(__file__), "_libbpf.so")


def _load() -> ctypes.CDLL:
    if not os.path.isfile(LIBRARY_PATH):
        raise ImportError(
            f"libbpf_py's bundled library {LIBRARY_PATH} is missing: the package was not built "
            "(install a wheel, or build from source with `pip install .`)"
        )
    # RTLD_LOCAL (the default): our libbpf never clashes with another libbpf in the process.
    return ctypes.CDLL(LIBRARY_PATH, use_errno=True)


_cdll = _load()
AREAS = ("attach", "btf", "maps", "stream")


class _Lib:
    """The bundled library's declared functions, each configured from its table row."""

    _name = LIBRARY_PATH

    def __getattr__(self, name: str) -> Any:
        # Only reached for a name not bound yet: bind its core row, or every area's table.
        row = _CORE.get(name)
        if row is not None:
            bind([row])
            return self.__dict__[name]
        if name.startswith("__"):
            raise AttributeError(name)
        _bind_areas()
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(
                f"{name} is not declared in libbpf_py's signature tables (_ffi/)") from None


if TYPE_CHECKING:
    from ._lib import Lib  # _lib.pyi: generated from the tables (scripts/gen-ffi-stub.py)

    lib: Lib
else:
    lib = _Lib()


def strerror(err: int) -> str:
    """libbpf's message for ``err`` (covers errno values and libbpf's own 4000+ codes)."""
    buf = ctypes.create_string_buffer(256)
    lib.libbpf_strerror(err, buf, len(buf))  # a core row
    return buf.value.decode(errors="replace")


def text(raw: Optional[bytes]) -> str:
    """A name libbpf returns (program, map, section, object): UTF-8, or for the bytes that are
    not, backslash escapes (``b"a\\xff"`` -> ``"a\\\\xff"``) instead of UnicodeDecodeError."""
    if not raw:
        return ""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def _raise(err: int, func: Any) -> NoReturn:
    raise BpfError(err, context=getattr(func, "__name__", str(func)))


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
        raise BpfError(-result, context=what)
    return result


def bind(rows: list[tuple[str, Any, list[Any], str]]) -> None:
    """Configure each row's function and make it ``lib.<name>``; ImportError if any is absent."""
    missing = []
    for name, restype, argtypes, how in rows:
        try:
            fn = getattr(_cdll, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        if how == INT:
            fn.errcheck = _check_int
        elif how == PTR:
            fn.errcheck = _check_ptr
        lib.__dict__[name] = fn
    if missing:
        raise ImportError(
            f"{LIBRARY_PATH} lacks {len(missing)} declared function(s): {', '.join(missing)} "
            "(a build bug: the bundled libbpf does not match libbpf_py)"
        )


_pydll: Any = None


def holding_gil(name: str) -> Any:
    """A core row's function bound a second time, through ``ctypes.PyDLL``: calls keep the GIL.

    For calls that return in about a microsecond and never sleep (the element calls of plain
    data maps, ``maps._base.GIL_HELD_TYPES``): ctypes' GIL release and re-take around a call
    costs about as many instructions as the rest of the call's Python side. While such a call
    runs no other Python thread does (none can close the map meanwhile). Rows without errcheck
    only (hot paths test the result themselves)."""
    global _pydll
    row = _CORE[name]
    if row[3] != NONE:
        raise ValueError(f"{name}: only rows without errcheck can be bound holding the GIL")
    if _pydll is None:
        # The same library (dlopen of an open path returns its handle): no second copy.
        _pydll = ctypes.PyDLL(LIBRARY_PATH)
    fn = getattr(_pydll, name)
    fn.restype = row[1]
    fn.argtypes = row[2]
    return fn


#: Core rows by function name, bound on first use (``_Lib.__getattr__``).
_CORE = {row[0]: row for row in SIGNATURES}
_areas_bound = False

#: The libbpf release (major, minor) whose structures and prototypes the tables mirror.
MIRRORED_LIBBPF = (1, 7)


def check_libbpf_version(version: str) -> str:
    """``version`` if it is a release of ``MIRRORED_LIBBPF``, else ImportError (a build bug)."""
    if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) != MIRRORED_LIBBPF:
        want = ".".join(map(str, MIRRORED_LIBBPF))
        raise ImportError(
            f"{LIBRARY_PATH} is libbpf {version}, but libbpf_py's tables mirror libbpf {want} "
            "(a build bug: build from the pinned libbpf/ submodule, scripts/get-libbpf.sh)")
    return version


#: Version of the bundled libbpf ("1.7.0"), checked against the tables at import.
LIBBPF_VERSION = (lib.lbpy_libbpf_version() or b"").decode()
if not LIBBPF_VERSION.startswith("%d.%d." % MIRRORED_LIBBPF):  # the check's cheap common case
    check_libbpf_version(LIBBPF_VERSION)


def _bind_areas() -> None:
    global _areas_bound
    if not _areas_bound:
        import importlib

        for area in AREAS:
            bind(importlib.import_module(f".{area}", __name__).SIGNATURES)
        _areas_bound = True


def __getattr__(name: str) -> Any:
    if name == "ALL_STRUCTS":
        #: Every mirrored C structure (checked against the C compiler by tests/test_ffi.py).
        import importlib

        areas = [importlib.import_module(f".{a}", __name__) for a in AREAS]
        return core.OPTS_STRUCTS + tuple(s for a in areas for s in a.STRUCTS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
