"""BPF programs of an object: configuration before load, attach after load.

Wraps ``struct bpf_program``. The ``Object`` owns its programs: a Program keeps its object alive
and raises ``ClosedError`` once the object is closed. ``attach*()`` return a ``Link`` that the
caller owns: the program stays attached while the Link is open.
"""

from __future__ import annotations

import errno
import os

from . import features
from ._ffi import lib
from ._ffi.types import (
    bpf_kprobe_opts,
    bpf_raw_tracepoint_opts,
    bpf_tracepoint_opts,
    make_opts,
)
from .errors import BpfError, ClosedError, FeatureNotSupportedError, with_context
from .link import Link

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any

    from .enums import AttachType, ProgType
    from .object import _ObjectState

__all__ = ["Program"]

KPROBE_SECTIONS = ("kprobe", "kretprobe", "ksyscall", "kretsyscall", "kprobe.multi",
                   "kretprobe.multi", "kprobe.session")


def kprobes_supported() -> bool:
    """Whether this kernel can create kprobes (``features.has("kprobes")``)."""
    return features.has("kprobes")


def _tracefs_mounted() -> bool:
    return features.tracefs_path() is not None


def _require_kprobes(what: str) -> None:
    if not kprobes_supported():
        detail = ("no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in "
                  "tracefs: the kernel was built without CONFIG_KPROBES")
        if not _tracefs_mounted():
            detail += " (or tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing)"
        raise FeatureNotSupportedError("kprobes", context=what, detail=detail)


class Program:
    """A BPF program: ``name``, ``section``, ``type``; ``autoload`` before load; ``fd`` and
    ``attach*()`` after load."""

    __slots__ = ("_state", "_ptr", "name", "section")

    def __init__(self, state: _ObjectState, ptr: Any) -> None:
        # LIFETIME: ptr is owned by the bpf_object in state; valid until state.close().
        self._state = state
        self._ptr = ptr
        self.name: str = lib.bpf_program__name(ptr).decode()
        self.section: str = lib.bpf_program__section_name(ptr).decode()

    def _handle(self) -> Any:
        if self._state.closed:
            raise ClosedError(f"program '{self.name}': its object is closed")
        return self._ptr

    def _loaded_handle(self) -> Any:
        self._state.require_loaded(f"program '{self.name}'")
        return self._handle()

    def __repr__(self) -> str:
        return f"<Program '{self.name}' SEC(\"{self.section}\")>"

    # --- definition

    @property
    def type(self) -> ProgType:
        """Program type (``bpf_program__type``)."""
        from .enums import ProgType

        return ProgType(lib.bpf_program__type(self._handle()))

    @property
    def expected_attach_type(self) -> AttachType:
        """Expected attach type (``bpf_program__expected_attach_type``)."""
        from .enums import AttachType

        return AttachType(lib.bpf_program__expected_attach_type(self._handle()))

    @property
    def autoload(self) -> bool:
        """Whether ``load()`` loads this program (``bpf_program__autoload``); set before load."""
        return bool(lib.bpf_program__autoload(self._handle()))

    @autoload.setter
    def autoload(self, value: bool) -> None:
        self._state.require_open(f"set autoload of program '{self.name}'")
        lib.bpf_program__set_autoload(self._handle(), bool(value))

    @property
    def insn_count(self) -> int:
        """Number of BPF instructions (``bpf_program__insn_cnt``)."""
        return lib.bpf_program__insn_cnt(self._handle())

    @property
    def fd(self) -> int:
        """The program's fd after load (``bpf_program__fd``); owned by the object."""
        fd = lib.bpf_program__fd(self._loaded_handle())
        if fd < 0:
            raise BpfError(errno.ENOENT, "program was not loaded (autoload is off)",
                           f"program '{self.name}'")
        return fd

    # --- attach

    def _attach(self, fn: Any, *args: Any, what: str) -> Link:
        try:
            ptr = fn(self._loaded_handle(), *args)
        except BpfError as e:
            raise with_context(e, f"attach program '{self.name}' {what}".rstrip()) from None
        return Link(ptr, self._state, f"{self.name} -> {what}" if what else self.name)

    def attach(self) -> Link:
        """Attach by the program's SEC() name (``bpf_program__attach``); returns the Link.

        Raises ``BpfError(EOPNOTSUPP)`` for sections that don't say where to attach (use an
        ``attach_<kind>()`` method), and ``FeatureNotSupportedError`` for kprobe sections on a
        kernel without kprobes. Needs root (CAP_BPF + CAP_PERFMON for tracing).
        """
        if self.section.split("/", 1)[0] in KPROBE_SECTIONS:
            _require_kprobes(f"attach program '{self.name}' (SEC(\"{self.section}\"))")
        return self._attach(lib.bpf_program__attach, what=f"SEC(\"{self.section}\")")

    def attach_tracepoint(self, category: str, name: str, *, cookie: int = 0) -> Link:
        """Attach to tracepoint ``category:name`` (``bpf_program__attach_tracepoint_opts``).

        ``cookie`` is readable in BPF with ``bpf_get_attach_cookie()``. Needs tracefs for the
        tracepoint id (mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing).
        """
        what = f"tracepoint {category}:{name}"
        tracefs = features.tracefs_path()
        if tracefs and not os.path.isdir(os.path.join(tracefs, "events", category, name)):
            raise BpfError(errno.ENOENT, f"no tracepoint {category}:{name} in tracefs",
                           f"attach program '{self.name}'")
        opts = make_opts(bpf_tracepoint_opts, bpf_cookie=cookie)
        return self._attach(lib.bpf_program__attach_tracepoint_opts, category.encode(),
                            name.encode(), opts, what=what)

    def attach_raw_tracepoint(self, name: str, *, cookie: int = 0) -> Link:
        """Attach to raw tracepoint ``name`` (``bpf_program__attach_raw_tracepoint_opts``)."""
        opts = make_opts(bpf_raw_tracepoint_opts, cookie=cookie)
        return self._attach(lib.bpf_program__attach_raw_tracepoint_opts, name.encode(), opts,
                            what=f"raw tracepoint {name}")

    def attach_kprobe(self, symbol: str, *, offset: int = 0, retprobe: bool = False,
                      cookie: int = 0) -> Link:
        """Attach a kprobe/kretprobe to kernel function ``symbol`` (``..._attach_kprobe_opts``).

        Raises ``FeatureNotSupportedError`` on kernels built without kprobes.
        """
        what = f"{'kretprobe' if retprobe else 'kprobe'} {symbol}+{offset}"
        _require_kprobes(f"attach program '{self.name}' to {what}")
        opts = make_opts(bpf_kprobe_opts, bpf_cookie=cookie, offset=offset, retprobe=retprobe)
        return self._attach(lib.bpf_program__attach_kprobe_opts, symbol.encode(), opts,
                            what=what)

    def attach_trace(self) -> Link:
        """Attach fentry/fexit/fmod_ret/tp_btf/LSM programs (``bpf_program__attach_trace``)."""
        return self._attach(lib.bpf_program__attach_trace, what="trace")
