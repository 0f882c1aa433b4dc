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
``ValueError``, as for a closed file.

``error_context(what)`` adds the breadcrumb to a ``BpfError`` passing through it::

    with error_context(f"pin map '{name}' at '{path}'"):
        lib.bpf_obj_pin(fd, path)
"""

from __future__ import annotations

import errno as _errno
import os
from _thread import allocate_lock

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Iterable

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


#: The line libbpf's verifier log has where a CO-RE relocation could not be resolved.
CORE_FAILED = "failed to resolve CO-RE relocation"

# The subclasses are built on first use: by BpfError(err), or when a name is looked up
# (PEP 562 __getattr__ below). Creating a class is the largest cost of importing this module,
# which every cold start does, and most programs never raise one of these.
_BUILD_LOCK = allocate_lock()


def _errno_classes() -> dict[int, type[BpfError]]:
    """``ERRNO_CLASSES``, the errno subclasses built on the first call."""
    built = globals().get("ERRNO_CLASSES")
    if built is not None:
        return built
    with _BUILD_LOCK:  # one set of classes, whichever threads raise first
        built = globals().get("ERRNO_CLASSES")
        return built if built is not None else _build_classes()


def _build_classes() -> dict[int, type[BpfError]]:
    """Defines the subclasses (errno ones and the five below), publishes them as module
    attributes, returns the errno table. The TYPE_CHECKING declarations after this function
    say the same for type checkers (tests/test_errors.py checks they match)."""

    class VerifierError(BpfError):
        """The kernel's verifier rejected a program; ``log`` holds the full verifier log.

        ``str()`` shows the program name, the errno and the useful tail of the log (the failing
        instruction and the verifier's reason are at the end).
        """

        TAIL_LINES = 20

        def __init__(self, err: int, program: str, log: str, context: str = "") -> None:
            super().__init__(err, None, context)
            self.program = program
            self.log = log

        def __str__(self) -> str:
            lines = [ln for ln in self.log.splitlines() if ln.strip()]
            tail = lines[-self.TAIL_LINES:]
            skipped = len(lines) - len(tail)
            head = f"program '{self.program}' rejected by the verifier: {super().__str__()}"
            more = f"\n  ... ({skipped} earlier lines in .log)" if skipped else ""
            body = "".join(f"\n  {ln}" for ln in tail)
            return head + more + body

        def __reduce__(self):
            return (type(self), (self.errno, self.program, self.log, self.context))

    class VerifierPermissionError(VerifierError, PermissionError):
        """The verifier refused what it allows only with a capability this process lacks
        (``missing_capabilities``): 5.10's verifier compares pointers, as in a packet bounds
        check, only for a process with CAP_PERFMON ("R3 pointer comparison prohibited").
        Both a ``VerifierError`` (``log``) and a ``PermissionError``."""

        def __init__(self, err: int, program: str, log: str, context: str = "",
                     missing_capabilities: tuple[str, ...] = ()) -> None:
            super().__init__(err, program, log, context)
            self.missing_capabilities = list(missing_capabilities)
            if missing_capabilities:
                lacks = " and ".join(missing_capabilities)
                self.strerror = (f"{self.strerror} (the verifier allows this only with {lacks}: "
                                 f"this process lacks {lacks})")

        def __reduce__(self):
            return (type(self), (self.errno, self.program, self.log, self.context,
                                 tuple(self.missing_capabilities)))

    class CoreRelocationError(VerifierError):
        """A program was rejected because libbpf could not resolve one of its CO-RE relocations
        against the kernel's BTF (a field, type or enum value the running kernel lacks).

        ``relocation`` is libbpf's description ("<byte_off> [5] struct task_struct.x (0:1 @ offset
        4)"), ``instruction`` the index of the poisoned instruction; ``log`` the verifier log.
        """

        def __init__(self, err: int, program: str, log: str, context: str = "") -> None:
            super().__init__(err, program, log, context)
            import re

            found = re.search(r"(\d+): <invalid CO-RE relocation>\s*\n\s*" + CORE_FAILED
                              + r" (.*)", log)
            self.instruction: int | None = int(found.group(1)) if found else None
            self.relocation: str = found.group(2).strip() if found else ""

        def __str__(self) -> str:
            at = f" at instruction {self.instruction}" if self.instruction is not None else ""
            head = (f"program '{self.program}': CO-RE relocation{at} can't be resolved against "
                    f"the running kernel's BTF (the kernel lacks the field, type or enum value): "
                    f"{CORE_FAILED} {self.relocation}")
            where = f"{self.context}: " if self.context else ""
            return f"{where}{head}\n" + super().__str__()

    class ReadOnlyError(BpfError, PermissionError):
        """A write to a section that is read-only after load (``.rodata``, ``.kconfig``); EPERM,
        as the kernel answers a write to a frozen map, so also a ``PermissionError``."""

        def __init__(self, context: str) -> None:
            BpfError.__init__(self, _errno.EPERM, "read-only after load (frozen .rodata-like "
                              "section: set it before load())", context)

        def __reduce__(self):
            return (type(self), (self.context,))

    class FeatureNotSupportedError(BpfError):
        """The running kernel lacks a feature the call needs (``feature`` names it)."""

        def __init__(self, feature: str, err: int = _errno.EOPNOTSUPP, context: str = "",
                     detail: str = "") -> None:
            verb = "are" if feature.endswith("s") else "is"
            msg = f"{feature} {verb} not supported by this kernel"
            super().__init__(err, msg + (f" ({detail})" if detail else ""), context)
            self.feature = feature
            self.detail = detail

        def __reduce__(self):
            return (type(self), (self.feature, self.errno, self.context, self.detail))

    class BpfPermissionError(BpfError, PermissionError):
        """EPERM or EACCES: privileges (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN ...) or a policy
        (lockdown, a frozen map) refused the call."""

    class BpfFileNotFoundError(BpfError, FileNotFoundError):
        """ENOENT: no such pin, map element, program, tracepoint, function, binary ..."""

    class BpfFileExistsError(BpfError, FileExistsError):
        """EEXIST: the pin path, map element (``UpdateFlags.NOEXIST``) or attachment exists."""

    class BpfBlockingIOError(BpfError, BlockingIOError):
        """EAGAIN: retry later (a busy resource, a full ring)."""

    class BpfInterruptedError(BpfError, InterruptedError):
        """EINTR: a signal interrupted the call."""

    class BpfProcessLookupError(BpfError, ProcessLookupError):
        """ESRCH: no such process (or a kernel object the call looks up by id)."""

    class BpfChildProcessError(BpfError, ChildProcessError):
        """ECHILD."""

    class BpfTimeoutError(BpfError, TimeoutError):
        """ETIMEDOUT."""

    class BpfIsADirectoryError(BpfError, IsADirectoryError):
        """EISDIR."""

    class BpfNotADirectoryError(BpfError, NotADirectoryError):
        """ENOTDIR: a pin path's parent is not a directory."""

    class BpfBrokenPipeError(BpfError, BrokenPipeError):
        """EPIPE."""

    #: errno -> the BpfError subclass ``BpfError(errno)`` returns (Python's OSError mapping).
    table: dict[int, type[BpfError]] = {
        _errno.EPERM: BpfPermissionError, _errno.EACCES: BpfPermissionError,
        _errno.ENOENT: BpfFileNotFoundError, _errno.EEXIST: BpfFileExistsError,
        _errno.EAGAIN: BpfBlockingIOError, _errno.EALREADY: BpfBlockingIOError,
        _errno.EINPROGRESS: BpfBlockingIOError, _errno.EINTR: BpfInterruptedError,
        _errno.ESRCH: BpfProcessLookupError, _errno.ETIMEDOUT: BpfTimeoutError,
        _errno.EISDIR: BpfIsADirectoryError, _errno.ENOTDIR: BpfNotADirectoryError,
        _errno.EPIPE: BpfBrokenPipeError, _errno.ECHILD: BpfChildProcessError,
    }
    names = globals()
    for cls in {*table.values(), VerifierError, VerifierPermissionError, CoreRelocationError,
                ReadOnlyError, FeatureNotSupportedError}:
        cls.__qualname__ = cls.__name__  # module-level names: pickle and repr find them there
        names[cls.__name__] = cls
    names["ERRNO_CLASSES"] = table
    return table


_LAZY_NAMES = frozenset({
    "VerifierError", "VerifierPermissionError", "CoreRelocationError", "ReadOnlyError",
    "FeatureNotSupportedError", "ERRNO_CLASSES", "BpfPermissionError", "BpfFileNotFoundError",
    "BpfFileExistsError", "BpfBlockingIOError", "BpfInterruptedError", "BpfProcessLookupError",
    "BpfChildProcessError", "BpfTimeoutError", "BpfIsADirectoryError", "BpfNotADirectoryError",
    "BpfBrokenPipeError"})

if TYPE_CHECKING:  # what _build_classes() defines, for type checkers
    ERRNO_CLASSES: dict[int, type[BpfError]]
    BpfPermissionError: type[BpfError]
    BpfFileNotFoundError: type[BpfError]
    BpfFileExistsError: type[BpfError]
    BpfBlockingIOError: type[BpfError]
    BpfInterruptedError: type[BpfError]
    BpfProcessLookupError: type[BpfError]
    BpfChildProcessError: type[BpfError]
    BpfTimeoutError: type[BpfError]
    BpfIsADirectoryError: type[BpfError]
    BpfNotADirectoryError: type[BpfError]
    BpfBrokenPipeError: type[BpfError]

    # The other five, declared as _build_classes() defines them (their docstrings are there).
    class VerifierError(BpfError):
        TAIL_LINES: int
        program: str
        log: str

        def __init__(self, err: int, program: str, log: str, context: str = "") -> None: ...

    class VerifierPermissionError(VerifierError, PermissionError):
        missing_capabilities: list[str]

        def __init__(self, err: int, program: str, log: str, context: str = "",
                     missing_capabilities: tuple[str, ...] = ()) -> None: ...

    class CoreRelocationError(VerifierError):
        instruction: int | None
        relocation: str

        def __init__(self, err: int, program: str, log: str, context: str = "") -> None: ...

    class ReadOnlyError(BpfError, PermissionError):
        def __init__(self, context: str) -> None: ...

    class FeatureNotSupportedError(BpfError):
        feature: str
        detail: str

        def __init__(self, feature: str, err: int = _errno.EOPNOTSUPP, context: str = "",
                     detail: str = "") -> None: ...


def __getattr__(name: str) -> object:
    if name in _LAZY_NAMES:
        _errno_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_NAMES)


class ClosedError(ValueError):
    """An operation on an object (or one of its maps, programs, buffers) that was closed."""


# --- privileges: which capability a refusal lacks

#: Capability numbers (linux/capability.h) of the ones BPF checks.
CAPABILITIES = {"CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21, "CAP_PERFMON": 38, "CAP_BPF": 39}
#: Program types the kernel loads only with CAP_NET_ADMIN, or CAP_PERFMON, besides CAP_BPF
#: (kernel/bpf/syscall.c: is_net_admin_prog_type(), is_perfmon_prog_type()).
NET_ADMIN_PROGRAMS = frozenset({3, 4, 6, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 22, 23, 25, 28,
                                32})
PERFMON_PROGRAMS = frozenset({2, 5, 7, 17, 24, 26, 27, 28, 29})
#: ... and attached only with CAP_NET_ADMIN: those, cgroup_skb (loaded with CAP_BPF alone) and
#: sk_lookup (a netns hook).
NET_ADMIN_ATTACH = NET_ADMIN_PROGRAMS | {8, 30}
#: Map types created only with CAP_NET_ADMIN (SOCKMAP, SOCKHASH, DEVMAP(_HASH), XSKMAP).
NET_ADMIN_MAPS = frozenset({14, 15, 17, 18, 25})


def capabilities_needed(programs: Iterable[int] = (), maps: Iterable[int] = (),
                        attach: bool = False) -> list[str]:
    """The capabilities loading these program types and creating these map types needs; with
    ``attach``, attaching such programs (perf events need CAP_PERFMON, network and cgroup hooks
    CAP_NET_ADMIN)."""
    programs = set(programs)
    needs = ["CAP_BPF"]
    if programs & PERFMON_PROGRAMS:
        needs.append("CAP_PERFMON")
    if programs & (NET_ADMIN_ATTACH if attach else NET_ADMIN_PROGRAMS) or set(maps) & \
            NET_ADMIN_MAPS:
        needs.append("CAP_NET_ADMIN")
    return needs


def missing_capabilities(needs: list[str]) -> list[str]:
    """Those of ``needs`` this process does not have in effect (CAP_SYS_ADMIN stands for all
    of them, as the kernel's bpf_token_capable() has it); [] if that can't be told."""
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("CapEff:"))
        have = int(line.split()[1], 16)
    except (OSError, StopIteration, ValueError, IndexError):
        return []
    if have >> CAPABILITIES["CAP_SYS_ADMIN"] & 1:
        return []
    return [n for n in needs if not have >> CAPABILITIES[n] & 1]


def explain_permission(exc: BpfError, needs: list[str]) -> BpfError:
    """For an EPERM/EACCES refusal while this process lacks some of ``needs``, say which
    (``missing_capabilities`` holds them); other errors are returned untouched."""
    if exc.errno not in (_errno.EPERM, _errno.EACCES):
        return exc
    _errno_classes()  # defines VerifierError, if no error has yet
    missing = [] if isinstance(exc, VerifierError) else missing_capabilities(needs)
    if missing:
        exc.missing_capabilities = missing  # type: ignore[attr-defined]
        exc.strerror = (f"{exc.strerror} (needs {' + '.join(needs)}, or root: this process "
                        f"lacks {' and '.join(missing)})")
    return exc


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
