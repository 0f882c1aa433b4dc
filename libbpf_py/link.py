"""BPF links: a program attached to a hook, until ``close()``/``detach()``/``with`` or until
the object it was made from closes.

Wraps ``struct bpf_link``. Ownership is explicit (docs/lifecycle.md):

- A link made from an object's program or map (``Program.attach*()``, ``Object.attach()``,
  ``StructOpsMap.attach()``) belongs to that object: the object's one list of attachments holds
  it, so dropping the Python reference does not detach it, and ``Object.close()`` detaches it
  (as libbpf's skeletons and bcc do). A pinned link stays attached through its pin.
- Whoever creates a link says what it borrows (``borrows=``): memory of the object (USDT:
  libbpf's USDT manager; such a link is a composite of uprobes with no fd of its own) or another
  handle's fd (a struct_ops map registered without a BPF link: libbpf uses the map's fd, not a
  dup). The object detaches those first. A link without an fd of its own refuses the fd-based
  operations (``fd``, ``info()``, ``pin()``, ``update_program()``) with a clear error.
- A link opened from a pin (``Link.from_pinned``) owns itself: ``close()`` drops this process's
  reference. Left unclosed, it is closed when collected, with a ``ResourceWarning``.

Closing order never crashes: ``detach()`` is idempotent, and links, objects and programs may be
closed in any order.
"""

from __future__ import annotations

import errno
import os

from . import log
from ._ffi import lib  # _args: imported where an argument is checked (attach checks none)
from .errors import BpfError, Closeable, ClosedError, error_context, with_context

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional

    from ._linkinfo import LinkInfo
    from .maps import Map, MapBase

__all__ = ["Link", "LinkInfo", "attach_program", "attach_struct_ops", "KPROBE_SECTIONS",
           "BORROWS_OBJECT_MEMORY", "BORROWS_MAP_FD"]

#: SEC() kinds that create kprobes: kernels built without CONFIG_KPROBES can't attach them.
KPROBE_SECTIONS = ("kprobe", "kretprobe", "ksyscall", "kretsyscall", "kprobe.multi",
                   "kretprobe.multi", "kprobe.session")

#: ``Link.borrows`` values, set by whoever creates the link. Empty: the link owns its fd.
#: USDT: libbpf's USDT link is a composite of uprobe links kept in the object's USDT manager; it
#: has no fd of its own (``bpf_link__fd`` says 0) and its detach touches the object's memory.
BORROWS_OBJECT_MEMORY = "object memory"
#: struct_ops map without ``SEC(".struct_ops.link")``: libbpf's link uses the map's fd (not a
#: dup) and detaches with ``bpf_map_delete_elem`` on it.
BORROWS_MAP_FD = "map fd"

_NO_FD = {
    BORROWS_OBJECT_MEMORY: "a USDT link is a composite of uprobes (one per probe site, kept by "
                           "its object) and has no BPF link fd of its own",
    BORROWS_MAP_FD: "a struct_ops map registered without a BPF link (declare it in "
                    "SEC(\".struct_ops.link\") to get one) has no link fd: its fd is the map's",
}


def borrows_for_section(section: str) -> str:
    """What a link made by ``bpf_program__attach`` for SEC(``section``) borrows."""
    return BORROWS_OBJECT_MEMORY if section.split("/", 1)[0] == "usdt" else ""


class Link(Closeable):
    """An attachment of a program to a hook; ``close()``/``detach()``/``with`` detach it.

    Returned by ``Program.attach*()``, ``Object.attach()``, ``StructOpsMap.attach()`` (owned by
    their object: it stays attached until detached or until the object closes, whether or not
    the Link is kept) and ``Link.from_pinned()`` (owns itself).
    """

    __slots__ = ("_ptr", "_owner", "_keep", "_borrows", "_program", "description",
                 "__weakref__")

    def __init__(self, ptr: Any, owner: Any = None, description: str = "", keep: Any = None,
                 *, borrows: str = "", program: Optional[str] = None) -> None:
        # LIFETIME: ptr is ours to destroy (bpf_link__destroy). owner: the object state whose
        # program or map made the link, or None (the link owns itself). The owner's list of
        # attachments holds the Link (adopt()), and its close() detaches it: the link never
        # outlives the memory or fd it borrows. keep: Python buffers libbpf reads while the
        # link lives, if any.
        self._ptr = ptr
        self._owner = owner
        self._keep = keep
        self._borrows = borrows
        self._program = program
        self.description = description
        if owner is not None:
            owner.adopt(self)

    @classmethod
    def from_pinned(cls, path: str | os.PathLike[str]) -> Link:
        """Open a link pinned in bpffs (``bpf_link__open``); needs root or CAP_BPF.

        The Link owns itself: closing it drops this process's reference only, the pin keeps the
        link (and its program) attached until ``unpin()``.
        """
        from . import _args

        raw = _args.path(path)
        p = os.fsdecode(raw)
        with error_context(f"open pinned link '{p}'"):
            ptr = lib.bpf_link__open(raw)
        return cls(ptr, None, f"pinned at {p}")

    @staticmethod
    def from_id(link_id: int) -> Link:
        """Open the kernel link with id ``link_id`` (``bpf_link_get_fd_by_id``: an id from
        ``LinkInfo.id``, ``bpftool link`` ...); needs root (CAP_SYS_ADMIN).

        The Link owns itself (its own fd): ``close()`` drops this process's reference, and the
        link stays attached while its creator or a pin holds it. ``info()``, ``pin()``,
        ``update_program()`` work on it; left unclosed, it warns (ResourceWarning).
        """
        from . import _args

        with error_context(f"open link id {link_id}"):
            fd = lib.bpf_link_get_fd_by_id(_args.u32(link_id, "link id"))
        return _fd_link_class()(fd, None, f"id {link_id}")

    @staticmethod
    def ids() -> Iterator[int]:
        """Ids of every link in the kernel (``bpf_link_get_next_id``), for ``Link.from_id``;
        needs root."""
        from ._ids import kernel_ids

        return kernel_ids("link")

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError(f"link ({self.description}) is closed: it was detached")
        return self._ptr

    def _fd_handle(self, what: str) -> Any:
        """The bpf_link for an fd-based operation; refused for links without an fd."""
        ptr = self._handle()
        if self._borrows:
            raise BpfError(errno.EOPNOTSUPP, f"{_NO_FD[self._borrows]}; detach() (or closing "
                           "its object) detaches it", f"{what} link ({self.description})")
        return ptr

    @property
    def closed(self) -> bool:
        """True once the link was detached/closed."""
        return self._ptr is None

    @property
    def borrows(self) -> str:
        """What the link borrows from its object: ``""`` (nothing: it has its own fd),
        ``BORROWS_OBJECT_MEMORY`` (USDT) or ``BORROWS_MAP_FD`` (struct_ops without a link)."""
        return self._borrows

    @property
    def has_fd(self) -> bool:
        """Whether the link has a BPF link fd of its own (False for USDT links and struct_ops
        maps registered without a link: ``fd``, ``info()``, ``pin()`` are refused)."""
        return not self._borrows

    @property
    def program(self) -> Optional[str]:
        """The name of the program the link attached, if a program made it."""
        return self._program

    @property
    def fd(self) -> int:
        """The link's file descriptor (``bpf_link__fd``); owned by the Link. A link without an
        fd of its own (``has_fd`` False) raises ``BpfError(EOPNOTSUPP)`` saying why."""
        return self._link_fd("fd of")

    def _link_fd(self, what: str) -> int:
        return lib.bpf_link__fd(self._fd_handle(what))

    def info(self) -> LinkInfo:
        """The kernel's view of the link (``bpf_link_get_info_by_fd``): type, id, program id
        and the per-type details (see ``LinkInfo``). Needs CAP_BPF (root)."""
        from ._linkinfo import link_info

        fd = self._link_fd("info of")
        with error_context(f"info of link ({self.description})"):
            return link_info(fd)

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the link in bpffs (``bpf_link__pin``): it stays attached after its object
        closes and after this process, until ``unpin()`` (or the file is removed) and the last
        fd is closed."""
        ptr = self._fd_handle(f"pin at '{path}'")  # a link without an fd: pinned nowhere
        from . import _args

        raw = _args.bpffs_path(path)
        with error_context(f"pin link at '{os.fsdecode(raw)}'"):
            lib.bpf_link__pin(ptr, raw)

    def unpin(self) -> None:
        """Remove the link's pin (``bpf_link__unpin``)."""
        with error_context(f"unpin link ({self.description})"):
            lib.bpf_link__unpin(self._fd_handle("unpin"))

    @property
    def pin_path(self) -> Optional[str]:
        """Where the link is pinned, or None (``bpf_link__pin_path``)."""
        p = lib.bpf_link__pin_path(self._handle())
        return os.fsdecode(p) if p else None

    def update_program(self, program: Any) -> None:
        """Atomically replace the attached program (``bpf_link__update_program``).

        The new program must be loaded and of a type/attach type the link accepts (the kernel
        refuses others with EINVAL). The link stays its object's.
        """
        ptr = self._fd_handle(f"update program '{program.name}' of")
        with error_context(f"update link ({self.description}) to program "
                           f"'{program.name}'"):
            lib.bpf_link__update_program(ptr, program._loaded_handle())

    def update_map(self, map: Map) -> None:
        """Replace the struct_ops map of a struct_ops link (``bpf_link__update_map``)."""
        ptr = self._fd_handle(f"update map '{map.name}' of")
        with error_context(f"update link ({self.description}) to map"):
            lib.bpf_link__update_map(ptr, map._handle())

    def detach(self) -> None:
        """Detach the program and release the link (``bpf_link__destroy``); idempotent.

        For a link opened with ``from_pinned`` this drops our reference; the pin keeps it.
        """
        ptr, self._ptr = self._ptr, None
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.release(self)
        if ptr is not None:
            if self._borrows and owner is not None and owner.closed:
                # Unreachable while the object detaches its links before freeing (close()):
                # never let a detach touch freed memory or a closed (maybe reused) fd.
                lib.bpf_link__disconnect(ptr)
            lib.bpf_link__destroy(ptr)
        self._keep = None

    close = detach

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    # Closeable's finalizer: an object's link is collected only with its object (whose list
    # holds it) and goes with it; a standalone one was left open, and says so.
    def _left_open(self) -> bool:
        return self._ptr is not None

    def _warns(self) -> bool:
        return self._owner is None

    def __repr__(self) -> str:
        if self._ptr is None:
            state = "detached"
        elif self._borrows:
            state = f"no fd (borrows {self._borrows})"
        else:
            state = f"fd={self._link_fd('repr of')}"
        return f"<Link {self.description} {state}>"


_fd_link: Any = None  # Link.from_id's class (_fdlink.py), defined on its first call


def _fd_link_class() -> Any:
    global _fd_link
    if _fd_link is None:
        from ._fdlink import define

        _fd_link = define(Link)
    return _fd_link


def attach_program(ptr: Any, owner: Any, name: str, fn: Any, *args: Any, what: str,
                   keep: Any = None, borrows: str = "", cls: Any = None) -> Any:
    """Attach the ``struct bpf_program`` ``ptr`` with libbpf's ``fn(ptr, *args)`` (one of the
    ``bpf_program__attach*`` functions) and return the Link it makes (of class ``cls``).

    Shared by ``Program.attach*()`` and ``Object.attach()`` (which needs no Program wrappers).
    A failure raises ``BpfError`` saying which program and target, with libbpf's last warning
    (the reason libbpf printed) appended. The Link belongs to ``owner`` (the object state);
    ``borrows`` says what of it the link uses; ``keep`` (buffers libbpf reads while the link
    lives) is held by the Link. After load; needs root.
    """
    with log.capture() as messages:
        err: Optional[BpfError] = None
        try:
            link = fn(ptr, *args)
        except BpfError as e:
            err = e
    if err is not None:
        from ._attach_errors import explain  # only on failure: not on a cold start's path

        explain(err, lib.bpf_program__type(ptr), messages)
        raise with_context(err, f"attach program '{name}' {what}".rstrip()) from None
    return (cls or Link)(link, owner, what or name, keep, borrows=borrows, program=name)


def require_section_attachable(name: str, section: str) -> None:
    """Raise ``FeatureNotSupportedError`` for a kprobe SEC() on a kernel without kprobes (libbpf
    itself would fail with a less telling error)."""
    if section.split("/", 1)[0] in KPROBE_SECTIONS:
        from . import features

        features.require_kprobes(f"attach program '{name}' (SEC(\"{section}\"))")


def attach_struct_ops(map: MapBase) -> Link:
    """Register a loaded struct_ops map with the kernel (``bpf_map__attach_struct_ops``);
    ``StructOpsMap.attach()`` calls it.

    The Link belongs to the map's object: ``detach()`` or ``Object.close()`` unregisters the
    struct (e.g. a ``tcp_congestion_ops`` leaves the available algorithms). A map declared in
    ``SEC(".struct_ops.link")`` gets a real BPF link; one in ``SEC(".struct_ops")`` is registered
    by a map update and its Link borrows the map's fd (``Link.borrows``: no fd operations).
    Needs root.
    """
    ptr = map._handle()
    what = f"attach struct_ops map '{map.name}'"
    if ptr is None:  # Map.from_fd/from_pinned/from_id: no struct bpf_map to attach
        raise TypeError(f"{what}: only a struct_ops map of an object can be attached")
    owner = map._state
    owner.require_loaded(what)
    borrows = "" if lib.bpf_map__map_flags(ptr) & BPF_F_LINK else BORROWS_MAP_FD
    with error_context(what):
        link = lib.bpf_map__attach_struct_ops(ptr)
    return Link(link, owner, f"struct_ops {map.name}", borrows=borrows)


BPF_F_LINK = 1 << 13  # struct_ops map flag of SEC(".struct_ops.link")


def __getattr__(name: str) -> Any:
    # LinkInfo lives with the bpf_link_info decoding (_linkinfo.py), imported on first use:
    # attaching needs neither (cold start).
    if name == "LinkInfo":
        from ._linkinfo import LinkInfo

        return LinkInfo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
