"""Attach methods of ``Program`` for networking, cgroups and sockets: XDP, TCX, legacy TC,
netfilter, netns (sk_lookup, flow_dissector), cgroup, sockmap, socket filters. Mixed into
``Program`` (program.py); docs/attach.md lists every kind.

Link-based kinds return a ``Link``. Hooks that the kernel attaches without a BPF link (XDP in a
chosen mode through netlink, legacy TC filters, ``SO_ATTACH_BPF`` socket filters, legacy cgroup
attachments with flags) return an ``Attachment``: same ``detach()``/``with`` API, it keeps a
duplicate of the program fd so it detaches exactly what it attached. Both belong to the
program's object: they last until detached or until the object closes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from types import SimpleNamespace

from .. import _args
from .._ffi import lib
from ..errors import BpfError, Closeable, ClosedError, error_context, with_context
from ..link import Link

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..maps import Map

__all__ = ["NetAttachMixin", "Attachment", "xdp_query", "tc_query", "tc_hook_destroy",
           "query_programs", "XDP_MODES", "NF_HOOKS", "CGROUP_FLAGS"]

XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_REPLACE = 1 << 4
#: XDP attach modes of ``attach_xdp(mode=...)`` (if_link.h XDP_FLAGS_*_MODE).
XDP_MODES = {"skb": 1 << 1, "drv": 1 << 2, "hw": 1 << 3}
_XDP_ATTACHED = {0: None, 1: "drv", 2: "skb", 3: "hw", 4: "multi"}  # XDP_ATTACHED_*

BPF_F_REPLACE = 1 << 2
BPF_F_BEFORE = 1 << 3
BPF_F_AFTER = 1 << 4
BPF_F_LINK = 1 << 13
#: Legacy cgroup attach flags (``attach_cgroup(..., legacy_flags=...)``).
CGROUP_FLAGS = {"override": 1 << 0, "multi": 1 << 1}

BPF_TC_INGRESS, BPF_TC_EGRESS = 1, 2
#: netfilter hooks (``enum nf_inet_hooks``).
NF_HOOKS = {"prerouting": 0, "local_in": 1, "forward": 2, "local_out": 3, "postrouting": 4}
_NFPROTO = {2: 2, 10: 10, "ipv4": 2, "ipv6": 10}  # AF_INET/AF_INET6 -> NFPROTO_*

SOL_SOCKET = 1
SO_DETACH_BPF = 27
SO_ATTACH_BPF = 50


def _ifindex(interface: int | str, what: str) -> int:
    """An interface index from a name or index, checked to exist in this network namespace."""
    import socket  # local: importing socket costs milliseconds at `import libbpf_py`

    if isinstance(interface, str):
        _args.c_string(interface, "interface")
    elif not isinstance(interface, int):
        raise TypeError(f"interface must be an interface name or index, not "
                        f"{type(interface).__name__}")
    try:
        if isinstance(interface, int):
            socket.if_indextoname(_args.ifindex(interface, "interface"))
            return interface
        return socket.if_nametoindex(interface)
    except OSError:
        raise BpfError(errno.ENODEV, f"no network interface {interface!r} in this network "
                       "namespace", what) from None


def _open_path(target: int | str | os.PathLike[str], kind: str, what: str) -> tuple[int, bool]:
    """(fd, owned): a cgroup/netns given as an fd or a path (opened read-only)."""
    if isinstance(target, int):
        return target, False
    p = os.fspath(target)
    try:
        return os.open(p, os.O_RDONLY | os.O_CLOEXEC), True
    except FileNotFoundError:
        raise BpfError(errno.ENOENT, f"no {kind} '{p}'", what) from None


def _quiet(fn: Any, *args: Any) -> None:
    """Call a netlink-based libbpf function without logging the kernel's extack message (a
    "not found" libbpf reports as a warning); a failure carries it in the error instead."""
    from ..log import QUIET, capture

    with capture(show=QUIET) as messages:
        err: Optional[BpfError] = None
        try:
            fn(*args)
        except BpfError as e:
            err = e
    if err is not None:
        said = [m.strip().removeprefix("libbpf: ") for lvl, m in messages if lvl == 0]
        if said and said[-1]:
            err.strerror = f"{err.strerror}; libbpf: {said[-1]}"
        raise err


class _Netns:
    """The network namespace an attachment was made in. Netlink requests (XDP, TC) act on the
    calling thread's namespace, and interface indexes are per namespace: ``run()`` calls a
    detach there, whichever namespace the detaching thread is in (``setns(2)`` on this thread
    only, then back). Holds an fd of the namespace until ``close()``."""

    __slots__ = ("fd", "ident")

    def __init__(self) -> None:
        # LIFETIME: our fd of the namespace, closed by close() (after the detach).
        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        st = os.fstat(self.fd)
        self.ident = (st.st_dev, st.st_ino)

    def run(self, fn: Callable[[], None], what: str) -> None:
        from .._ffi.libc import CLONE_NEWNET, setns

        here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(here)
            if (st.st_dev, st.st_ino) == self.ident:
                fn()
                return
            try:
                setns(self.fd, CLONE_NEWNET)
            except OSError as e:
                raise BpfError(e.errno or errno.EPERM, f"can't enter the network namespace "
                               f"it was attached in ({e.strerror})", what) from None
            try:
                fn()
            finally:
                setns(here, CLONE_NEWNET)
        finally:
            os.close(here)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _relative(before: Any, after: Any, what: str) -> tuple[int, int]:
    """(flags, relative_fd) of mprog ordering: before/after a Program or a Link."""
    if before is not None and after is not None:
        raise ValueError(f"{what}: give before= or after=, not both")
    rel = before if before is not None else after
    if rel is None:
        return 0, 0
    flags = BPF_F_BEFORE if before is not None else BPF_F_AFTER
    if isinstance(rel, Link):
        flags |= BPF_F_LINK
    return flags, rel.fd


class Attachment(Closeable):
    """A program attached without a BPF link (netlink XDP, legacy TC, socket filter, legacy
    cgroup). ``detach()``/``close()``/``with`` remove exactly this attachment; idempotent.
    Like a Link, it belongs to the program's object: it lasts until detached or until the
    object closes, whether or not the caller keeps it."""

    __slots__ = ("_detach", "_prog_fd", "_owner", "program", "description", "info",
                 "__weakref__")
    #: What it borrows from its object (``Link.borrows``): nothing, it holds its own dups.
    borrows = ""

    def __init__(self, detach: Callable[[int], None], prog_fd: int, description: str,
                 info: Optional[dict[str, Any]] = None, *, owner: Any = None,
                 program: Optional[str] = None) -> None:
        self._detach: Optional[Callable[[int], None]] = detach
        self._prog_fd: Optional[int] = prog_fd  # LIFETIME: our dup of the program fd
        self._owner = owner  # the object state whose list holds this attachment
        self.program = program
        self.description = description
        self.info = info or {}
        if owner is not None:
            owner.adopt(self)

    @property
    def closed(self) -> bool:
        return self._detach is None

    @property
    def prog_fd(self) -> int:
        """Our duplicate of the attached program's fd."""
        if self._prog_fd is None:
            raise ClosedError(f"attachment ({self.description}) is detached")
        return self._prog_fd

    def detach(self) -> None:
        """Remove the program from the hook; idempotent."""
        fn, self._detach = self._detach, None
        fd, self._prog_fd = self._prog_fd, None
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.release(self)
        try:
            if fn is not None and fd is not None:
                fn(fd)
        finally:
            if fd is not None:
                os.close(fd)

    close = detach

    def __enter__(self) -> Attachment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    # Closeable's finalizer: collected with its object (whose list holds it), it goes with it.
    def _left_open(self) -> bool:
        return self._detach is not None

    def _warns(self) -> bool:
        return self._owner is None

    def __repr__(self) -> str:
        return f"<Attachment {self.description}{' detached' if self.closed else ''}>"


def xdp_query(interface: int | str) -> SimpleNamespace:
    """What XDP programs an interface has (``bpf_xdp_query``): ``prog_id`` (the single
    attached one, 0 if none or several), ``drv_prog_id``, ``skb_prog_id``, ``hw_prog_id``,
    ``mode`` ("drv", "skb", "hw", "multi" or None). Needs CAP_NET_ADMIN."""
    from .._ffi.attach import bpf_xdp_query_opts
    from .._ffi.core import make_opts

    what = f"query XDP of interface {interface!r}"
    ifindex = _ifindex(interface, what)
    opts = make_opts(bpf_xdp_query_opts)
    with error_context(what):
        lib.bpf_xdp_query(ifindex, 0, ctypes.byref(opts))
    return SimpleNamespace(prog_id=opts.prog_id, drv_prog_id=opts.drv_prog_id,
                           skb_prog_id=opts.skb_prog_id, hw_prog_id=opts.hw_prog_id,
                           mode=_XDP_ATTACHED.get(opts.attach_mode, opts.attach_mode))


def _tc_hook(ifindex: int, direction: str) -> Any:
    from .._ffi.attach import bpf_tc_hook
    from .._ffi.core import make_opts

    point = {"ingress": BPF_TC_INGRESS, "egress": BPF_TC_EGRESS}.get(direction)
    if point is None:
        raise ValueError(f"TC direction must be 'ingress' or 'egress', not {direction!r}")
    return make_opts(bpf_tc_hook, ifindex=ifindex, attach_point=point)


def tc_query(interface: int | str, direction: str = "ingress", *, handle: int = 1,
             priority: int = 1) -> Optional[int]:
    """The id of the program of legacy TC filter (``handle``, ``priority``) on the clsact
    hook, or None if there is none (``bpf_tc_query``). Needs CAP_NET_ADMIN."""
    from .._ffi.attach import bpf_tc_opts
    from .._ffi.core import make_opts

    what = f"query TC {direction} filter of interface {interface!r}"
    if not (0 < handle and 0 < priority <= 0xFFFF):
        raise ValueError(f"{what}: handle must be > 0 and priority in 1..65535")
    hook = _tc_hook(_ifindex(interface, what), direction)
    opts = make_opts(bpf_tc_opts, handle=handle, priority=priority)
    try:
        _quiet(lib.bpf_tc_query, ctypes.byref(hook), ctypes.byref(opts))
    except BpfError as e:
        # ENOENT: no such filter; EINVAL: "Cannot find specified filter chain" (no filter of
        # that priority left) or "Parent Qdisc doesn't exists" (no clsact hook). handle and
        # priority are checked above, so EINVAL means absent. Absent is an answer: nothing is
        # logged.
        if e.errno in (errno.ENOENT, errno.EINVAL):
            return None
        raise with_context(e, what) from None
    return opts.prog_id


def tc_hook_destroy(interface: int | str) -> None:
    """Remove the clsact qdisc of an interface with all its filters (``bpf_tc_hook_destroy``,
    ingress and egress together). Needs CAP_NET_ADMIN."""
    what = f"destroy TC hook of interface {interface!r}"
    hook = _tc_hook(_ifindex(interface, what), "ingress")
    hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS
    try:
        _quiet(lib.bpf_tc_hook_destroy, ctypes.byref(hook))
    except BpfError as e:
        if e.errno not in (errno.ENOENT, errno.EINVAL):  # EINVAL: no clsact qdisc
            raise with_context(e, what) from None


def query_programs(target: int | str | os.PathLike[str], attach_type: Any) -> SimpleNamespace:
    """The programs attached to a cgroup (path or fd) or interface (TCX: name or index) for
    ``attach_type`` (``bpf_prog_query_opts``), in run order: ``prog_ids``, ``link_ids``,
    ``revision``, ``attach_flags``. Needs root."""
    from .._ffi.attach import bpf_prog_query_opts
    from .._ffi.core import make_opts
    from ..enums import AttachType

    what = f"query programs of {target!r} ({AttachType(int(attach_type)).name})"
    at = int(attach_type)
    owned = False
    if at in (AttachType.TCX_INGRESS, AttachType.TCX_EGRESS, AttachType.NETKIT_PRIMARY,
              AttachType.NETKIT_PEER):
        fd = _ifindex(target if not isinstance(target, os.PathLike) else os.fspath(target),
                      what)
    else:
        fd, owned = _open_path(target, "cgroup", what)
    try:
        cap = 64
        ids = (ctypes.c_uint32 * cap)()
        link_ids = (ctypes.c_uint32 * cap)()
        # link_ids came with multi-program attachment (6.6, with tcx): older kernels refuse a
        # query that sets it (EINVAL)
        from .. import features

        opts = make_opts(bpf_prog_query_opts, prog_ids=ids, prog_cnt=cap,
                         **({"link_ids": link_ids} if features.has("tcx") else {}))
        with error_context(what):
            lib.bpf_prog_query_opts(fd, at, ctypes.byref(opts))
        n = opts.prog_cnt
        return SimpleNamespace(prog_ids=list(ids[:n]), link_ids=list(link_ids[:n]),
                               revision=opts.revision, attach_flags=opts.attach_flags)
    finally:
        if owned:
            os.close(fd)


class NetAttachMixin:
    """``attach_*`` methods for networking, cgroup and socket program kinds."""

    __slots__ = ()
    name: str
    section: str
    _attach: Any
    _state: Any

    if TYPE_CHECKING:
        @property
        def fd(self) -> int: ...  # Program's

    def _what(self) -> str:
        return f"attach program '{self.name}'"

    # --- XDP

    def attach_xdp(self, interface: int | str, *, mode: Optional[str] = None,
                   replace: Any = None, exclusive: bool = False) -> Any:
        """Attach an XDP program to a network interface (name or index).

        Without ``mode``: a BPF link (``bpf_program__attach_xdp``), returned as a ``Link``
        (replace its program with ``Link.update_program``). With ``mode`` "skb" (generic),
        "drv" (native driver) or "hw": netlink attach (``bpf_xdp_attach``) returning an
        ``Attachment``; ``replace`` (a Program) atomically replaces that attached program,
        ``exclusive`` fails if any program is attached. Needs CAP_NET_ADMIN (root).
        """
        what = f"xdp {interface}" + (f" ({mode} mode)" if mode else "")
        ifindex = _ifindex(interface, f"{self._what()} to {what}")
        if mode is None:
            if replace is not None or exclusive:
                raise ValueError("replace/exclusive apply to mode='skb'/'drv'/'hw' attaches; "
                                 "a link's program is replaced with Link.update_program()")
            return self._attach(lib.bpf_program__attach_xdp, ifindex, what=what)
        if mode not in XDP_MODES:
            raise ValueError(f"XDP mode must be one of {sorted(XDP_MODES)}, not {mode!r}")
        from .._ffi.attach import bpf_xdp_attach_opts
        from .._ffi.core import make_opts

        flags = XDP_MODES[mode]
        opts = make_opts(bpf_xdp_attach_opts)
        if replace is not None:
            flags |= XDP_FLAGS_REPLACE
            opts.old_prog_fd = replace.fd
        elif exclusive:
            flags |= XDP_FLAGS_UPDATE_IF_NOEXIST
        prog_fd = os.dup(self.fd)
        try:
            lib.bpf_xdp_attach(ifindex, prog_fd, flags, ctypes.byref(opts))
        except BpfError as e:
            os.close(prog_fd)
            raise with_context(e, f"{self._what()} to {what}") from None
        mode_flag = XDP_MODES[mode]
        netns = _Netns()

        def detach(fd: int) -> None:
            def in_netns() -> None:
                o = make_opts(bpf_xdp_attach_opts, old_prog_fd=fd)
                try:
                    _quiet(lib.bpf_xdp_detach, ifindex, mode_flag | XDP_FLAGS_REPLACE,
                           ctypes.byref(o))
                except BpfError as e:
                    if e.errno not in (errno.EEXIST, errno.ENODEV):  # replaced, device gone
                        raise with_context(e, f"detach XDP from {interface!r}") from None
            try:
                netns.run(in_netns, f"detach XDP from {interface!r}")
            finally:
                netns.close()
        return Attachment(detach, prog_fd, what, {"ifindex": ifindex, "mode": mode},
                          owner=self._state, program=self.name)

    # --- TC: TCX links and legacy clsact filters

    def attach_tcx(self, interface: int | str, direction: Optional[str] = None, *,
                   before: Any = None, after: Any = None,
                   expected_revision: int = 0) -> Link:
        """Attach to TCX ingress/egress of an interface (``bpf_program__attach_tcx``).

        ``direction`` defaults to the SEC() name (``tcx/ingress``, ``tcx/egress``). ``before``/
        ``after``: a Program or Link already attached there, to run before/after it (default:
        appended last). ``expected_revision``: fail with ESTALE if the hook changed. See
        ``query_programs(ifname, AttachType.TCX_INGRESS)``. Linux 6.6; needs root.
        """
        from .._ffi.attach import bpf_tcx_opts
        from .._ffi.core import make_opts

        direction = direction or self.section.rsplit("/", 1)[-1]
        if direction not in ("ingress", "egress"):
            raise ValueError(f"TCX direction must be 'ingress' or 'egress', not {direction!r} "
                             f"(from SEC(\"{self.section}\"))")
        what = f"tcx {direction} {interface}"
        ifindex = _ifindex(interface, f"{self._what()} to {what}")
        flags, rel_fd = _relative(before, after, what)
        opts = make_opts(bpf_tcx_opts, flags=flags, relative_fd=rel_fd,
                         expected_revision=expected_revision)
        from ..enums import AttachType

        if self.expected_attach_type not in (AttachType.TCX_INGRESS,  # type: ignore[attr-defined]
                                             AttachType.TCX_EGRESS):
            raise BpfError(errno.EINVAL, f"SEC(\"{self.section}\") is not a tcx program",
                           f"{self._what()} to {what}")
        return self._attach(lib.bpf_program__attach_tcx, ifindex, ctypes.byref(opts),
                            what=what)

    def attach_tc(self, interface: int | str, direction: str = "ingress", *,
                  priority: int = 1, handle: int = 1, replace: bool = False,
                  destroy_hook: bool = False) -> Attachment:
        """Attach as a legacy TC filter (direct-action) on the clsact hook: creates the
        clsact qdisc if needed (``bpf_tc_hook_create``) and the filter (``bpf_tc_attach``).

        ``info["hook_created"]`` says whether this call created the qdisc. ``detach()`` removes
        the filter (``bpf_tc_detach``) in the network namespace it was attached in; with
        ``destroy_hook=True`` it then also removes the clsact qdisc, with every filter on it,
        if this call created it (``bpf_tc_hook_destroy``): "destroy only what I created".
        ``tc_hook_destroy(interface)`` removes the qdisc in any case; ``tc_query`` reads a
        filter back. Needs CAP_NET_ADMIN (root)."""
        from .._ffi.attach import bpf_tc_opts
        from .._ffi.core import make_opts

        what = f"tc {direction} {interface} handle {handle} priority {priority}"
        ifindex = _ifindex(interface, f"{self._what()} to {what}")
        hook = _tc_hook(ifindex, direction)
        created = True
        try:
            _quiet(lib.bpf_tc_hook_create, ctypes.byref(hook))
        except BpfError as e:
            if e.errno != errno.EEXIST:
                raise with_context(e, f"{self._what()} to {what}: create clsact hook") from None
            created = False
        prog_fd = os.dup(self.fd)
        opts = make_opts(bpf_tc_opts, prog_fd=prog_fd, handle=handle, priority=priority,
                         flags=1 if replace else 0)  # BPF_TC_F_REPLACE
        try:
            lib.bpf_tc_attach(ctypes.byref(hook), ctypes.byref(opts))
        except BpfError as e:
            os.close(prog_fd)
            raise with_context(e, f"{self._what()} to {what}") from None
        prog_id = opts.prog_id
        netns = _Netns()

        def in_netns() -> None:
            o = make_opts(bpf_tc_opts, handle=handle, priority=priority)
            try:
                _quiet(lib.bpf_tc_detach, ctypes.byref(hook), ctypes.byref(o))
            except BpfError as e:
                # ENOENT: the filter is gone; ENODEV: the interface is; EINVAL: "Parent Qdisc
                # doesn't exists", the hook is (here, in the namespace of the attach).
                if e.errno not in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
                    raise with_context(e, f"detach TC filter from {interface!r}") from None
            if destroy_hook and created:
                both = _tc_hook(ifindex, "ingress")
                both.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS
                try:
                    _quiet(lib.bpf_tc_hook_destroy, ctypes.byref(both))
                except BpfError as e:
                    if e.errno not in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
                        raise with_context(e, f"destroy TC hook of {interface!r}") from None

        def detach(fd: int) -> None:
            try:
                netns.run(in_netns, f"detach TC filter from {interface!r}")
            finally:
                netns.close()
        return Attachment(detach, prog_fd, what, {"ifindex": ifindex, "prog_id": prog_id,
                                                  "handle": handle, "priority": priority,
                                                  "hook_created": created},
                          owner=self._state, program=self.name)

    # --- netfilter

    def attach_netfilter(self, family: int | str, hook: int | str, priority: int, *,
                         defrag: bool = False) -> Link:
        """Attach to a netfilter hook (``bpf_program__attach_netfilter``): ``family``
        ``socket.AF_INET``/``AF_INET6`` (or "ipv4"/"ipv6"), ``hook`` a name of ``NF_HOOKS``
        ("local_in" ...) or number, ``priority`` (not 0 or INT_MIN/INT_MAX), ``defrag`` to see
        defragmented packets. Linux 6.4; needs root."""
        from .._ffi.attach import bpf_netfilter_opts
        from .._ffi.core import make_opts

        pf = _NFPROTO.get(family)
        if pf is None:
            raise ValueError(f"netfilter family must be AF_INET/AF_INET6, not {family!r}")
        hooknum = NF_HOOKS.get(hook) if isinstance(hook, str) else hook
        if hooknum is None:
            raise ValueError(f"unknown netfilter hook {hook!r} (known: {', '.join(NF_HOOKS)})")
        opts = make_opts(bpf_netfilter_opts, pf=pf, hooknum=hooknum, priority=priority,
                         flags=1 if defrag else 0)  # BPF_F_NETFILTER_IP_DEFRAG
        return self._attach(lib.bpf_program__attach_netfilter, ctypes.byref(opts),
                            what=f"netfilter pf={pf} hook={hook} priority={priority}")

    # --- netns, cgroup, sockets

    def attach_netns(self, netns: int | str | os.PathLike[str] = "/proc/self/ns/net") -> Link:
        """Attach sk_lookup/flow_dissector programs to a network namespace, given as a path
        (``/proc/<pid>/ns/net``, ``/run/netns/<name>``) or fd (``bpf_program__attach_netns``).
        Needs root."""
        what = f"netns {netns}"
        fd, owned = _open_path(netns, "network namespace", f"{self._what()} to {what}")
        try:
            return self._attach(lib.bpf_program__attach_netns, fd, what=what)
        finally:
            if owned:
                os.close(fd)

    def attach_cgroup(self, cgroup: int | str | os.PathLike[str], *, before: Any = None,
                      after: Any = None, expected_revision: int = 0,
                      legacy_flags: Optional[str | int] = None,
                      replace: Any = None) -> Any:
        """Attach a cgroup program (cgroup_skb, cgroup/sock_create, sockops ...) to a cgroup v2
        directory (path or fd).

        Default: a BPF link (``bpf_program__attach_cgroup_opts``; links always allow several
        programs), ordered ``before``/``after`` a Program or Link (Linux 6.16 for ordering).
        ``legacy_flags`` ("multi", "override" or the flag bits) uses the older
        ``bpf_prog_attach_opts`` with those flags instead, returning an ``Attachment``;
        ``replace`` (a Program attached with "multi") is replaced atomically. Needs root.
        """
        what = f"cgroup {cgroup}"
        ctx = f"{self._what()} to {what}"
        fd, owned = _open_path(cgroup, "cgroup", ctx)
        try:
            if legacy_flags is None:
                if replace is not None:
                    raise ValueError("replace= needs legacy_flags='multi' (links are replaced "
                                     "with Link.update_program())")
                from .._ffi.attach import bpf_cgroup_opts
                from .._ffi.core import make_opts

                flags, rel_fd = _relative(before, after, what)
                opts = make_opts(bpf_cgroup_opts, flags=flags, relative_fd=rel_fd,
                                 expected_revision=expected_revision)
                return self._attach(lib.bpf_program__attach_cgroup_opts, fd,
                                    ctypes.byref(opts), what=what)
            return self._attach_cgroup_legacy(fd, legacy_flags, replace, what)
        finally:
            if owned:
                os.close(fd)

    def _attach_cgroup_legacy(self, cgroup_fd: int, legacy_flags: str | int, replace: Any,
                              what: str) -> Attachment:
        from .._ffi.attach import bpf_prog_attach_opts, bpf_prog_detach_opts
        from .._ffi.core import make_opts

        flags = CGROUP_FLAGS[legacy_flags] if isinstance(legacy_flags, str) else legacy_flags
        atype = int(self.expected_attach_type)  # type: ignore[attr-defined]
        opts = make_opts(bpf_prog_attach_opts, flags=flags)
        if replace is not None:
            opts.flags |= BPF_F_REPLACE
            opts.replace_prog_fd = replace.fd
        prog_fd = os.dup(self.fd)
        cg = os.dup(cgroup_fd)
        try:
            lib.bpf_prog_attach_opts(prog_fd, cg, atype, ctypes.byref(opts))
        except BpfError as e:
            os.close(prog_fd)
            os.close(cg)
            raise with_context(e, f"{self._what()} to {what}") from None
        # LIFETIME: the detach closure owns the dup'ed cgroup fd and closes it.

        def detach(fd: int) -> None:
            try:
                o = make_opts(bpf_prog_detach_opts)
                lib.bpf_prog_detach_opts(fd, cg, atype, ctypes.byref(o))
            except BpfError as e:
                if e.errno != errno.ENOENT:
                    raise with_context(e, f"detach program from {what}") from None
            finally:
                os.close(cg)
        return Attachment(detach, prog_fd, f"{what} (legacy flags {flags:#x})",
                          {"attach_type": atype, "flags": flags}, owner=self._state,
                          program=self.name)

    def attach_sockmap(self, map: Map) -> Link | Attachment:
        """Attach an sk_skb/sk_msg program to a sockmap/sockhash. Needs root.

        A BPF link (``bpf_program__attach_sockmap``) where the kernel has sockmap links (Linux
        6.10, ``features.has("sockmap_link")``); on older kernels the program is attached to the
        map with ``bpf_prog_attach_opts`` instead, returning an ``Attachment`` (one program per
        attach type and map, as there). Either way it belongs to the program's object."""
        from .. import features

        what = f"sockmap '{map.name}'"
        if features.has("sockmap_link"):
            return self._attach(lib.bpf_program__attach_sockmap, map.fd, what=what)
        from .._ffi.attach import bpf_prog_attach_opts, bpf_prog_detach_opts
        from .._ffi.core import make_opts

        atype = int(self.expected_attach_type)  # type: ignore[attr-defined]
        prog_fd = os.dup(self.fd)
        map_fd = os.dup(map.fd)
        try:
            lib.bpf_prog_attach_opts(prog_fd, map_fd, atype,
                                     ctypes.byref(make_opts(bpf_prog_attach_opts)))
        except BpfError as e:
            os.close(prog_fd)
            os.close(map_fd)
            raise with_context(e, f"{self._what()} to {what}") from None
        # LIFETIME: the detach closure owns the dup'ed map fd and closes it.

        def detach(fd: int) -> None:
            try:
                o = make_opts(bpf_prog_detach_opts)
                lib.bpf_prog_detach_opts(fd, map_fd, atype, ctypes.byref(o))
            except BpfError as e:
                if e.errno != errno.ENOENT:
                    raise with_context(e, f"detach program from {what}") from None
            finally:
                os.close(map_fd)
        return Attachment(detach, prog_fd, f"{what} (bpf_prog_attach)",
                          {"attach_type": atype}, owner=self._state, program=self.name)

    def attach_socket(self, sock: Any) -> Attachment:
        """Attach a socket filter program to a socket (``setsockopt(SO_ATTACH_BPF)``); the
        socket (a ``socket.socket`` or fd) must stay open while attached; ``detach()`` uses
        ``SO_DETACH_BPF``. Replaces any earlier filter of the socket.

        The Attachment remembers which socket it is (not only the fd number): if that socket
        was closed (its filter went with it) and the number now names another file, ``detach()``
        leaves that one alone."""
        import socket

        sock_fd = sock if isinstance(sock, int) else sock.fileno()
        what = f"{self._what()} to socket fd {sock_fd}"
        try:
            st = os.fstat(sock_fd)
        except OSError as e:
            raise BpfError(e.errno or errno.EBADF, e.strerror, what) from None
        ident = (st.st_dev, st.st_ino)  # the socket's inode: unique while it lives
        prog_fd = os.dup(self.fd)
        s = socket.socket(fileno=os.dup(sock_fd))
        try:
            s.setsockopt(SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", prog_fd))
        except OSError as e:
            os.close(prog_fd)
            raise BpfError(e.errno or errno.EINVAL, e.strerror, what) from None
        finally:
            s.close()  # closes our dup only

        def detach(fd: int) -> None:
            try:
                st2 = os.fstat(sock_fd)
            except OSError:
                return  # the fd is closed: the socket is gone, and its filter with it
            if (st2.st_dev, st2.st_ino) != ident:
                return  # another file took the number: ours was closed, filter and all
            s2 = socket.socket(fileno=os.dup(sock_fd))
            try:
                s2.setsockopt(SOL_SOCKET, SO_DETACH_BPF, 0)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
            finally:
                s2.close()
        return Attachment(detach, prog_fd, f"socket fd {sock_fd}", owner=self._state,
                          program=self.name)
