"""Exceptions raised by libbpf_py.

``BpfError`` is an ``OSError``: ``errno`` is set, ``strerror`` is libbpf's (or the C library's)
message and ``context`` says what libbpf_py was doing ("load object 'x.bpf.o'"). Subclasses exist
only where callers branch on them.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = ["BpfError", "VerifierError", "CoreRelocationError", "ReadOnlyError",
           "FeatureNotSupportedError", "ClosedError"]


class BpfError(OSError):
    """A libbpf or bpf(2) call failed; ``errno``, ``strerror`` and ``context`` say how."""

    def __init__(self, err: int, strerror: str | None = None, context: str = "") -> None:
        super().__init__(err, strerror if strerror is not None else os.strerror(err))
        self.context = context

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno or 0, str(self.errno))
        where = f"{self.context}: " if self.context else ""
        return f"{where}{self.strerror} ({name})"

    def __reduce__(self):  # keep context across pickling (multiprocessing, pytest-xdist)
        return (type(self), (self.errno, self.strerror, self.context))


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


CORE_FAILED = "failed to resolve CO-RE relocation"


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


class ReadOnlyError(BpfError):
    """A write to a section that is read-only after load (``.rodata``, ``.kconfig``)."""

    def __init__(self, context: str) -> None:
        BpfError.__init__(self, _errno.EPERM, "read-only after load (frozen .rodata-like "
                          "section: set it before load())", context)


class FeatureNotSupportedError(BpfError):
    """The running kernel lacks a feature the call needs (``feature`` names it)."""

    def __init__(self, feature: str, err: int = _errno.EOPNOTSUPP, context: str = "",
                 detail: str = "") -> None:
        msg = f"{feature} {'are' if feature.endswith('s') else 'is'} not supported by this kernel"
        super().__init__(err, msg + (f" ({detail})" if detail else ""), context)
        self.feature = feature

    def __reduce__(self):
        return (type(self), (self.feature, self.errno, self.context))


class ClosedError(ValueError):
    """An operation on an object (or one of its maps, programs, buffers) that was closed."""


def with_context(exc: BpfError, context: str) -> BpfError:
    """Prefix ``context`` to an error's context and return it (for ``raise ... from None``)."""
    exc.context = f"{context}: {exc.context}" if exc.context else context
    return exc
