"""Exceptions raised by libbpf_py.

``BpfError`` is an ``OSError``: ``errno`` is set, ``strerror`` is libbpf's (or the C library's)
message and ``context`` says what libbpf_py was doing ("load object 'x.bpf.o'").

``BpfError(err, ...)`` is the one constructor from an errno, and like ``OSError(err, ...)`` it
returns the subclass that errno has among Python's own: ``BpfError(ENOENT)`` is a
``BpfFileNotFoundError``, also a ``FileNotFoundError``, so ``except FileNotFoundError`` works on
``Map.from_pinned("/missing")`` as it does on ``open()``. EPERM/EACCES give
``PermissionError``, EEXIST ``FileExistsError``, EAGAIN ``BlockingIOError``, EINTR
``InterruptedError``, ESRCH ``ProcessLookupError``, ETIMEDOUT ``TimeoutError`` ...
(``ERRNO_CLASSES``). The other subclasses exist where callers branch on them: ``VerifierError``
(``VerifierPermissionError`` when only a missing capability made the verifier refuse),
``CoreRelocationError``, ``FeatureNotSupportedError``, ``ReadOnlyError``; ``ClosedError`` is a
``ValueError``, as for a closed file. The subclasses are defined on first use
(``_error_classes.py``: a cold start defines none) and published here, under this module's name.

``error_context(what)`` adds the breadcrumb to a ``BpfError`` passing through it::

    with error_context(f"pin map '{name}' at '{path}'"):
        lib.bpf_obj_pin(fd, path)
"""

from __future__ import annotations

import errno as _errno
import os
from _thread import allocate_lock

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light

__all__ = ["BpfError", "VerifierError", "VerifierPermissionError", "CoreRelocationError",
           "ReadOnlyError", "FeatureNotSupportedError", "ClosedError", "BpfPermissionError",
           "BpfFileNotFoundError", "BpfFileExistsError", "BpfBlockingIOError",
           "BpfInterruptedError", "BpfProcessLookupError", "BpfTimeoutError",
           "BpfIsADirectoryError", "BpfNotADirectoryError", "BpfBrokenPipeError",
           "BpfChildProcessError",
           "ERRNO_CLASSES", "error_context", "Closeable"]

#: libbpf's own error codes (``enum libbpf_errno`` in libbpf.h, from 4000), as libbpf_strerror
#: words them (libbpf_utils.c; its table lacks LIBBPF_ERRNO__LOAD: libbpf.h's comment here).
_LIBBPF_MESSAGES = (
    "Something wrong in libelf", "BPF object format invalid",
    "'version' section incorrect or lost", "Endian mismatch", "Internal error in libbpf",
    "Relocation failed", "Load program failure for unknown reason",
    "Kernel verifier blocks program loading", "Program too big", "Incorrect kernel version",
    "Kernel doesn't support this program type", "Wrong pid in netlink message",
    "Invalid netlink sequence", "Incorrect netlink message parsing",
)


def message(err: int) -> str:
    """The message for an errno or one of libbpf's own codes (4000 and up)."""
    if 4000 <= err < 4000 + len(_LIBBPF_MESSAGES):
        return _LIBBPF_MESSAGES[err - 4000]
    return os.strerror(err)


class BpfError(OSError):
    """A libbpf or bpf(2) call failed; ``errno``, ``strerror`` and ``context`` say how.

    ``BpfError(err, strerror=None, context="")`` returns the errno's subclass (see the module
    docstring), as ``OSError(err, strerror)`` does; ``strerror`` defaults to the errno's message.
    """

    def __new__(cls, err: object = None, *args: object, **kwargs: object) -> BpfError:
        if cls is BpfError and type(err) is int:
            cls = _errno_classes().get(err, BpfError)
        # No arguments: OSError.__new__ would parse them only for OSError's own signature;
        # __init__ sets errno and strerror for every subclass's.
        return OSError.__new__(cls)

    def __init__(self, err: int, strerror: str | None = None, context: str = "") -> None:
        msg = strerror if strerror is not None else message(err)
        self.args = (err, msg)
        self.errno = err
        self.strerror = msg
        self.context = context

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno or 0, str(self.errno))
        where = f"{self.context}: " if self.context else ""
        return f"{where}{self.strerror} ({name})"

    def __reduce__(self):  # keep context across pickling (multiprocessing, pytest-xdist)
        return (type(self), (self.errno, self.strerror, self.context))


# The subclasses are defined on first use, by _error_classes.define(): by BpfError(err), or when
# a name is looked up (PEP 562 __getattr__ below). Creating a class is the largest cost of
# importing a module, every cold start imports this one, and most programs never raise one of
# these.
_BUILD_LOCK = allocate_lock()


def _errno_classes() -> dict[int, type[BpfError]]:
    """``ERRNO_CLASSES``, the errno subclasses, defined (with the others) on the first call."""
    built = globals().get("ERRNO_CLASSES")
    if built is not None:
        return built
    with _BUILD_LOCK:  # one set of classes, whichever threads raise first
        built = globals().get("ERRNO_CLASSES")
        if built is None:
            from ._error_classes import define

            classes, built = define(BpfError)
            names = globals()
            for cls in classes:  # this module's names: pickle and repr find them here
                cls.__module__ = __name__
                cls.__qualname__ = cls.__name__
                names[cls.__name__] = cls
            names["ERRNO_CLASSES"] = built  # last: the check above reads it without the lock
        return built


_LAZY_NAMES = frozenset({
    "VerifierError", "VerifierPermissionError", "CoreRelocationError", "ReadOnlyError",
    "FeatureNotSupportedError", "ERRNO_CLASSES", "BpfPermissionError", "BpfFileNotFoundError",
    "BpfFileExistsError", "BpfBlockingIOError", "BpfInterruptedError", "BpfProcessLookupError",
    "BpfChildProcessError", "BpfTimeoutError", "BpfIsADirectoryError", "BpfNotADirectoryError",
    "BpfBrokenPipeError"})

if TYPE_CHECKING:  # what _error_classes.define() builds, declared there for type checkers
    from ._error_classes import (
        ERRNO_CLASSES,
        BpfBlockingIOError,
        BpfBrokenPipeError,
        BpfChildProcessError,
        BpfFileExistsError,
        BpfFileNotFoundError,
        BpfInterruptedError,
        BpfIsADirectoryError,
        BpfNotADirectoryError,
        BpfPermissionError,
        BpfProcessLookupError,
        BpfTimeoutError,
        CoreRelocationError,
        FeatureNotSupportedError,
        ReadOnlyError,
        VerifierError,
        VerifierPermissionError,
    )


def __getattr__(name: str) -> object:
    if name in _LAZY_NAMES:
        _errno_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_NAMES)


class ClosedError(ValueError):
    """An operation on an object (or one of its maps, programs, buffers) that was closed."""


def closed_instead(exc: BpfError, owner: object, what: str) -> Exception:
    """``ClosedError`` for an EBADF/EBADFD of a call that raced with another thread's
    ``close()`` of ``owner`` (an object or standalone map state: its fd closed under the call),
    else ``exc`` itself."""
    if exc.errno in (_errno.EBADF, _errno.EBADFD) and getattr(owner, "ptr", True) is None:
        return ClosedError(f"{what}: closed (by another thread) during the call")
    return exc


def with_context(exc: BpfError, context: str) -> BpfError:
    """Prefix ``context`` to an error's context and return it (for ``raise ... from None``)."""
    exc.context = f"{context}: {exc.context}" if exc.context else context
    return exc


class error_context:  # noqa: N801 - used like a function: `with error_context("..."):`
    """Prefix ``what`` to the context of a ``BpfError`` raised inside the ``with`` block (the
    breadcrumb: "pin map 'x' at '/sys/fs/bpf/x': bpf_obj_pin: ..."); other exceptions pass
    through untouched. The error propagates as it is: no chained traceback. A class, not a
    ``contextlib`` generator: no import, and cheap enough for per-call paths."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, BpfError):
            with_context(exc, self.what)


# --- Closeable: the one finalizer of every handle that owns a kernel or libbpf resource.
# close() and `with` are the API; __del__ is only a safety net. It is guarded (it never raises,
# at interpreter exit either), and when it had something to close it warns like CPython's files
# and sockets: ResourceWarning("unclosed <...>") (shown with `python -X dev` or `-W default`).
# A subclass says whether it still holds something (_left_open()) and whether that is its own
# to report (_warns(): a link the object still lists is the object's, and goes with it). Here,
# not in a module of its own: every cold start imports errors, and a module costs its import.


class Closeable:
    """Base of the resource-owning handles (objects, standalone maps, links, attachments, BTF,
    buffers, pinned programs, trace pipes): one guarded, warning ``__del__``."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def _left_open(self) -> bool:
        """Whether ``close()`` still has something to free."""
        raise NotImplementedError

    def _warns(self) -> bool:
        """Whether an unclosed one is reported (True: it is nobody else's to close)."""
        return True

    def _unclosed(self) -> str:
        """What the ResourceWarning names."""
        return repr(self)

    def __del__(self) -> None:
        try:
            if self._left_open():
                if self._warns():
                    import warnings

                    warnings.warn(f"unclosed {self._unclosed()}", ResourceWarning, stacklevel=2,
                                  source=self)
                self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer (e.g. at exit)
            pass
