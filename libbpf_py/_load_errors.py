"""Why opening or loading an object failed, in the exception: imported by ``object`` only when
``bpf_object__open*`` or ``bpf_object__load`` failed (a cold start never imports it).

A verifier log libbpf printed becomes a ``VerifierError`` (``CoreRelocationError`` for a CO-RE
relocation the kernel's BTF can't resolve, ``VerifierPermissionError`` when only a missing
CAP_PERFMON made the verifier refuse). Otherwise the error names what the process lacks
(capabilities, the memlock limit), a missing kernel function or refused trampoline
(``attach.tracing``), a token that does not allow the load (``token``), or else libbpf's last
warning.
"""

from __future__ import annotations

import errno

from . import log
from ._error_classes import CORE_FAILED
from ._ffi import lib
from ._privileges import capabilities_needed, explain_permission, missing_capabilities
from .errors import BpfError, with_context

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from typing import Any

#: libbpf's line naming the program whose load failed (libbpf.c: bpf_object_load_prog).
PROG_FAILED = r"prog '([^']+)': (?:BPF program load failed|failed to load)"
#: What the verifier says only to a process that may not leak pointers (without CAP_PERFMON:
#: its is_pointer_value() is false for everyone else); 5.10 says it of packet bounds checks.
PERFMON_REFUSALS = ("pointer comparison prohibited", "leaks addr")


def load_failed(err: BpfError, ptr: Any, label: str,
                messages: list[tuple[int, str]]) -> BpfError:
    """The exception for a failed ``bpf_object__load`` of the object ``ptr``; libbpf printed
    ``messages`` (``log.capture``) during the call."""
    explain_permission(err, capabilities_needed_by(ptr))
    from . import features

    features.explain_memlock(err)
    return explain(err, label, messages, obj=ptr)


def capabilities_needed_by(ptr: Any) -> list[str]:
    """What loading this object needs, from its programs' and maps' types."""
    progs, maps = [], []
    cur = lib.bpf_object__next_program(ptr, None)
    while cur:
        if lib.bpf_program__autoload(cur):
            progs.append(lib.bpf_program__type(cur))
        cur = lib.bpf_object__next_program(ptr, cur)
    cur = lib.bpf_object__next_map(ptr, None)
    while cur:
        maps.append(lib.bpf_map__type(cur))
        cur = lib.bpf_object__next_map(ptr, cur)
    return capabilities_needed(progs, maps)


def explain(err: BpfError, label: str, messages: list[tuple[int, str]], verb: str = "load",
            obj: Any = None) -> BpfError:
    """Turn a failed open or load into VerifierError when libbpf printed a verifier log, else
    add what is known of the reason to ``err``."""
    import re

    # (errors defines these on first use)
    from .errors import CoreRelocationError, VerifierError, VerifierPermissionError

    text = "".join(m for _, m in messages)
    found = re.search(PROG_FAILED, text)
    prog = found.group(1) if found else None
    begin = text.find(log.PROG_LOG_BEGIN)
    if prog is not None and begin >= 0:
        start = text.index("\n", begin) + 1
        end = text.find(log.PROG_LOG_END, start)
        vlog = text[start:end if end >= 0 else len(text)]
        # Drop the "libbpf: prog 'x': " prefix of the END marker line if it was captured.
        vlog = vlog[: vlog.rfind("\n") + 1] if end >= 0 else vlog
        if CORE_FAILED in vlog:
            return CoreRelocationError(err.errno or errno.EINVAL, prog, vlog,
                                       f"load object '{label}'")
        if any(refusal in vlog for refusal in PERFMON_REFUSALS) and \
                missing_capabilities(["CAP_PERFMON"]):
            return VerifierPermissionError(err.errno or errno.EACCES, prog, vlog,
                                           f"load object '{label}'", ("CAP_PERFMON",))
        return VerifierError(err.errno or errno.EINVAL, prog, vlog, f"load object '{label}'")
    if obj is not None:  # a missing kernel function, refused trampolines: say so
        from .attach.tracing import explain_load_error

        better = explain_load_error(obj, err, text, label)
        if better is not None:
            return better
        from .token import explain_load_error as explain_token

        better = explain_token(obj, err, label)
        if better is not None:
            return better
    # Not a verifier rejection: keep libbpf's last warning as the reason (not its memlock hint:
    # explain_memlock() said whether that applies).
    warnings = [m.strip() for lvl, m in messages
                if lvl == 0 and m.strip() and log.MEMLOCK_HINT not in m]
    if warnings:
        err.strerror = f"{err.strerror}; libbpf: {warnings[-1].removeprefix('libbpf: ')}"
    return with_context(err, f"{verb} object '{label}'")
