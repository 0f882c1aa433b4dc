"""What the kernel says about a link: ``struct bpf_link_info`` decoded into a ``LinkInfo``.

``Link.info()`` uses it (``bpf_link_get_info_by_fd``; ``python -m libbpf_py link list``
through it). Imported on first use: attaching never loads it. Needs CAP_BPF (root).
"""

from __future__ import annotations

import ctypes
from types import SimpleNamespace

from ._ffi import lib

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._ffi.attach import bpf_link_info

__all__ = ["LinkInfo", "link_info"]


# enum bpf_perf_event_type (UAPI)
_PERF_EVENT_TYPES = {1: "uprobe", 2: "uretprobe", 3: "kprobe", 4: "kretprobe", 5: "tracepoint",
                     6: "event"}


class LinkInfo(SimpleNamespace):
    """What the kernel says about a link (``bpf_link_get_info_by_fd``).

    Always ``type`` (``LinkType``), ``id``, ``prog_id``; then the per-type details of
    ``struct bpf_link_info`` as attributes, e.g. ``tp_name`` and ``cookie`` for raw tracepoints,
    ``ifindex`` for XDP, ``cgroup_id``/``attach_type`` for cgroups, ``target_name`` and
    ``map_id``/``pid`` for iterators, ``path``/``count``/``pid`` for uprobe_multi,
    ``perf_event_type`` and ``file_name``/``offset``/``cookie`` for uprobes ...
    """


def _get_info(fd: int, info: bpf_link_info) -> bpf_link_info:
    n = ctypes.c_uint32(ctypes.sizeof(info))
    lib.bpf_link_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(n))
    return info


def link_info(fd: int) -> LinkInfo:
    """What the kernel says about the link ``fd`` (``bpf_link_get_info_by_fd`` into
    ``struct bpf_link_info``): the common fields and the union member of the link's type."""
    from ._ffi.attach import bpf_link_info
    from .enums import AttachType, LinkType

    info = _get_info(fd, bpf_link_info())
    try:
        kind: Any = LinkType(info.type)
    except ValueError:
        kind = info.type
    d: dict[str, Any] = {}

    def attach_type(v: int) -> Any:
        try:
            return AttachType(v)
        except ValueError:
            return v

    def name(member: Callable[[Any], Any], ptr: str, length: str, size: int = 4096) -> str:
        # The kernel copies a string only into a buffer the caller gives: ask again with one.
        buf = ctypes.create_string_buffer(size)
        again = bpf_link_info()
        sub = member(again)  # a view into `again`
        setattr(sub, ptr, ctypes.addressof(buf))
        setattr(sub, length, size)
        _get_info(fd, again)
        return buf.value.decode(errors="replace")

    if kind == LinkType.RAW_TRACEPOINT:
        rt = info.raw_tracepoint
        d.update(tp_name=name(lambda i: i.raw_tracepoint, "tp_name", "tp_name_len"),
                 cookie=rt.cookie)
    elif kind == LinkType.TRACING:
        tr = info.tracing
        d.update(attach_type=attach_type(tr.attach_type), target_obj_id=tr.target_obj_id,
                 target_btf_id=tr.target_btf_id, cookie=tr.cookie)
    elif kind == LinkType.CGROUP:
        d.update(cgroup_id=info.cgroup.cgroup_id,
                 attach_type=attach_type(info.cgroup.attach_type))
    elif kind == LinkType.ITER:
        it = info.iter
        d.update(target_name=name(lambda i: i.iter, "target_name", "target_name_len"),
                 map_id=it.map.map_id)
        if d["target_name"] == "task":
            d.update(tid=it.task.tid, pid=it.task.pid)
        elif d["target_name"] == "cgroup":
            d.update(cgroup_id=it.cgroup.cgroup_id, order=it.cgroup.order)
    elif kind == LinkType.NETNS:
        d.update(netns_ino=info.netns.netns_ino, attach_type=attach_type(info.netns.attach_type))
    elif kind == LinkType.XDP:
        d.update(ifindex=info.xdp.ifindex)
    elif kind == LinkType.STRUCT_OPS:
        d.update(map_id=info.struct_ops.map_id)
    elif kind == LinkType.NETFILTER:
        nf = info.netfilter
        d.update(pf=nf.pf, hooknum=nf.hooknum, priority=nf.priority, flags=nf.flags)
    elif kind in (LinkType.TCX, LinkType.NETKIT):
        dev = info.tcx if kind == LinkType.TCX else info.netkit
        d.update(ifindex=dev.ifindex, attach_type=attach_type(dev.attach_type))
    elif kind == LinkType.SOCKMAP:
        d.update(map_id=info.sockmap.map_id, attach_type=attach_type(info.sockmap.attach_type))
    elif kind == LinkType.KPROBE_MULTI:
        km = info.kprobe_multi
        d.update(count=km.count, flags=km.flags, missed=km.missed)
    elif kind == LinkType.UPROBE_MULTI:
        um = info.uprobe_multi
        d.update(path=name(lambda i: i.uprobe_multi, "path", "path_size"), count=um.count,
                 flags=um.flags, pid=um.pid)
    elif kind == LinkType.PERF_EVENT and info.perf_event.type:  # 0: before 6.6, nothing more
        pe = info.perf_event
        ptype = _PERF_EVENT_TYPES.get(pe.type, str(pe.type))
        d.update(perf_event_type=ptype)
        if ptype in ("uprobe", "uretprobe"):
            d.update(file_name=name(lambda i: i.perf_event.uprobe, "file_name", "name_len"),
                     offset=pe.uprobe.offset, cookie=pe.uprobe.cookie)
        elif ptype in ("kprobe", "kretprobe"):
            d.update(func_name=name(lambda i: i.perf_event.kprobe, "func_name", "name_len"),
                     offset=pe.kprobe.offset, addr=pe.kprobe.addr, missed=pe.kprobe.missed,
                     cookie=pe.kprobe.cookie)
        elif ptype == "tracepoint":
            d.update(tp_name=name(lambda i: i.perf_event.tracepoint, "tp_name", "name_len"),
                     cookie=pe.tracepoint.cookie)
        elif ptype == "event":
            d.update(config=pe.event.config, event_type=pe.event.type, cookie=pe.event.cookie)
    return LinkInfo(type=kind, id=info.id, prog_id=info.prog_id, **d)
