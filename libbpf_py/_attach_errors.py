"""Why attaching a program failed, in the exception: imported by ``link.attach_program`` only
when an attach failed (a cold start never imports it).

``explain(err, prog_type, messages)`` adds to the ``BpfError`` of a failed
``bpf_program__attach*`` call what the process lacks (capabilities: ``_privileges``), libbpf's
last warning (the reason it printed), and for a kprobe on a function the kernel does not have,
that function's name.
"""

from __future__ import annotations

import errno

from ._privileges import capabilities_needed, explain_permission, missing_capabilities

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from .errors import BpfError

#: program types whose attachments open perf events (kprobe/uprobe, tracepoint, perf_event)
PERF_EVENT_PROGRAMS = frozenset({2, 5, 7})


def explain(err: BpfError, prog_type: int, messages: list[tuple[int, str]]) -> BpfError:
    """``err`` (a failed attach of a program of ``prog_type``) with the reasons added; libbpf
    printed ``messages`` (``log.capture``) during the call."""
    needs = attach_needs(prog_type)
    explain_permission(err, needs)
    if needs == ["CAP_SYS_ADMIN"] and getattr(err, "missing_capabilities", None):
        from . import features

        why = features.why("perf_event_perfmon")
        err.strerror = (f"{err.strerror}: this kernel opens perf events for CAP_SYS_ADMIN "
                        f"only, CAP_PERFMON is not enough ({why})")
    warnings = [m.strip().removeprefix("libbpf: ") for lvl, m in messages
                if lvl == 0 and m.strip()]
    if warnings:
        err.strerror = f"{err.strerror}; libbpf: {warnings[-1]}"
    if err.errno in (errno.ENOENT, errno.EINVAL):  # a kprobe on a function that is gone?
        missing_kprobe_target(err, messages)
    return err


def attach_needs(prog_type: int) -> list[str]:
    """The capabilities attaching a program of ``prog_type`` needs: CAP_SYS_ADMIN instead of
    CAP_PERFMON for perf events where the kernel opens them for CAP_SYS_ADMIN only
    (Debian's ``perf_event_paranoid=3``: the ``perf_event_perfmon`` probe)."""
    needs = capabilities_needed([prog_type], attach=True)
    if prog_type in PERF_EVENT_PROGRAMS and not missing_capabilities(needs):
        from . import features

        if not features.has("perf_event_perfmon"):
            return ["CAP_SYS_ADMIN"]
    return needs


def missing_kprobe_target(err: BpfError, messages: list[tuple[int, str]]) -> None:
    """Name the missing kernel function when a kprobe could not be created because the kernel
    has no such function (libbpf: ENOENT "failed to create kprobe 'x+0x0' perf event")."""
    import re

    from . import features

    text = "".join(m for _, m in messages)
    found = re.search(r"failed to create k(?:ret)?probe '([^'+]+)\+", text)
    if found is None or features.kernel_function(found.group(1)):
        return
    func = found.group(1)
    err.strerror = (f"no kernel function '{func}' to probe (not in available_filter_functions "
                    "or /proc/kallsyms: it is renamed, inlined or not built in this kernel; "
                    "pick the target before attaching with features.kernel_function())")
