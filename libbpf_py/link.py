"""BPF links: a program attached to a hook. Closing (or collecting) a ``Link`` detaches it.

Wraps ``struct bpf_link``. A link is independent of the object whose program it attaches: it may
outlive ``Object.close()`` (the kernel keeps the program alive while it is attached), and a
pinned link outlives the process. The one exception is USDT: libbpf's USDT link uses memory
owned by the object (its USDT manager), so such a link is detached when its object closes.

Closing order never crashes: a Link keeps its object's state referenced, ``detach()`` is
idempotent, and links, objects and programs may be closed in any order.
"""

from __future__ import annotations

import ctypes
import os
import struct
from types import SimpleNamespace

from . import log
from ._ffi import lib
from .errors import BpfError, ClosedError, with_context

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional

    from .map import Map

__all__ = ["Link", "LinkInfo", "attach_program", "attach_struct_ops", "detach_dependents",
           "KPROBE_SECTIONS"]

#: SEC() kinds that create kprobes: kernels built without CONFIG_KPROBES can't attach them.
KPROBE_SECTIONS = ("kprobe", "kretprobe", "ksyscall", "kretsyscall", "kprobe.multi",
                   "kretprobe.multi", "kprobe.session")

#: object state -> links that use memory the object owns (USDT): detached before it closes.
_dependents: Any = None


def register_dependent(state: Any, link: Link) -> None:
    """Record that ``link`` must be detached before ``state`` (an object) is closed."""
    global _dependents
    import weakref

    if _dependents is None:
        _dependents = weakref.WeakKeyDictionary()
    links = _dependents.get(state)
    if links is None:
        # _ObjectState.close() calls detach_dependents() before it frees the object.
        links = _dependents[state] = weakref.WeakSet()
    links.add(link)


def detach_dependents(state: Any) -> None:
    """Detach the links that use ``state``'s memory (call at the start of closing it)."""
    links = _dependents.get(state) if _dependents is not None else None
    if links:
        for link in list(links):
            link.detach()


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


def _string(fd: int, what: str, size: int, setup: Any) -> str:
    buf = ctypes.create_string_buffer(size)
    info = ctypes.create_string_buffer(_info_size())
    setup(info, ctypes.addressof(buf), size)
    n = ctypes.c_uint32(len(info))
    lib.bpf_link_get_info_by_fd(fd, info, ctypes.byref(n))
    return buf.value.decode(errors="replace")


def _info_size() -> int:
    from ._ffi.attach import BPF_LINK_INFO_SIZE

    return BPF_LINK_INFO_SIZE


def _link_info(fd: int) -> LinkInfo:
    from ._ffi.attach import BPF_LINK_INFO_UNION_OFFSET as U
    from .enums import AttachType, LinkType

    raw = ctypes.create_string_buffer(_info_size())
    n = ctypes.c_uint32(len(raw))
    lib.bpf_link_get_info_by_fd(fd, raw, ctypes.byref(n))
    data = raw.raw
    ltype, lid, prog_id = struct.unpack_from("=III", data)
    try:
        kind: Any = LinkType(ltype)
    except ValueError:
        kind = ltype
    d: dict[str, Any] = {}

    def u32(off: int) -> int:
        return struct.unpack_from("=I", data, U + off)[0]

    def u64(off: int) -> int:
        return struct.unpack_from("=Q", data, U + off)[0]

    def attach_type(off: int) -> Any:
        v = u32(off)
        try:
            return AttachType(v)
        except ValueError:
            return v

    def name(ptr_off: int, len_off: int, size: int = 4096) -> str:
        def setup(info: Any, addr: int, sz: int) -> None:
            struct.pack_into("=Q", info, U + ptr_off, addr)
            struct.pack_into("=I", info, U + len_off, sz)
        return _string(fd, "name", size, setup)

    if kind == LinkType.RAW_TRACEPOINT:
        d.update(tp_name=name(0, 8), cookie=u64(16))
    elif kind == LinkType.TRACING:
        d.update(attach_type=attach_type(0), target_obj_id=u32(4), target_btf_id=u32(8),
                 cookie=u64(16))
    elif kind == LinkType.CGROUP:
        d.update(cgroup_id=u64(0), attach_type=attach_type(8))
    elif kind == LinkType.ITER:
        d.update(target_name=name(0, 8), map_id=u32(12))
        if d["target_name"] == "task":
            d.update(tid=u32(16), pid=u32(20))
        elif d["target_name"] == "cgroup":
            d.update(cgroup_id=u64(16), order=u32(24))
    elif kind in (LinkType.NETNS,):
        d.update(netns_ino=u32(0), attach_type=attach_type(4))
    elif kind == LinkType.XDP:
        d.update(ifindex=u32(0))
    elif kind == LinkType.STRUCT_OPS:
        d.update(map_id=u32(0))
    elif kind == LinkType.NETFILTER:
        d.update(pf=u32(0), hooknum=u32(4), priority=struct.unpack_from("=i", data, U + 8)[0],
                 flags=u32(12))
    elif kind in (LinkType.TCX, LinkType.NETKIT):
        d.update(ifindex=u32(0), attach_type=attach_type(4))
    elif kind == LinkType.SOCKMAP:
        d.update(map_id=u32(0), attach_type=attach_type(4))
    elif kind == LinkType.KPROBE_MULTI:
        d.update(count=u32(8), flags=u32(12), missed=u64(16))
    elif kind == LinkType.UPROBE_MULTI:
        d.update(path=name(0, 32), count=u32(36), flags=u32(40), pid=u32(44))
    elif kind == LinkType.PERF_EVENT:
        ptype = _PERF_EVENT_TYPES.get(u32(0), str(u32(0)))
        d.update(perf_event_type=ptype)
        if ptype in ("uprobe", "uretprobe"):
            d.update(file_name=name(8, 16), offset=u32(20), cookie=u64(24))
        elif ptype in ("kprobe", "kretprobe"):
            d.update(func_name=name(8, 16), offset=u32(20), addr=u64(24), missed=u64(32),
                     cookie=u64(40))
        elif ptype == "tracepoint":
            d.update(tp_name=name(8, 16), cookie=u64(24))
        elif ptype == "event":
            d.update(config=u64(8), event_type=u32(16), cookie=u64(24))
    return LinkInfo(type=kind, id=lid, prog_id=prog_id, **d)


class Link:
    """An attachment of a program to a hook; ``close()``/``detach()``/``with`` detach it.

    Returned by ``Program.attach*()`` and ``Link.from_pinned()``. Keep a reference for as long as
    the program should stay attached: when the Link is garbage collected it detaches.
    """

    __slots__ = ("_ptr", "_owner", "_keep", "description", "__weakref__")

    def __init__(self, ptr: Any, owner: Any = None, description: str = "",
                 keep: Any = None) -> None:
        # LIFETIME: ptr is ours to destroy (bpf_link__destroy). owner (the object state of the
        # program, if any) is kept alive because some link kinds (USDT) use object-owned memory
        # when they detach. keep: Python buffers libbpf reads while the link lives, if any.
        self._ptr = ptr
        self._owner = owner
        self._keep = keep
        self.description = description

    @classmethod
    def from_pinned(cls, path: str | os.PathLike[str]) -> Link:
        """Open a link pinned in bpffs (``bpf_link__open``); needs root or CAP_BPF.

        Closing the returned Link drops this process's reference only: the pin keeps the link
        (and its program) attached until ``unpin()``.
        """
        p = os.fspath(path)
        try:
            ptr = lib.bpf_link__open(os.fsencode(p))
        except BpfError as e:
            raise with_context(e, f"open pinned link '{p}'") from None
        return cls(ptr, None, f"pinned at {p}")

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError(f"link ({self.description}) is closed: it was detached")
        return self._ptr

    @property
    def closed(self) -> bool:
        """True once the link was detached/closed."""
        return self._ptr is None

    @property
    def fd(self) -> int:
        """The link's file descriptor (``bpf_link__fd``); owned by the Link."""
        return lib.bpf_link__fd(self._handle())

    def info(self) -> LinkInfo:
        """The kernel's view of the link (``bpf_link_get_info_by_fd``): type, id, program id
        and the per-type details (see ``LinkInfo``). Needs CAP_BPF (root)."""
        try:
            return _link_info(self.fd)
        except BpfError as e:
            raise with_context(e, f"info of link ({self.description})") from None

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the link in bpffs (``bpf_link__pin``): it stays attached after this process,
        until ``unpin()`` (or the file is removed) and the last fd is closed."""
        try:
            lib.bpf_link__pin(self._handle(), os.fsencode(os.fspath(path)))
        except BpfError as e:
            raise with_context(e, f"pin link at '{os.fspath(path)}'") from None

    def unpin(self) -> None:
        """Remove the link's pin (``bpf_link__unpin``)."""
        try:
            lib.bpf_link__unpin(self._handle())
        except BpfError as e:
            raise with_context(e, f"unpin link ({self.description})") from None

    @property
    def pin_path(self) -> Optional[str]:
        """Where the link is pinned, or None (``bpf_link__pin_path``)."""
        p = lib.bpf_link__pin_path(self._handle())
        return os.fsdecode(p) if p else None

    def update_program(self, program: Any) -> None:
        """Atomically replace the attached program (``bpf_link__update_program``).

        The new program must be loaded and of a type/attach type the link accepts (the kernel
        refuses others with EINVAL). The Link then keeps the new program's object alive.
        """
        try:
            lib.bpf_link__update_program(self._handle(), program._loaded_handle())
        except BpfError as e:
            raise with_context(e, f"update link ({self.description}) to program "
                                  f"'{program.name}'") from None
        self._owner = program._state

    def update_map(self, map: Map) -> None:
        """Replace the struct_ops map of a struct_ops link (``bpf_link__update_map``)."""
        try:
            lib.bpf_link__update_map(self._handle(), map._handle())
        except BpfError as e:
            raise with_context(e, f"update link ({self.description}) to map") from None

    def detach(self) -> None:
        """Detach the program and release the link (``bpf_link__destroy``); idempotent.

        For a link opened with ``from_pinned`` this drops our reference; the pin keeps it.
        """
        ptr, self._ptr = self._ptr, None
        owner, self._owner = self._owner, None
        if ptr is not None:
            if owner is not None and getattr(owner, "closed", False) and \
                    self.description.startswith("usdt"):
                # The object freed the USDT manager this link's detach would touch: skip the
                # detach step (no use after free), free the link structure only.
                lib.bpf_link__disconnect(ptr)
            lib.bpf_link__destroy(ptr)
        self._keep = None

    close = detach

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def __del__(self) -> None:
        # Safety net only: close()/with is the API.
        try:
            if self._ptr is not None:
                self.detach()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    def __repr__(self) -> str:
        state = "detached" if self._ptr is None else f"fd={lib.bpf_link__fd(self._ptr)}"
        return f"<Link {self.description} {state}>"


def attach_program(ptr: Any, owner: Any, name: str, fn: Any, *args: Any, what: str,
                   keep: Any = None) -> Link:
    """Attach the ``struct bpf_program`` ``ptr`` with libbpf's ``fn(ptr, *args)`` (one of the
    ``bpf_program__attach*`` functions) and return the Link it makes.

    Shared by ``Program.attach*()`` and ``Object.attach()`` (which needs no Program wrappers).
    A failure raises ``BpfError`` saying which program and target, with libbpf's last warning
    (the reason libbpf printed) appended. ``owner`` (the object state) and ``keep`` (buffers
    libbpf reads while the link lives) are held by the Link. After load; needs root.
    """
    with log.capture() as messages:
        err: Optional[BpfError] = None
        try:
            link = fn(ptr, *args)
        except BpfError as e:
            err = e
    if err is not None:
        warnings = [m.strip().removeprefix("libbpf: ") for lvl, m in messages
                    if lvl == 0 and m.strip()]
        if warnings:
            err.strerror = f"{err.strerror}; libbpf: {warnings[-1]}"
        raise with_context(err, f"attach program '{name}' {what}".rstrip()) from None
    return Link(link, owner, what or name, keep)


def require_section_attachable(name: str, section: str) -> None:
    """Raise ``FeatureNotSupportedError`` for a kprobe SEC() on a kernel without kprobes (libbpf
    itself would fail with a less telling error)."""
    if section.split("/", 1)[0] in KPROBE_SECTIONS:
        from .attach_tracing import _require_kprobes

        _require_kprobes(f"attach program '{name}' (SEC(\"{section}\"))")


def attach_struct_ops(map: Map) -> Link:
    """Register a loaded struct_ops map with the kernel (``bpf_map__attach_struct_ops``).

    For ``SEC(".struct_ops.link")`` maps the Link unregisters it when closed (e.g. a
    ``tcp_congestion_ops`` disappears from the available algorithms). Needs root.
    """
    ptr = map._handle()
    name = lib.bpf_map__name(ptr).decode()
    state = getattr(map, "_state", None)
    if state is not None and not getattr(state, "loaded", True):
        raise BpfError(22, "the object is not loaded yet (call load() first)",
                       f"attach struct_ops map '{name}'")
    try:
        link = lib.bpf_map__attach_struct_ops(ptr)
    except BpfError as e:
        raise with_context(e, f"attach struct_ops map '{name}'") from None
    return Link(link, state, f"struct_ops {name}")
