"""The ``BpfError`` subclasses, defined on first use: ``errors`` calls ``define(BpfError)`` when
``BpfError(err)`` first needs an errno's subclass or one of their names is first looked up.
Defining a class is the largest cost of importing a module, every cold start imports
``errors``, and most programs never raise one of these: so their code lives here, outside the
cold start's path, and ``errors`` publishes them under its own name (``errors.VerifierError``,
pickled as such).

``define`` receives errors' ``BpfError`` instead of importing it: errors imports this module, and
importing errors back would make an import cycle (tests/test_imports.py).

Type checkers read the declarations under TYPE_CHECKING at the end (``errors`` re-exports them);
tests/test_errors.py checks that they match the classes ``define`` builds (bases, ``__init__``
signatures, attributes).
"""

from __future__ import annotations

import errno as _errno

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from .errors import BpfError

#: The line libbpf's verifier log has where a CO-RE relocation could not be resolved.
CORE_FAILED = "failed to resolve CO-RE relocation"


def define(base: type[BpfError]) -> tuple[list[type[BpfError]], dict[int, type[BpfError]]]:
    """Defines the subclasses of ``base`` (``errors.BpfError``): the errno ones and the five
    below; returns them all and the errno table (``errors.ERRNO_CLASSES``)."""
    if TYPE_CHECKING:  # type checkers see errors' BpfError itself (no cycle: never run)
        from .errors import BpfError
    else:
        BpfError = base

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
    others = [VerifierError, VerifierPermissionError, CoreRelocationError, ReadOnlyError,
              FeatureNotSupportedError]
    return others + list(dict.fromkeys(table.values())), table


if TYPE_CHECKING:  # what define() builds, for type checkers (errors re-exports these names)
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

    # The other five, declared as define() builds them (their docstrings are there).
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
