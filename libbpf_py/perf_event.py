"""Open perf events for BPF: ``perf_event_open(2)`` through ctypes (no extra dependency).

``open_perf_event(type, config, cpu=..., sample_period=...)`` returns a perf event fd that
``Program.attach_perf_event()`` takes over; ``Program.attach_perf_events()`` does it for every
CPU. Needs root (or CAP_PERFMON, or a low ``kernel.perf_event_paranoid``).
"""

from __future__ import annotations

import ctypes
import os

from .errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["perf_event_attr", "open_perf_event", "online_cpus", "PERF_TYPE_HARDWARE",
           "PERF_TYPE_SOFTWARE", "PERF_COUNT_SW_CPU_CLOCK", "PERF_COUNT_SW_TASK_CLOCK"]

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_TYPE_TRACEPOINT = 2
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_COUNT_SW_TASK_CLOCK = 1
PERF_FLAG_FD_CLOEXEC = 1 << 3
_ATTR_FREQ = 1 << 10  # perf_event_attr.freq bit
_NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "ppc64le": 319,
                       "s390x": 331, "armv7l": 364, "i686": 336}


class perf_event_attr(ctypes.Structure):
    """``struct perf_event_attr`` up to PERF_ATTR_SIZE_VER5 (112 bytes; the kernel accepts it)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),  # union with sample_freq
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),  # disabled:1, inherit:1, ... freq:1 (bit 10) ...
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
        ("config2", ctypes.c_uint64),
        ("branch_sample_type", ctypes.c_uint64),
        ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32),
        ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16),
        ("_reserved_2", ctypes.c_uint16),
    ]


_libc: Any = None


def _syscall() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc.syscall


def open_perf_event(type: int, config: int, *, cpu: int = -1, pid: int = -1,
                    sample_period: int = 0, sample_freq: int = 0, group_fd: int = -1,
                    flags: int = 0) -> int:
    """``perf_event_open(2)``: an fd for event (``type``, ``config``) on ``cpu`` (-1: any) for
    ``pid`` (-1: every process; needs ``cpu`` >= 0). ``sample_period`` or ``sample_freq`` make
    it a sampling event (what BPF perf_event programs run on). The caller owns the fd."""
    machine = os.uname().machine
    nr = _NR_PERF_EVENT_OPEN.get(machine)
    if nr is None:
        raise OSError(f"perf_event_open: syscall number unknown for {machine}")
    if sample_period and sample_freq:
        raise ValueError("give sample_period or sample_freq, not both")
    attr = perf_event_attr(type=type, size=ctypes.sizeof(perf_event_attr), config=config)
    if sample_freq:
        attr.sample_period = sample_freq
        attr.flags |= _ATTR_FREQ
    else:
        attr.sample_period = sample_period
    fd = _syscall()(ctypes.c_long(nr), ctypes.byref(attr), ctypes.c_int(pid), ctypes.c_int(cpu),
                    ctypes.c_int(group_fd), ctypes.c_ulong(flags | PERF_FLAG_FD_CLOEXEC))
    if fd < 0:
        err = ctypes.get_errno()
        raise BpfError(err, os.strerror(err),
                       f"perf_event_open(type={type}, config={config}, cpu={cpu}, pid={pid})")
    return fd


def online_cpus() -> list[int]:
    """The online CPUs (``/sys/devices/system/cpu/online``: "0-3,5")."""
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus
