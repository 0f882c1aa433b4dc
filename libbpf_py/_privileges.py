"""Which capability a refusal lacks: the capabilities the kernel's BPF checks ask for, by program
and map type (kernel/bpf/syscall.c), what this process has in effect, and the words a refused
call's ``PermissionError`` gets (``explain_permission``). Imported where a call was refused
(object load, attach, map creation) and by ``token``: never on a cold start's path.
"""

from __future__ import annotations

import errno

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterable

    from .errors import BpfError

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
    if exc.errno not in (errno.EPERM, errno.EACCES):
        return exc
    from .errors import VerifierError  # (errors defines it on first use)

    missing = [] if isinstance(exc, VerifierError) else missing_capabilities(needs)
    if missing:
        exc.missing_capabilities = missing  # type: ignore[attr-defined]
        exc.strerror = (f"{exc.strerror} (needs {' + '.join(needs)}, or root: this process "
                        f"lacks {' and '.join(missing)})")
    return exc
