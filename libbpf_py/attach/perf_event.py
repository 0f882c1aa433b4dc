"""Open perf events for BPF: ``perf_event_open(2)`` (the shim's ``lbpy_perf_event_open``).

``open_perf_event(type, config, cpu=..., sample_period=...)`` returns a perf event fd that
``Program.attach_perf_event()`` takes over; ``Program.attach_perf_events()`` does it for every
CPU. Events are named by ``PerfType`` and ``PerfHWConfig`` / ``PerfSWConfig`` (bcc's names for
``enum perf_type_id``, ``perf_hw_id``, ``perf_sw_ids``), or by the C names
(``PERF_COUNT_HW_CPU_CYCLES`` ...). Needs root (or CAP_PERFMON, or a low
``kernel.perf_event_paranoid``).
"""

from __future__ import annotations

import ctypes
import errno
import os
from enum import IntEnum

from .._ffi import lib
from .._ffi.stream import perf_event_attr
from ..errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["open_perf_event", "online_cpus", "PerfType", "PerfHWConfig",
           "PerfSWConfig", "PERF_TYPE_HARDWARE", "PERF_TYPE_SOFTWARE", "PERF_TYPE_TRACEPOINT",
           "PERF_TYPE_HW_CACHE", "PERF_TYPE_RAW", "PERF_TYPE_BREAKPOINT",
           "PERF_COUNT_HW_CPU_CYCLES", "PERF_COUNT_HW_INSTRUCTIONS",
           "PERF_COUNT_HW_CACHE_REFERENCES", "PERF_COUNT_HW_CACHE_MISSES",
           "PERF_COUNT_HW_BRANCH_INSTRUCTIONS", "PERF_COUNT_HW_BRANCH_MISSES",
           "PERF_COUNT_HW_BUS_CYCLES", "PERF_COUNT_HW_STALLED_CYCLES_FRONTEND",
           "PERF_COUNT_HW_STALLED_CYCLES_BACKEND", "PERF_COUNT_HW_REF_CPU_CYCLES",
           "PERF_COUNT_SW_CPU_CLOCK", "PERF_COUNT_SW_TASK_CLOCK", "PERF_COUNT_SW_PAGE_FAULTS",
           "PERF_COUNT_SW_CONTEXT_SWITCHES", "PERF_COUNT_SW_CPU_MIGRATIONS",
           "PERF_COUNT_SW_PAGE_FAULTS_MIN", "PERF_COUNT_SW_PAGE_FAULTS_MAJ",
           "PERF_COUNT_SW_ALIGNMENT_FAULTS", "PERF_COUNT_SW_EMULATION_FAULTS",
           "PERF_COUNT_SW_DUMMY", "PERF_COUNT_SW_BPF_OUTPUT", "PERF_COUNT_SW_CGROUP_SWITCHES"]


class PerfType(IntEnum):
    """``enum perf_type_id``: ``perf_event_attr.type``."""

    HARDWARE = 0
    SOFTWARE = 1
    TRACEPOINT = 2
    HW_CACHE = 3
    RAW = 4
    BREAKPOINT = 5


class PerfHWConfig(IntEnum):
    """``enum perf_hw_id``: ``config`` of ``PerfType.HARDWARE`` events (need a hardware PMU:
    most VMs have none)."""

    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


class PerfSWConfig(IntEnum):
    """``enum perf_sw_ids``: ``config`` of ``PerfType.SOFTWARE`` events (always available)."""

    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10
    CGROUP_SWITCHES = 11


# The C names (<linux/perf_event.h>), for code ported from C.
PERF_TYPE_HARDWARE = PerfType.HARDWARE
PERF_TYPE_SOFTWARE = PerfType.SOFTWARE
PERF_TYPE_TRACEPOINT = PerfType.TRACEPOINT
PERF_TYPE_HW_CACHE = PerfType.HW_CACHE
PERF_TYPE_RAW = PerfType.RAW
PERF_TYPE_BREAKPOINT = PerfType.BREAKPOINT
PERF_COUNT_HW_CPU_CYCLES = PerfHWConfig.CPU_CYCLES
PERF_COUNT_HW_INSTRUCTIONS = PerfHWConfig.INSTRUCTIONS
PERF_COUNT_HW_CACHE_REFERENCES = PerfHWConfig.CACHE_REFERENCES
PERF_COUNT_HW_CACHE_MISSES = PerfHWConfig.CACHE_MISSES
PERF_COUNT_HW_BRANCH_INSTRUCTIONS = PerfHWConfig.BRANCH_INSTRUCTIONS
PERF_COUNT_HW_BRANCH_MISSES = PerfHWConfig.BRANCH_MISSES
PERF_COUNT_HW_BUS_CYCLES = PerfHWConfig.BUS_CYCLES
PERF_COUNT_HW_STALLED_CYCLES_FRONTEND = PerfHWConfig.STALLED_CYCLES_FRONTEND
PERF_COUNT_HW_STALLED_CYCLES_BACKEND = PerfHWConfig.STALLED_CYCLES_BACKEND
PERF_COUNT_HW_REF_CPU_CYCLES = PerfHWConfig.REF_CPU_CYCLES
PERF_COUNT_SW_CPU_CLOCK = PerfSWConfig.CPU_CLOCK
PERF_COUNT_SW_TASK_CLOCK = PerfSWConfig.TASK_CLOCK
PERF_COUNT_SW_PAGE_FAULTS = PerfSWConfig.PAGE_FAULTS
PERF_COUNT_SW_CONTEXT_SWITCHES = PerfSWConfig.CONTEXT_SWITCHES
PERF_COUNT_SW_CPU_MIGRATIONS = PerfSWConfig.CPU_MIGRATIONS
PERF_COUNT_SW_PAGE_FAULTS_MIN = PerfSWConfig.PAGE_FAULTS_MIN
PERF_COUNT_SW_PAGE_FAULTS_MAJ = PerfSWConfig.PAGE_FAULTS_MAJ
PERF_COUNT_SW_ALIGNMENT_FAULTS = PerfSWConfig.ALIGNMENT_FAULTS
PERF_COUNT_SW_EMULATION_FAULTS = PerfSWConfig.EMULATION_FAULTS
PERF_COUNT_SW_DUMMY = PerfSWConfig.DUMMY
PERF_COUNT_SW_BPF_OUTPUT = PerfSWConfig.BPF_OUTPUT
PERF_COUNT_SW_CGROUP_SWITCHES = PerfSWConfig.CGROUP_SWITCHES


def open_perf_event(type: int, config: int, *, cpu: int = -1, pid: int = -1,
                    sample_period: int = 0, sample_freq: int = 0, group_fd: int = -1,
                    flags: int = 0) -> int:
    """``perf_event_open(2)``: an fd for event (``type``, ``config``: ``PerfType`` and
    ``PerfHWConfig``/``PerfSWConfig``) on ``cpu`` (-1: any) for ``pid`` (-1: every process;
    needs ``cpu`` >= 0). ``sample_period`` or ``sample_freq`` make it a sampling event (what BPF
    perf_event programs run on). The caller owns the fd (close-on-exec). A hardware event the
    machine has no PMU for (ENOENT) says so and names the software event to use instead."""
    if sample_period and sample_freq:
        raise ValueError("give sample_period or sample_freq, not both")
    attr = perf_event_attr(type=type, config=config)
    attr.size = ctypes.sizeof(attr)
    if sample_freq:
        attr.sample_freq = sample_freq
        attr.freq = 1
    else:
        attr.sample_period = sample_period
    fd = lib.lbpy_perf_event_open(ctypes.byref(attr), pid, cpu, group_fd, flags)
    if fd < 0:
        err = -fd
        cfg = (_name(PerfHWConfig, config) if type == PerfType.HARDWARE else
               _name(PerfSWConfig, config) if type == PerfType.SOFTWARE else str(config))
        what = f"perf_event_open(type={_name(PerfType, type)}, config={cfg}, cpu={cpu}, pid={pid})"
        msg = os.strerror(err)
        if err in (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP) and \
                type in (PerfType.HARDWARE, PerfType.HW_CACHE):
            msg += (": this machine has no hardware PMU for that event (VMs usually have none;"
                    " /sys/bus/event_source/devices lists the PMUs); a software event samples "
                    "everywhere: type=PerfType.SOFTWARE, config=PerfSWConfig.CPU_CLOCK")
        raise BpfError(err, msg, what)
    return fd


def _name(enum: Any, value: int) -> str:
    try:
        return f"{enum.__name__}.{enum(value).name}"
    except ValueError:
        return str(value)


def online_cpus() -> list[int]:
    """The online CPUs (``/sys/devices/system/cpu/online``: "0-3,5")."""
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus
