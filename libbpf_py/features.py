"""What the running kernel supports: libbpf's probes, plus the checks libbpf_py and its tests use.

``program_type()``, ``map_type()`` and ``helper()`` wrap libbpf's ``libbpf_probe_bpf_*`` (they
load tiny programs/maps: root or CAP_BPF needed, else they report False). ``has(name)`` answers
for a named feature of ``FEATURES`` ("kprobes", "bpf_lsm", "tracefs"...), each documented below;
results are cached per process.
"""

from __future__ import annotations

import os

from ._ffi import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from .enums import MapType, ProgType

__all__ = ["program_type", "map_type", "helper", "has", "FEATURES", "tracefs_path",
           "kernel_version"]

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
EVENT_SOURCES = "/sys/bus/event_source/devices"


def _probe(rc_fn: Callable[[], int]) -> bool:
    try:
        return rc_fn() == 1
    except OSError:  # BpfError: EPERM without privileges, EINVAL for unknown types
        return False


_probes: dict[tuple[int, ...], bool] = {}  # (kind, args...) -> answer; functools costs imports


def _cached(key: tuple[int, ...], rc_fn: Callable[[], int]) -> bool:
    if key not in _probes:
        _probes[key] = _probe(rc_fn)
    return _probes[key]


def program_type(prog_type: ProgType | int) -> bool:
    """Whether programs of ``prog_type`` can be loaded (``libbpf_probe_bpf_prog_type``); cached."""
    t = int(prog_type)
    return _cached((0, t), lambda: lib.libbpf_probe_bpf_prog_type(t, None))


def map_type(map_type: MapType | int) -> bool:
    """Whether maps of ``map_type`` can be created (``libbpf_probe_bpf_map_type``); cached."""
    t = int(map_type)
    return _cached((1, t), lambda: lib.libbpf_probe_bpf_map_type(t, None))


def helper(prog_type: ProgType | int, helper_id: int) -> bool:
    """Whether BPF helper ``helper_id`` is usable from ``prog_type`` (``libbpf_probe_bpf_helper``);
    cached."""
    t = int(prog_type)
    return _cached((2, t, helper_id), lambda: lib.libbpf_probe_bpf_helper(t, helper_id, None))


def tracefs_path() -> str | None:
    """Where tracefs is mounted (``/sys/kernel/tracing`` first), or None."""
    for d in TRACEFS_DIRS:
        if os.path.isdir(os.path.join(d, "events")):
            return d
    return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def kernel_version() -> tuple[int, int, int]:
    """The running kernel's (major, minor, patch), from ``uname -r``."""
    nums = []
    for part in os.uname().release.split("-")[0].split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        nums.append(int(digits or 0))
    return (nums + [0, 0, 0])[0], (nums + [0, 0, 0])[1], (nums + [0, 0, 0])[2]


def _kprobes() -> bool:
    """A kprobe PMU or tracefs kprobe_events: the kernel has CONFIG_KPROBES."""
    if os.path.exists(os.path.join(EVENT_SOURCES, "kprobe", "type")):
        return True
    return any(os.path.exists(os.path.join(d, "kprobe_events")) for d in TRACEFS_DIRS)


def _uprobes() -> bool:
    """A uprobe PMU or tracefs uprobe_events: the kernel has CONFIG_UPROBES."""
    if os.path.exists(os.path.join(EVENT_SOURCES, "uprobe", "type")):
        return True
    return any(os.path.exists(os.path.join(d, "uprobe_events")) for d in TRACEFS_DIRS)


def _bpf_lsm() -> bool:
    """'bpf' is in the kernel's active LSM list (BPF LSM programs can attach)."""
    lsm = _read("/sys/kernel/security/lsm")
    if not lsm and os.path.isdir("/sys/kernel/security") and not os.listdir("/sys/kernel/security"):
        os.system("mount -t securityfs securityfs /sys/kernel/security 2>/dev/null")
        lsm = _read("/sys/kernel/security/lsm")
    return "bpf" in lsm.strip().split(",")


def _trampolines() -> bool:
    """fentry/fexit/fmod_ret/LSM/freplace programs load: a 2-instruction fentry program on
    ``bpf_modify_return_test`` (raw ``bpf_prog_load``). Some kernels refuse every trampoline
    program with EPERM before verification (seen on hardened/virtualized builds)."""
    import ctypes

    from ._ffi.attach import bpf_prog_load_opts
    from ._ffi.types import make_opts

    if not os.path.isfile("/sys/kernel/btf/vmlinux"):
        return False
    try:
        vmlinux = lib.btf__load_vmlinux_btf()
    except OSError:
        return False
    try:
        func = lib.btf__find_by_name_kind(vmlinux, b"bpf_modify_return_test", 12)  # BTF_KIND_FUNC
    finally:
        lib.btf__free(vmlinux)
    if func <= 0:
        return False
    insns = bytes.fromhex("b700000000000000" "9500000000000000")  # r0 = 0; exit
    opts = make_opts(bpf_prog_load_opts, expected_attach_type=24,  # BPF_TRACE_FENTRY
                     attach_btf_id=func)
    try:
        fd = lib.bpf_prog_load(26, b"lbpy_probe", b"GPL", insns, 2,  # BPF_PROG_TYPE_TRACING
                               ctypes.byref(opts))
    except OSError:
        return False
    os.close(fd)
    return True


def _cgroup2() -> bool:
    """A cgroup v2 hierarchy is mounted (cgroup.controllers exists at its root)."""
    for line in _read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return True
    return False


def _prog(number: int) -> Callable[[], bool]:
    return lambda: program_type(number)


def _map(number: int) -> Callable[[], bool]:
    return lambda: map_type(number)


#: feature name -> check. Program/map type numbers are enum bpf_prog_type / bpf_map_type.
FEATURES: dict[str, Callable[[], bool]] = {
    "bpf": lambda: program_type(1),  # SOCKET_FILTER loads: the bpf syscall works for us
    "btf": lambda: os.path.isfile("/sys/kernel/btf/vmlinux"),
    "tracefs": lambda: tracefs_path() is not None,
    "kprobes": _kprobes,
    "uprobes": _uprobes,
    "perf_event": lambda: os.path.exists("/proc/sys/kernel/perf_event_paranoid"),
    "bpf_lsm": _bpf_lsm,
    "cgroup2": _cgroup2,
    # fentry/fexit/fmod_ret/tp_btf/iterators: libbpf's prog-type probe can't tell for TRACING
    # (recent kernels answer its test load with another errno), so: kernel BTF and >= 5.5.
    "tracing": lambda: os.path.isfile("/sys/kernel/btf/vmlinux") and kernel_version() >= (5, 5),
    "trampolines": _trampolines,  # fentry/fexit/fmod_ret/LSM/freplace actually load
    "struct_ops": _prog(27),
    "xdp": _prog(6),
    "sched_cls": _prog(3),
    "sk_lookup": _prog(30),
    "netfilter": _prog(32),
    "ringbuf": _map(27),
    "user_ringbuf": _map(31),
    "bloom_filter": _map(30),
    "task_storage": _map(29),
    "cgrp_storage": _map(32),
    "arena": _map(33),
}


def has(name: str) -> bool:
    """Whether the kernel has feature ``name`` (a key of ``FEATURES``); cached."""
    try:
        check = FEATURES[name]
    except KeyError:
        raise KeyError(f"unknown feature {name!r} (known: {', '.join(sorted(FEATURES))})") from None
    if name not in _cache:
        _cache[name] = bool(check())
    return _cache[name]


_cache: dict[str, bool] = {}
