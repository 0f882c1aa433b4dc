"""What the running kernel supports: libbpf's probes, plus the checks libbpf_py and its tests use.

``program_type()``, ``map_type()`` and ``helper()`` wrap libbpf's ``libbpf_probe_bpf_*`` (they
load tiny programs/maps: root or CAP_BPF needed, else they report False). ``has(name)`` answers
for a named feature of ``FEATURES`` ("kprobes", "bpf_lsm", "tracefs"...), each documented below;
results are cached per process.

Hooks a tool picks before load, as libbpf-tools do (kernels rename, inline and drop functions;
tracepoints come and go, prototypes change): ``tracepoint(category, name)``, ``tp_btf(name)``,
``tp_btf_args(name)`` (how many arguments it passes),
``kernel_function(name)`` (kprobe-able) and ``fentry(name)`` (a trampoline program loads against
it). ``python -m libbpf_py features`` prints every answer for the running kernel; docs/kernels.md
has them for the kernels the project is tested on.
"""

from __future__ import annotations

import os

from ._ffi import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from .enums import MapType, ProgType

__all__ = ["program_type", "map_type", "helper", "has", "FEATURES", "DESCRIPTIONS",
           "tracefs_path", "why", "require_kprobes", "require_uprobes",
           "kernel_version", "tracepoint", "tp_btf", "tp_btf_args", "kernel_function", "fentry",
           "explain_memlock"]

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
# enum bpf_prog_type / bpf_attach_type / btf kinds (enums.py names them; not imported here so
# that a probe costs no enum module import)
_PROG_KPROBE, _PROG_TRACEPOINT, _PROG_PERF_EVENT = 2, 5, 7
_PROG_RAW_TRACEPOINT, _PROG_TRACING = 17, 26
_PROG_SOCKET_FILTER, _PROG_SCHED_CLS, _PROG_CGROUP_SKB = 1, 3, 8
_PROG_SK_MSG, _SK_MSG_VERDICT = 16, 7
_CGROUP_INET_EGRESS, _F_ALLOW_MULTI, _F_BEFORE = 1, 1 << 1, 1 << 3
_TRACE_RAW_TP, _TRACE_FENTRY, _TRACE_KPROBE_MULTI, _TRACE_UPROBE_MULTI = 23, 24, 42, 48
_MODIFY_RETURN, _PERF_EVENT, _TCX_INGRESS = 26, 41, 46
_MAP_STRUCT_OPS, _F_LINK = 26, 1 << 13
_BTF_KIND_STRUCT, _BTF_KIND_ENUM, _BTF_KIND_TYPEDEF, _BTF_KIND_FUNC, _BTF_KIND_DECL_TAG = (
    4, 6, 8, 12, 17)
_FUNC_GET_ATTACH_COOKIE, _FUNC_LOOP = 174, 181  # enum bpf_func_id
_MAP_ARENA, _BPF_F_MMAPABLE = 33, 1 << 10  # enum bpf_map_type, BPF_F_MMAPABLE
_CAP_PERFMON, _PERF_TYPE_SOFTWARE, _PERF_COUNT_SW_DUMMY = 38, 1, 9
_RET0 = bytes.fromhex("b700000000000000" "9500000000000000")  # r0 = 0; exit
_CAP_NET_ADMIN, _CAP_BPF, _PROG_XDP = 12, 39, 6
#: r2 = ctx->data; r3 = ctx->data_end; r2 += 1; if r2 > r3 goto +0; r0 = XDP_PASS; exit
_PACKET_CHECK = bytes.fromhex("6112000000000000" "6113040000000000" "0702000001000000"
                              "2d32000000000000" "b700000002000000" "9500000000000000")
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
    """Whether programs of ``prog_type`` can be loaded (``libbpf_probe_bpf_prog_type``); cached.

    ``ProgType.TRACING`` also counts as supported when a ``tp_btf`` program loads: libbpf's probe
    loads an fentry program, which kernels that refuse trampolines reject although BTF
    tracepoints work (``has("trampolines")`` tells those apart)."""
    t = int(prog_type)
    if t == _PROG_TRACING:
        return _cached((0, t), lambda: int(_libbpf_probe(t) or tp_btf("sys_enter")))
    return _cached((0, t), lambda: lib.libbpf_probe_bpf_prog_type(t, None))


def _libbpf_probe(t: int) -> bool:
    return _probe(lambda: lib.libbpf_probe_bpf_prog_type(t, None))


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


def require_kprobes(what: str) -> None:
    """Raise ``FeatureNotSupportedError("kprobes")`` naming ``what`` on a kernel without
    kprobes (libbpf's own error would not say so)."""
    if not has("kprobes"):
        from .errors import FeatureNotSupportedError

        detail = ("no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in "
                  "tracefs: the kernel was built without CONFIG_KPROBES")
        if tracefs_path() is None:
            detail += " (or tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing)"
        raise FeatureNotSupportedError("kprobes", context=what, detail=detail)


def require_uprobes(what: str) -> None:
    """Raise ``FeatureNotSupportedError("uprobes")`` naming ``what`` on a kernel without
    uprobes."""
    if not has("uprobes"):
        from .errors import FeatureNotSupportedError

        raise FeatureNotSupportedError(
            "uprobes", context=what,
            detail="no uprobe PMU and no uprobe_events in tracefs (CONFIG_UPROBES unset?)")


def _bpf_lsm() -> bool:
    """'bpf' is in the kernel's active LSM list (BPF LSM programs can attach). The list is in
    securityfs: the probe reads it and mounts nothing (without securityfs, ``why`` says so)."""
    if not os.path.exists("/sys/kernel/security/lsm"):
        _reasons["bpf_lsm"] = ("securityfs is not mounted, the active LSM list is unknown: "
                               "mount -t securityfs securityfs /sys/kernel/security")
        return False
    return "bpf" in _read("/sys/kernel/security/lsm").strip().split(",")


def _btf_id(name: str, kind: int) -> int:
    """The id of type ``name`` of BTF ``kind`` in the kernel's BTF (vmlinux), 0 if none (one
    cached vmlinux BTF: ``_vmlinux``)."""
    from ._vmlinux import find

    return find(name, kind) or 0


def _load(prog_type: int, attach_type: int = 0, btf_id: int = 0) -> int:
    """Load ``r0 = 0; exit`` (raw ``bpf_prog_load``): its fd (the caller closes it), or -1."""
    import ctypes

    from ._ffi.attach import bpf_prog_load_opts
    from ._ffi.core import make_opts

    opts = make_opts(bpf_prog_load_opts, expected_attach_type=attach_type, attach_btf_id=btf_id)
    try:
        return int(lib.bpf_prog_load(prog_type, b"lbpy_probe", b"GPL", _RET0, 2,
                                     ctypes.byref(opts)))
    except OSError:
        return -1


def _loads(prog_type: int, attach_type: int = 0, btf_id: int = 0) -> bool:
    fd = _load(prog_type, attach_type, btf_id)
    if fd < 0:
        return False
    os.close(fd)
    return True


def _uprobe_multi() -> bool:
    """uprobe.multi links exist (6.6): as libbpf's own probe, a link on the binary "/" is refused
    with EBADF (not a file) by kernels that have them, with EINVAL by older ones."""
    import ctypes
    import errno

    from ._ffi.attach import bpf_link_create_opts
    from ._ffi.core import make_opts

    if not _uprobes():
        return False
    prog = _load(_PROG_KPROBE, _TRACE_UPROBE_MULTI)
    if prog < 0:
        return False
    offsets = (ctypes.c_ulong * 1)(0)
    opts = make_opts(bpf_link_create_opts)
    opts.uprobe_multi.path = b"/"
    opts.uprobe_multi.offsets = offsets
    opts.uprobe_multi.cnt = 1
    try:
        os.close(lib.bpf_link_create(prog, -1, _TRACE_UPROBE_MULTI, ctypes.byref(opts)))
        return True
    except OSError as e:
        return e.errno == errno.EBADF
    finally:
        os.close(prog)


_hooks: dict[tuple[str, str], bool] = {}  # (kind, name) -> answer


def _hook(kind: str, name: str, check: Callable[[], bool]) -> bool:
    if (kind, name) not in _hooks:
        _hooks[kind, name] = bool(check())
    return _hooks[kind, name]


def tracepoint(category: str, name: str) -> bool:
    """Whether tracepoint ``category:name`` exists (tracefs ``events/<category>/<name>``), for
    ``SEC("tracepoint/<category>/<name>")`` and ``attach_tracepoint``. False without tracefs."""
    tracefs = tracefs_path()
    return tracefs is not None and os.path.isdir(os.path.join(tracefs, "events", category, name))


def tp_btf(name: str) -> bool:
    """Whether a BTF tracepoint program (``SEC("tp_btf/<name>")``) loads for ``name``: the
    kernel's BTF declares ``btf_trace_<name>`` and a tiny program loads against it. Needs root;
    cached."""
    def check() -> bool:
        btf_id = _btf_id(f"btf_trace_{name}", _BTF_KIND_TYPEDEF)
        return btf_id > 0 and _loads(_PROG_TRACING, _TRACE_RAW_TP, btf_id)

    return _hook("tp_btf", name, check)


def tp_btf_args(name: str) -> int | None:
    """How many arguments BTF tracepoint ``name`` gives its programs (``ctx[0]`` ..): the
    parameters of the kernel's ``btf_trace_<name>`` prototype after its leading ``void *``; None
    when the kernel has no such tracepoint. Prototypes change (``block_rq_insert`` lost its
    ``struct request_queue *`` in 5.11, and Debian's 5.10 has the change backported): a tool
    reads this before load to pick the program that matches. Reads /sys/kernel/btf/vmlinux (no
    privileges); not cached."""
    from .btf import Btf, Kind

    with Btf.vmlinux() as btf:
        t = btf.get(f"btf_trace_{name}", Kind.TYPEDEF)
        if t is None:
            return None
        return len(t.target.target.params) - 1


def kernel_function(name: str) -> bool:
    """Whether kernel function ``name`` can be kprobed: listed in tracefs'
    ``available_filter_functions`` (an inlined or ``notrace`` function is not), or, without
    tracefs, a text symbol in ``/proc/kallsyms``. Kernels rename and inline functions (7.2 has
    ``filename_unlinkat``, not ``do_unlinkat``): pick the target with this before attaching.
    Cached per name."""
    def check() -> bool:
        if not _kprobes():
            return False
        tracefs = tracefs_path()
        if tracefs is not None:
            listed = os.path.join(tracefs, "available_filter_functions")
            if os.path.isfile(listed):
                return _listed(listed, name, lambda parts: parts[0])
        return _listed("/proc/kallsyms", name,
                       lambda parts: parts[2] if parts[1] in ("t", "T") else "")

    return _hook("kprobe", name, check)


def _listed(path: str, name: str, field: Callable[[list[str]], str]) -> bool:
    """Whether a line of ``path`` has ``name`` as its ``field`` (of the whitespace-split line)."""
    try:
        with open(path) as f:
            return any(name in line and field(line.split()) == name for line in f)
    except OSError:
        return False


def fentry(name: str) -> bool:
    """Whether an fentry/fexit program can target kernel function ``name``: the kernel has
    trampolines (``has("trampolines")``), its BTF has the function, and a tiny fentry program
    loads against it (as libbpf-tools' ``fentry_can_attach``). Needs root; cached per name."""
    def check() -> bool:
        btf_id = _btf_id(name, _BTF_KIND_FUNC)
        return btf_id > 0 and has("trampolines") and _loads(_PROG_TRACING, _TRACE_FENTRY, btf_id)

    return _hook("fentry", name, check)


def _trampolines() -> bool:
    """fentry/fexit/fmod_ret/LSM/freplace programs load: a 2-instruction fentry program on
    ``bpf_modify_return_test`` (raw ``bpf_prog_load``). Some kernels refuse every trampoline
    program with EPERM before verification (lockdown=integrity, seen on hardened/virtualized
    builds)."""
    btf_id = _btf_id("bpf_modify_return_test", _BTF_KIND_FUNC)
    return btf_id > 0 and _loads(_PROG_TRACING, _TRACE_FENTRY, btf_id)


def _link_info(fd: int) -> Any:
    """The link's ``struct bpf_link_info`` (``bpf_link_get_info_by_fd``)."""
    import ctypes

    from ._ffi.attach import bpf_link_info

    info = bpf_link_info()
    n = ctypes.c_uint32(ctypes.sizeof(info))
    lib.bpf_link_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(n))
    return info


def _link_cookie(prog_fd: int, link: Callable[[], int], member: str) -> int | None:
    """Make a link with ``link()``; the cookie its link info reports in the union ``member``
    (0: that member has none; None: no link)."""
    try:
        fd = link()
    except OSError:
        return None
    finally:
        os.close(prog_fd)
    try:
        return int(getattr(getattr(_link_info(fd), member), "cookie", 0))
    except OSError:
        return 0
    finally:
        os.close(fd)


_COOKIE = 0x1BB9  # any non-zero value


def _raw_tp_cookie() -> int | None:
    import ctypes

    from ._ffi.attach import bpf_raw_tp_opts
    from ._ffi.core import make_opts

    prog = _load(_PROG_RAW_TRACEPOINT)
    if prog < 0:
        return None
    opts = make_opts(bpf_raw_tp_opts, tp_name=b"sys_enter", cookie=_COOKIE)
    return _link_cookie(prog, lambda: lib.bpf_raw_tracepoint_open_opts(prog, ctypes.byref(opts)),
                        "raw_tracepoint")


def _tracing_cookie() -> bool:
    """An fentry link takes a cookie (``bpf_link_create`` with ``tracing.cookie``: 5.19)."""
    import ctypes

    from ._ffi.attach import bpf_link_create_opts
    from ._ffi.core import make_opts

    btf_id = _btf_id("bpf_modify_return_test", _BTF_KIND_FUNC)
    prog = _load(_PROG_TRACING, _TRACE_FENTRY, btf_id) if btf_id else -1
    if prog < 0:
        return False
    opts = make_opts(bpf_link_create_opts)
    opts.tracing.cookie = _COOKIE
    return _link_cookie(prog, lambda: lib.bpf_link_create(prog, 0, _TRACE_FENTRY,
                                                         ctypes.byref(opts)),
                        "tracing") is not None


def _kprobe_multi() -> bool:
    """A kprobe.multi link attaches (``bpf_link_create`` with ``kprobe_multi.syms``: 5.18,
    CONFIG_FPROBE) to a function every kernel with BPF has."""
    import ctypes

    from ._ffi.attach import bpf_link_create_opts
    from ._ffi.core import make_opts

    if not _kprobes():
        return False
    prog = _load(_PROG_KPROBE, _TRACE_KPROBE_MULTI)
    if prog < 0:
        return False
    syms = (ctypes.c_char_p * 1)(b"bpf_fentry_test1")
    opts = make_opts(bpf_link_create_opts)
    opts.kprobe_multi.syms = syms
    opts.kprobe_multi.cnt = 1
    return _link_cookie(prog, lambda: lib.bpf_link_create(prog, 0, _TRACE_KPROBE_MULTI,
                                                         ctypes.byref(opts)),
                        "kprobe_multi") is not None


def _fmod_ret() -> bool:
    """An fmod_ret program loads on ``bpf_modify_return_test`` (the kernel lets BPF change that
    function's return: 5.10 kernels built without error injection refuse it, "is not
    modifiable")."""
    btf_id = _btf_id("bpf_modify_return_test", _BTF_KIND_FUNC)
    return btf_id > 0 and _loads(_PROG_TRACING, _MODIFY_RETURN, btf_id)


def _tracing_link_info_target() -> bool:
    """An fentry link's info names its target (``target_obj_id``/``target_btf_id``: 5.13)."""
    btf_id = _btf_id("bpf_modify_return_test", _BTF_KIND_FUNC)
    prog = _load(_PROG_TRACING, _TRACE_FENTRY, btf_id) if btf_id else -1
    if prog < 0:
        return False
    try:
        fd = lib.bpf_link_create(prog, 0, _TRACE_FENTRY, None)
    except OSError:
        return False
    finally:
        os.close(prog)
    try:
        return int(_link_info(fd).tracing.target_btf_id) == btf_id
    except OSError:
        return False
    finally:
        os.close(fd)


def _link_create_errno(prog_fd: int, target: int, attach_type: int) -> int:
    """``bpf_link_create(prog_fd, target, attach_type)``'s errno (0: it made a link, closed)."""
    try:
        os.close(lib.bpf_link_create(prog_fd, target, attach_type, None))
        return 0
    except OSError as e:
        return e.errno or 0
    finally:
        os.close(prog_fd)


def _perf_link() -> bool:
    """BPF perf links (5.15): as libbpf's own probe, a link on perf event fd -1 is refused with
    EBADF by kernels that have them, EINVAL by older ones (where a perf event attachment is an
    ioctl, with no link info)."""
    import errno

    prog = _load(_PROG_TRACEPOINT)
    return prog >= 0 and _link_create_errno(prog, -1, _PERF_EVENT) == errno.EBADF


def _sockmap_link() -> bool:
    """sockmap links (6.10): an sk_msg link on map fd -1 is refused with EBADF by kernels that
    have them, EINVAL by older ones (where sk_msg/sk_skb programs attach with BPF_PROG_ATTACH)."""
    import errno

    prog = _load(_PROG_SK_MSG, _SK_MSG_VERDICT)
    return prog >= 0 and _link_create_errno(prog, -1, _SK_MSG_VERDICT) == errno.EBADF


def _tcx() -> bool:
    """tcx links (6.6): a link on a missing interface is refused with ENODEV by kernels that
    have them, EINVAL by older ones."""
    import errno

    prog = _load(_PROG_SCHED_CLS, _TCX_INGRESS)
    return prog >= 0 and _link_create_errno(prog, 0x7FFFFFFF, _TCX_INGRESS) == errno.ENODEV


def _struct_ops_link() -> bool:
    """struct_ops maps with BPF_F_LINK (``SEC(".struct_ops.link")``, 6.4): older kernels refuse
    the flag with EINVAL before looking at the (here invalid) type, newer ones say ENOTSUPP."""
    import ctypes

    from ._ffi.maps import bpf_map_create_opts
    from ._ffi.core import make_opts

    opts = make_opts(bpf_map_create_opts, map_flags=_F_LINK, btf_vmlinux_value_type_id=1)
    try:
        os.close(lib.bpf_map_create(_MAP_STRUCT_OPS, None, 4, 4, 1, ctypes.byref(opts)))
        return True
    except OSError as e:
        return e.errno == 524  # ENOTSUPP (kernel-internal, no errno module name)


def _cgroup2() -> bool:
    """A cgroup v2 hierarchy is mounted."""
    return _cgroup2_root() is not None


def _cgroup2_root() -> str | None:
    for line in _read("/proc/self/mounts").splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            return parts[1]
    return None


def _cgroup_mprog() -> bool:
    """Cgroup programs ordered before/after one another (BPF_F_BEFORE/AFTER, 6.16): attaching
    before a program id that does not exist is refused with ENOENT (or EPERM, the root's
    programs attached without BPF_F_ALLOW_MULTI) by kernels that have it; older ones refuse the
    flags with EINVAL before looking at the cgroup. Nothing is attached either way."""
    import ctypes
    import errno

    from ._ffi.attach import bpf_prog_attach_opts
    from ._ffi.core import make_opts

    root = _cgroup2_root()
    if root is None:
        return False
    prog = _load(_PROG_CGROUP_SKB, _CGROUP_INET_EGRESS)
    if prog < 0:
        return False
    try:
        cgroup = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        os.close(prog)
        return False
    opts = make_opts(bpf_prog_attach_opts, flags=_F_ALLOW_MULTI | _F_BEFORE,
                     relative_id=0x7FFFFFFF)
    try:
        lib.bpf_prog_attach_opts(prog, cgroup, _CGROUP_INET_EGRESS, ctypes.byref(opts))
        lib.bpf_prog_detach_opts(prog, cgroup, _CGROUP_INET_EGRESS, None)  # unexpected: undo
        return True
    except OSError as e:
        return e.errno not in (errno.EINVAL, None)
    finally:
        os.close(cgroup)
        os.close(prog)


def _bpf_token() -> bool:
    """BPF tokens (6.9): the kernel knows BPF_TOKEN_CREATE, bpffs takes delegation options (as
    root), and user namespaces can be made (``user.max_user_namespaces`` > 0). Older bpffs
    ignore unknown mount options (5.10 accepts ``delegate_cmds``), so the command decides:
    ``bpf_token_create`` on no bpffs (fd -1) fails with EBADF where the command exists, with
    EINVAL (unknown command) before 6.9."""
    import errno

    from ._ffi import libc

    if _read("/proc/sys/user/max_user_namespaces").strip() in ("", "0"):
        return False
    try:
        os.close(lib.bpf_token_create(-1, None))  # not expected (no bpffs): undo
    except OSError as e:
        if e.errno != errno.EBADF:
            return False
    try:
        fd = libc.fsopen(b"bpf", libc.FSOPEN_CLOEXEC)
    except OSError:
        return False
    try:
        libc.fsconfig(fd, libc.FSCONFIG_SET_STRING, b"delegate_cmds", b"any", 0)
        return True
    except OSError:  # EINVAL: a bpffs without delegation; EPERM: not root
        return False
    finally:
        os.close(fd)


def _with_only(capabilities: list[int], attempt: Callable[[], bool]) -> bool:
    """``attempt()`` in a thread of ours that kept only ``capabilities`` (of those this process
    has: ``capset`` on the thread, its capabilities die with it); False if that fails.

    First a tiny program is loaded here, with this thread's privileges: libbpf raises
    RLIMIT_MEMLOCK once per process, in its first ``bpf_prog_load``/``bpf_map_create``, in
    whichever thread makes it, and never again. Made first in the probe thread, without
    CAP_SYS_RESOURCE, that attempt fails, and on a kernel that charges the limit (before 5.11)
    the whole process is left at the default 64 KiB: its later loads fail with EPERM."""
    import threading

    from ._ffi import libc

    fd = _load(_PROG_SOCKET_FILTER)
    if fd >= 0:
        os.close(fd)
    answer: list[bool] = []

    def run() -> None:
        try:
            libc.thread_keep_capabilities(capabilities)
        except OSError:
            answer.append(False)
            return
        answer.append(attempt())

    t = threading.Thread(target=run, name="libbpf_py-probe")
    t.start()
    t.join()
    return bool(answer and answer[0])


def _perf_event_perfmon() -> bool:
    """Perf events (what tracepoint, kprobe, uprobe and perf_event attachments open) need no
    more than CAP_PERFMON: a thread of ours that kept only CAP_PERFMON opens a system-wide
    software event on CPU 0, as libbpf opens a tracepoint's. Not so where the kernel applies
    Debian's ``kernel.perf_event_paranoid=3`` patch with CAP_SYS_ADMIN (Debian's kernels at
    their default, 5.10 to 7.2 as measured in the VM matrix): EACCES. Needs CAP_PERFMON (or
    root) to answer yes."""
    import ctypes

    from ._ffi.stream import perf_event_attr

    def attempt() -> bool:
        attr = perf_event_attr(type=_PERF_TYPE_SOFTWARE, config=_PERF_COUNT_SW_DUMMY)
        attr.size = ctypes.sizeof(attr)
        fd = lib.lbpy_perf_event_open(ctypes.byref(attr), -1, 0, -1, 0)
        if fd >= 0:
            os.close(fd)
            return True
        paranoid = _read("/proc/sys/kernel/perf_event_paranoid").strip()
        _reasons["perf_event_perfmon"] = (f"perf_event_open with CAP_PERFMON alone: "
                                          f"{os.strerror(-fd)} (kernel.perf_event_paranoid="
                                          f"{paranoid})")
        return False

    return _with_only([_CAP_PERFMON], attempt)


def _packet_checks_without_perfmon() -> bool:
    """The verifier takes a packet bounds check (``data + 1 > data_end``) from a process without
    CAP_PERFMON: a thread of ours keeping only CAP_BPF and CAP_NET_ADMIN loads a 6-instruction
    XDP program. 5.10's verifier refuses any comparison with a pointer operand unless it may
    leak pointers (CAP_PERFMON): "R3 pointer comparison prohibited", EACCES; later kernels match
    packet pointers first. Needs CAP_BPF and CAP_NET_ADMIN (or root) to answer yes."""

    def attempt() -> bool:
        try:
            fd = int(lib.bpf_prog_load(_PROG_XDP, b"lbpy_probe", b"GPL", _PACKET_CHECK, 6, None))
        except OSError as e:
            _reasons["packet_checks_without_perfmon"] = (
                f"an XDP packet bounds check loaded with CAP_BPF and CAP_NET_ADMIN only: {e}")
            return False
        os.close(fd)
        return True

    return _with_only([_CAP_BPF, _CAP_NET_ADMIN], attempt)


def _memcg_accounting() -> bool:
    """Maps and programs are not charged to RLIMIT_MEMLOCK (5.11 charges memory cgroups instead):
    the kernel's BTF lacks ``struct bpf_map_memory``, the rlimit charge record 5.11 removed. Read
    from the BTF file, not by loading a program (libbpf's FEAT_MEMCG_ACCOUNT probe loads one
    calling ``bpf_ktime_get_coarse_ns()``): that load is itself refused where the limit is
    exhausted, or without privileges, and could not tell. Needs no privileges."""
    from ._vmlinux import find

    return find("bpf_map_memory", _BTF_KIND_STRUCT) == 0


def _memlock_limit() -> int | None:
    """This process's RLIMIT_MEMLOCK soft limit in bytes (None: unlimited), from
    /proc/self/limits (no ``resource`` import: a child that dropped privileges may be unable to
    import a stdlib module its parent had not)."""
    for line in _read("/proc/self/limits").splitlines():
        if line.startswith("Max locked memory"):
            soft = line[len("Max locked memory"):].split()[0]
            return None if soft == "unlimited" else int(soft)
    return None


def explain_memlock(err: OSError) -> None:
    """Say in ``err`` (an EPERM from creating a map or loading an object while this process has
    every capability the call needs) that RLIMIT_MEMLOCK refused it, where the kernel charges
    BPF memory to it (no ``memcg_accounting``: before 5.11) and the limit is finite: libbpf
    raises the limit to unlimited itself, which needs CAP_SYS_RESOURCE when the hard limit is
    lower (root without it, a container). Nothing on other errors or kernels."""
    import errno

    if err.errno != errno.EPERM or getattr(err, "missing_capabilities", None):
        return
    soft = _memlock_limit()
    if soft is None or has("memcg_accounting"):
        return
    limit = f"{soft // 1024} KiB" if soft >= 1024 else f"{soft} bytes"
    err.strerror = (f"{err.strerror} (this kernel charges BPF maps and programs to "
                    f"RLIMIT_MEMLOCK, and this process's limit is {limit}: raise it, e.g. "
                    f"`ulimit -l unlimited` or prlimit, or grant CAP_SYS_RESOURCE so libbpf "
                    f"raises it)")


#: feature -> what the kernel said when a probe that can tell was refused (``why(name)``)
_reasons: dict[str, str] = {}


def _arena() -> bool:
    """ARENA maps (6.9): one is created as libbpf's probe does (``bpf_map_create``: key and value
    size 0, one page, ``BPF_F_MMAPABLE``); when refused, the kernel's error is kept for ``why``
    (a kernel can have the map type and still refuse it: EPERM, EOPNOTSUPP without a JIT)."""
    import ctypes

    from ._ffi.maps import bpf_map_create_opts
    from ._ffi.core import make_opts

    opts = make_opts(bpf_map_create_opts, map_flags=_BPF_F_MMAPABLE)
    try:
        fd = int(lib.bpf_map_create(_MAP_ARENA, b"lbpy_probe", 0, 0, 1, ctypes.byref(opts)))
    except OSError as e:
        _reasons["arena"] = f"the kernel refused to create one: {e}"
        return False
    os.close(fd)
    return True


def why(name: str) -> str | None:
    """Why ``has(name)`` is False, when its probe can tell (the kernel's error); else None."""
    return _reasons.get(name) if not has(name) else None


def _prog(number: int) -> Callable[[], bool]:
    return lambda: program_type(number)


def _map(number: int) -> Callable[[], bool]:
    return lambda: map_type(number)


#: feature name -> check. Program/map type numbers are enum bpf_prog_type / bpf_map_type.
FEATURES: dict[str, Callable[[], bool]] = {
    "bpf": lambda: program_type(1),  # SOCKET_FILTER loads: the bpf syscall works for us
    "btf": lambda: os.path.isfile("/sys/kernel/btf/vmlinux"),
    "tracefs": lambda: tracefs_path() is not None,
    "kprobes": _kprobes,  # and kretprobes, ksyscall
    "uprobes": _uprobes,
    "perf_event": lambda: os.path.exists("/proc/sys/kernel/perf_event_paranoid"),
    # ... opened with CAP_PERFMON alone (not where perf_event_paranoid=3 means CAP_SYS_ADMIN)
    "perf_event_perfmon": _perf_event_perfmon,
    # XDP/tc packet bounds checks verified without CAP_PERFMON (not on 5.10)
    "packet_checks_without_perfmon": _packet_checks_without_perfmon,
    "bpf_lsm": _bpf_lsm,
    "cgroup2": _cgroup2,
    "cgroup_mprog": _cgroup_mprog,  # cgroup programs ordered with before=/after=
    # BTF-based tracing (tp_btf, iterators): a tp_btf program on sys_enter loads
    "tracing": lambda: tp_btf("sys_enter"),
    "trampolines": _trampolines,  # fentry/fexit/fmod_ret/LSM/freplace actually load
    "tracing_cookie": _tracing_cookie,  # fentry/fexit/LSM links carry a bpf_cookie
    "raw_tp_cookie": lambda: _raw_tp_cookie() is not None,  # raw_tp/tp_btf links take a cookie
    # ... and their link info reports it back
    "raw_tp_link_info_cookie": lambda: _raw_tp_cookie() == _COOKIE,
    # bpf_get_attach_cookie() and perf-link cookies (5.15): kprobes, tracepoints
    "kprobe_cookie": lambda: _kprobes() and helper(_PROG_KPROBE, _FUNC_GET_ATTACH_COOKIE),
    "tracepoint_cookie": lambda: helper(_PROG_TRACEPOINT, _FUNC_GET_ATTACH_COOKIE),
    "uprobe_cookie": lambda: _uprobes() and helper(_PROG_KPROBE, _FUNC_GET_ATTACH_COOKIE),
    "perf_event_cookie": lambda: helper(_PROG_PERF_EVENT, _FUNC_GET_ATTACH_COOKIE),
    "kprobe_multi": _kprobe_multi,  # kprobe.multi links (fprobe)
    "uprobe_multi": _uprobe_multi,  # uprobe.multi links
    "fmod_ret": _fmod_ret,  # fmod_ret programs change a function's return
    "tracing_link_info_target": _tracing_link_info_target,  # fentry/freplace link info target
    "perf_link": _perf_link,  # kprobe/uprobe/tracepoint/perf event attachments are BPF links
    # ... whose link info says what they are attached to (6.6: enum bpf_perf_event_type came
    # with it)
    "perf_link_info": lambda: _btf_id("bpf_perf_event_type", _BTF_KIND_ENUM) > 0,
    # kfuncs tagged in the kernel's BTF (pahole's decl_tag_kfuncs, 6.9+): Btf.dump_c declares them
    "btf_kfunc_tags": lambda: _btf_id("bpf_kfunc", _BTF_KIND_DECL_TAG) > 0,
    "bpf_loop": lambda: helper(_PROG_TRACEPOINT, _FUNC_LOOP),  # the bpf_loop() helper (5.17)
    # iter/task links filtered to one task or process (5.19)
    "task_iter_filter": lambda: _btf_id("bpf_iter_task_type", _BTF_KIND_ENUM) > 0,
    "struct_ops": _prog(27),
    "struct_ops_link": _struct_ops_link,  # SEC(".struct_ops.link"): struct_ops as a BPF link
    "sockmap_link": _sockmap_link,  # sk_msg/sk_skb attachments to a sockmap are BPF links
    "tcx": _tcx,  # tcx links (TC without qdiscs, ordering)
    "xdp": _prog(6),
    "sched_cls": _prog(3),
    "sk_lookup": _prog(30),
    "netfilter": _prog(32),
    "ringbuf": _map(27),
    "user_ringbuf": _map(31),
    "bloom_filter": _map(30),
    "task_storage": _map(29),
    "cgrp_storage": _map(32),
    "memcg_accounting": _memcg_accounting,  # BPF memory charged to cgroups, not RLIMIT_MEMLOCK
    "arena": _arena,  # ARENA maps are created (why("arena") gives the kernel's refusal)
    "bpf_token": _bpf_token,  # delegation to user namespaces (token.delegate())
}


#: feature -> what it gives a user (``python -m libbpf_py features`` and docs/kernels.md's
#: first column, written by scripts/vm/kernels_md.py, which reads this literal)
DESCRIPTIONS: dict[str, str] = {
    "bpf": "bpf() syscall works",
    "btf": "kernel BTF (/sys/kernel/btf/vmlinux): CO-RE",
    "tracefs": "tracefs: tracepoints",
    "kprobes": "kprobe, kretprobe, ksyscall",
    "kprobe_cookie": "cookies on kprobes (bpf_get_attach_cookie)",
    "kprobe_multi": "kprobe.multi",
    "uprobes": "uprobe, uretprobe, USDT",
    "uprobe_cookie": "cookies on uprobes",
    "uprobe_multi": "uprobe.multi",
    "perf_event": "perf events (profile)",
    "perf_event_perfmon": "perf events (tracepoints, kprobes) attach with CAP_PERFMON",
    "packet_checks_without_perfmon": "XDP/tc packet bounds checks load without CAP_PERFMON",
    "perf_event_cookie": "cookies on perf events",
    "tracepoint_cookie": "cookies on tracepoints",
    "tracing": "tp_btf, BPF iterators",
    "raw_tp_cookie": "cookies on raw_tp/tp_btf",
    "raw_tp_link_info_cookie": "raw_tp link info reports the cookie",
    "trampolines": "fentry, fexit, fmod_ret, freplace",
    "tracing_cookie": "cookies on fentry/fexit",
    "fmod_ret": "fmod_ret (change a function's return)",
    "tracing_link_info_target": "fentry/freplace link info names the target",
    "perf_link": "kprobe/uprobe/perf attachments are BPF links",
    "perf_link_info": "their link info names the probe or event (file, offset, config)",
    "btf_kfunc_tags": "kfuncs tagged in kernel BTF: vmlinux.h dumps declare them",
    "bpf_loop": "bpf_loop() helper",
    "task_iter_filter": "iter/task filtered to one task or process",
    "bpf_lsm": "BPF LSM (lsm/ programs)",
    "cgroup2": "cgroup v2 programs",
    "cgroup_mprog": "cgroup programs ordered (before=/after=)",
    "struct_ops": "struct_ops",
    "struct_ops_link": "struct_ops as a BPF link (.struct_ops.link)",
    "sockmap_link": "sockmap attachments are BPF links (link info)",
    "tcx": "tcx links (TC without qdiscs)",
    "xdp": "XDP",
    "sched_cls": "TC (cls_bpf)",
    "sk_lookup": "sk_lookup",
    "netfilter": "netfilter programs",
    "ringbuf": "BPF ring buffer",
    "user_ringbuf": "user ring buffer",
    "bloom_filter": "bloom filter maps",
    "task_storage": "task storage maps",
    "cgrp_storage": "cgroup storage maps",
    "memcg_accounting": "BPF memory charged to memory cgroups, not RLIMIT_MEMLOCK",
    "arena": "arena maps",
    "bpf_token": "BPF tokens: unprivileged BPF in a user namespace through a delegated bpffs",
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
