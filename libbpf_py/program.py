"""BPF programs of an object: configuration before load, test runs, info and attach after load.

Wraps ``struct bpf_program``. The ``Object`` owns its programs: a Program keeps its object alive
and raises ``ClosedError`` once the object is closed. ``attach*()`` return a ``Link`` that the
object owns: the program stays attached until the Link is detached or the object closes,
whether or not the caller keeps it (docs/lifecycle.md). The ``attach_<kind>()`` methods
live in ``attach/tracing.py`` (tracing, probes, iterators) and ``attach/net.py`` (networking,
cgroups, sockets); docs/attach.md lists every kind.
"""

from __future__ import annotations

import ctypes
import errno
import os
from types import SimpleNamespace

from . import _args
from ._ffi import lib, text
from .attach.net import NetAttachMixin
from .attach.tracing import TracingAttachMixin
from .errors import (BpfError, Closeable, ClosedError, closed_instead, error_context,
                     with_context)
from .link import (
    KPROBE_SECTIONS,
    Link,
    attach_program,
    borrows_for_section,
    require_section_attachable,
)

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional

    from .enums import AttachType, ProgType
    from .object import _ObjectState

__all__ = ["Program", "PinnedProgram", "TestRunResult", "ProgramInfo", "enable_stats",
           "KPROBE_SECTIONS", "kprobes_supported"]

BPF_F_TEST_RUN_ON_CPU = 1 << 0
BPF_STATS_RUN_TIME = 0
PROG_TYPE_RAW_TRACEPOINT = 17
PROG_TYPE_SYSCALL = 31  # BPF_PROG_TYPE_SYSCALL


def kprobes_supported() -> bool:
    """Whether this kernel can create kprobes (``features.has("kprobes")``)."""
    from . import features

    return features.has("kprobes")


class TestRunResult(SimpleNamespace):
    """Result of ``Program.test_run()``: ``retval``, ``data`` (output packet, bytes),
    ``ctx`` (output context, bytes or None) and ``duration_ns`` (average per repetition)."""

    __test__ = False  # not a pytest test class


class ProgramInfo(SimpleNamespace):
    """The kernel's view of a loaded program (``bpf_prog_get_info_by_fd``).

    ``id``, ``name``, ``tag`` (hex), ``type`` (``ProgType``), ``load_time`` (ns since boot),
    ``created_by_uid``, ``map_ids``, ``xlated_size``/``jited_size`` (bytes), ``run_count`` and
    ``run_time_ns`` (counted only while ``enable_stats()`` is active), ``verified_insns``,
    ``btf_id``, ``gpl_compatible``, ``recursion_misses``.
    """


def _prog_info(fd: int) -> ProgramInfo:
    from ._ffi.attach import bpf_prog_info
    from .enums import ProgType

    info = bpf_prog_info()
    size = ctypes.c_uint32(ctypes.sizeof(info))
    lib.bpf_prog_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(size))
    nr = info.nr_map_ids
    map_ids: list[int] = []
    if nr:
        ids = (ctypes.c_uint32 * nr)()
        info2 = bpf_prog_info(nr_map_ids=nr, map_ids=ctypes.addressof(ids))
        size = ctypes.c_uint32(ctypes.sizeof(info2))
        lib.bpf_prog_get_info_by_fd(fd, ctypes.byref(info2), ctypes.byref(size))
        map_ids = list(ids[:min(nr, info2.nr_map_ids)])
    try:
        ptype: Any = ProgType(info.type)
    except ValueError:
        ptype = info.type
    return ProgramInfo(
        id=info.id, name=info.name.decode(errors="replace"), tag=bytes(info.tag).hex(),
        type=ptype, load_time=info.load_time, created_by_uid=info.created_by_uid,
        map_ids=map_ids, xlated_size=info.xlated_prog_len, jited_size=info.jited_prog_len,
        run_count=info.run_cnt, run_time_ns=info.run_time_ns,
        verified_insns=info.verified_insns, btf_id=info.btf_id,
        gpl_compatible=bool(info._flags & 1), recursion_misses=info.recursion_misses)


def _addr(buf: Optional[Any]) -> Optional[int]:
    """The address of a ctypes buffer, None (NULL) for none."""
    return ctypes.addressof(buf) if buf is not None else None


def _as_buffer(data: Any, what: str) -> Optional[Any]:
    if data is None:
        return None
    if isinstance(data, (ctypes.Structure, ctypes.Union, ctypes.Array)):
        data = bytes(data)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"test_run {what} must be bytes-like or a ctypes structure, "
                        f"not {type(data).__name__}")
    data = bytes(data)
    return ctypes.create_string_buffer(data, len(data)) if data else None


def _test_run(fd: int, name: str, data: Any, ctx: Any, repeat: int, cpu: Optional[int],
              flags: int, data_size_out: Optional[int], ctx_size_out: Optional[int],
              batch_size: int, prog_type: int) -> TestRunResult:
    from ._ffi.attach import bpf_test_run_opts
    from ._ffi.core import make_opts

    repeat, flags = _args.u32(repeat, "repeat"), _args.u32(flags, "flags")
    batch_size = _args.u32(batch_size, "batch_size")
    cpu = None if cpu is None else _args.u32(cpu, "cpu")
    if data_size_out is not None:
        data_size_out = _args.u32(data_size_out, "data_size_out")
    if ctx_size_out is not None:
        ctx_size_out = _args.u32(ctx_size_out, "ctx_size_out")
    data_in = _as_buffer(data, "data")
    ctx_in = _as_buffer(ctx, "ctx")
    n_in = len(data_in) if data_in is not None else 0
    out_size = data_size_out if data_size_out is not None else (n_in + 256 if n_in else 0)
    data_out = ctypes.create_string_buffer(out_size) if out_size else None
    c_in = len(ctx_in) if ctx_in is not None else 0
    ctx_out_size = ctx_size_out if ctx_size_out is not None else c_in
    if prog_type in (PROG_TYPE_RAW_TRACEPOINT, PROG_TYPE_SYSCALL):
        # The kernel runs raw_tp and syscall programs once, on ctx only: no repeat, no output
        # buffers (a syscall program's ctx is copied back into ctx_in).
        if repeat > 1:
            raise ValueError("raw_tp and syscall programs run once per test_run (repeat must "
                             "be 0 or 1)")
        repeat, ctx_out_size = 0, 0
    ctx_out = ctypes.create_string_buffer(ctx_out_size) if ctx_out_size else None
    if cpu is not None:
        flags |= BPF_F_TEST_RUN_ON_CPU
    # LIFETIME: the buffers are locals that outlive the synchronous call.
    opts = make_opts(bpf_test_run_opts, data_in=_addr(data_in),
                     data_size_in=n_in, data_out=_addr(data_out),
                     data_size_out=out_size, ctx_in=_addr(ctx_in),
                     ctx_size_in=c_in, ctx_out=_addr(ctx_out),
                     ctx_size_out=ctx_out_size, repeat=repeat, flags=flags,
                     cpu=cpu or 0, batch_size=batch_size)
    try:
        lib.bpf_prog_test_run_opts(fd, ctypes.byref(opts))
    except BpfError as e:
        if e.errno == errno.ENOSPC:
            e.strerror = (f"{e.strerror}: the output is larger than data_size_out="
                          f"{out_size}")
        raise with_context(e, f"test_run program '{name}'") from None
    out = data_out.raw[:opts.data_size_out] if data_out is not None else b""
    ctx_res = ctx_out.raw[:opts.ctx_size_out] if ctx_out is not None else None
    return TestRunResult(retval=opts.retval, data=out, ctx=ctx_res, duration_ns=opts.duration)


class _FdProgramMixin:
    """test_run() and info() for anything with a program fd."""

    __slots__ = ()
    name: str

    @property
    def fd(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def type(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_run(self, data: Any = b"", *, ctx: Any = None, repeat: int = 1,
                 cpu: Optional[int] = None, flags: int = 0,
                 data_size_out: Optional[int] = None, ctx_size_out: Optional[int] = None,
                 batch_size: int = 0) -> TestRunResult:
        """Run the loaded program once (or ``repeat`` times) in the kernel on ``data``
        (``bpf_prog_test_run_opts``) and return its ``TestRunResult``.

        ``ctx`` is the input context (bytes or a ctypes structure, e.g. ``struct __sk_buff`` or
        the u64 argument array of fentry/raw_tp programs); ``cpu`` runs it on that CPU (raw_tp
        only; raw_tp runs once: no ``repeat``, no output ctx); ``data_size_out`` sizes the output
        buffer (default: input + 256). Which program types can be test-run is the kernel's choice
        (XDP, TC, socket filter, tracing, raw_tp, syscall, flow_dissector, sk_lookup, struct_ops
        ...). Needs root (CAP_BPF/CAP_SYS_ADMIN).
        """
        try:
            return _test_run(self.fd, self.name, data, ctx, repeat, cpu, flags, data_size_out,
                             ctx_size_out, batch_size, int(self.type))
        except BpfError as e:
            raise closed_instead(e, getattr(self, "_state", None), f"test_run program "
                                 f"'{self.name}'") from None

    def info(self) -> ProgramInfo:
        """The kernel's view of the program (``bpf_prog_get_info_by_fd``); see ProgramInfo.

        Needs CAP_BPF (root). ``run_count``/``run_time_ns`` are 0 unless stats were enabled
        (``enable_stats()``) while the program ran.
        """
        try:
            return _prog_info(self.fd)
        except BpfError as e:
            what = f"info of program '{self.name}'"
            raise closed_instead(with_context(e, what), getattr(self, "_state", None), what
                                 ) from None


class Program(TracingAttachMixin, NetAttachMixin, _FdProgramMixin):
    """A BPF program: ``name``, ``section``, ``type``; configuration before load; ``fd``,
    ``test_run()``, ``info()``, ``pin()`` and ``attach*()`` after load."""

    __slots__ = ("_state", "_ptr", "name", "section")

    def __init__(self, state: _ObjectState, ptr: Any) -> None:
        # LIFETIME: ptr is owned by the bpf_object in state; valid until state.close().
        self._state = state
        self._ptr = ptr
        self.name: str = text(lib.bpf_program__name(ptr))
        self.section: str = text(lib.bpf_program__section_name(ptr))

    def _handle(self) -> Any:
        if self._state.closed:
            raise ClosedError(f"program '{self.name}': its object is closed")
        return self._ptr

    def _loaded_handle(self) -> Any:
        self._state.require_loaded(f"program '{self.name}'")
        ptr = self._handle()
        if lib.bpf_program__fd(ptr) < 0:
            raise BpfError(errno.ENOENT, "program was not loaded (autoload is off)",
                           f"program '{self.name}'")
        return ptr

    def _set(self, what: str, fn: Any, *args: Any) -> None:
        self._state.require_open(f"set {what} of program '{self.name}'")
        with error_context(f"set {what} of program '{self.name}'"):
            fn(self._handle(), *args)

    def __repr__(self) -> str:
        return f"<Program '{self.name}' SEC(\"{self.section}\")>"

    # --- definition (setters: before load only)

    @property
    def type(self) -> ProgType:
        """Program type (``bpf_program__type``); settable before load (``..._set_type``)."""
        from .enums import ProgType

        return ProgType(lib.bpf_program__type(self._handle()))

    @type.setter
    def type(self, value: ProgType | int) -> None:
        self._set("type", lib.bpf_program__set_type, _args.u32(value, "type"))

    @property
    def expected_attach_type(self) -> AttachType:
        """Expected attach type (``bpf_program__expected_attach_type``); settable before load."""
        from .enums import AttachType

        return AttachType(lib.bpf_program__expected_attach_type(self._handle()))

    @expected_attach_type.setter
    def expected_attach_type(self, value: AttachType | int) -> None:
        self._set("expected_attach_type", lib.bpf_program__set_expected_attach_type,
                  _args.u32(value, "expected_attach_type"))

    @property
    def flags(self) -> int:
        """Load flags (``bpf_program__flags``, ``BPF_F_SLEEPABLE`` ...); settable before load."""
        return lib.bpf_program__flags(self._handle())

    @flags.setter
    def flags(self, value: int) -> None:
        self._set("flags", lib.bpf_program__set_flags, _args.u32(value, "flags"))

    @property
    def log_level(self) -> int:
        """Verifier log level of this program (``bpf_program__log_level``); set before load."""
        return lib.bpf_program__log_level(self._handle())

    @log_level.setter
    def log_level(self, value: int) -> None:
        self._set("log_level", lib.bpf_program__set_log_level, _args.u32(value, "log_level"))

    def set_attach_target(self, function: Optional[str] = None, *,
                          program: Any = None) -> None:
        """Set the BTF attach target before load (``bpf_program__set_attach_target``).

        For fentry/fexit/fmod_ret/tp_btf/LSM: ``function`` is a kernel function (or BTF
        tracepoint / LSM hook) name; it must exist in the kernel's BTF, else ``BpfError(ENOENT)``
        names it. For freplace: ``program`` is the loaded target ``Program`` (or its fd) and
        ``function`` the global function in it to replace.
        """
        prog_fd = 0
        enc = _args.c_string(function, "function") if function is not None else None
        if program is not None:
            prog_fd = (_args.bpf_fd(program, "program", "program") if isinstance(program, int)
                       else program.fd)
        elif function is None:
            raise ValueError("set_attach_target needs a function name, a target program or both")
        elif not _vmlinux_has_func(function):
            raise BpfError(errno.ENOENT, f"no kernel function '{function}' in the kernel's BTF",
                           f"set attach target of program '{self.name}'")
        self._set("attach target", lib.bpf_program__set_attach_target, prog_fd, enc)

    @property
    def autoload(self) -> bool:
        """Whether ``load()`` loads this program (``bpf_program__autoload``); set before load."""
        return bool(lib.bpf_program__autoload(self._handle()))

    @autoload.setter
    def autoload(self, value: bool) -> None:
        self._set("autoload", lib.bpf_program__set_autoload, bool(value))

    @property
    def autoattach(self) -> bool:
        """Whether ``Object.attach()`` attaches this program (``bpf_program__autoattach``)."""
        return bool(lib.bpf_program__autoattach(self._handle()))

    @autoattach.setter
    def autoattach(self, value: bool) -> None:
        lib.bpf_program__set_autoattach(self._handle(), bool(value))

    @property
    def insn_count(self) -> int:
        """Number of BPF instructions (``bpf_program__insn_cnt``)."""
        return lib.bpf_program__insn_cnt(self._handle())

    @property
    def fd(self) -> int:
        """The program's fd after load (``bpf_program__fd``); owned by the object."""
        with self._state.lock:  # a close() from another thread waits: no read of freed memory
            return lib.bpf_program__fd(self._loaded_handle())

    # --- pinning

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the loaded program in bpffs (``bpf_program__pin``); it outlives the process
        until unpinned. Needs root; ``path`` must be on a mounted bpffs."""
        raw = _args.bpffs_path(path)
        with error_context(f"pin program '{self.name}' at '{os.fsdecode(raw)}'"):
            lib.bpf_program__pin(self._loaded_handle(), raw)

    def unpin(self, path: str | os.PathLike[str]) -> None:
        """Remove the program's pin at ``path`` (``bpf_program__unpin``)."""
        raw = _args.path(path)
        with error_context(f"unpin program '{self.name}' at '{os.fsdecode(raw)}'"):
            lib.bpf_program__unpin(self._loaded_handle(), raw)

    @staticmethod
    def from_pinned(path: str | os.PathLike[str]) -> PinnedProgram:
        """Open a program pinned in bpffs (``bpf_obj_get``) as a ``PinnedProgram`` (fd,
        ``info()``, ``test_run()``; closing it closes only our fd). Needs root."""
        return PinnedProgram.open(path)

    @staticmethod
    def from_id(prog_id: int) -> PinnedProgram:
        """Open the kernel program with id ``prog_id`` (``bpf_prog_get_fd_by_id``: an id from
        ``Program.ids()``, ``ProgramInfo.id``, ``bpftool prog`` ...) as a ``PinnedProgram``
        (fd, ``info()``, ``test_run()``; closing it closes only our fd). Needs root."""
        return PinnedProgram.open_id(prog_id)

    @staticmethod
    def ids() -> Iterator[int]:
        """Ids of every program loaded in the kernel (``bpf_prog_get_next_id``), for
        ``Program.from_id``; needs root."""
        from ._ids import kernel_ids

        return kernel_ids("prog")

    # --- attach

    def _attach(self, fn: Any, *args: Any, what: str, keep: Any = None, borrows: str = "",
                cls: Any = None) -> Any:
        return attach_program(self._loaded_handle(), self._state, self.name, fn, *args,
                              what=what, keep=keep, borrows=borrows, cls=cls)

    def attach(self, *args: Any, **kwargs: Any) -> Link:
        """Attach by the program's SEC() name (``bpf_program__attach``); returns the Link.

        Without arguments, the section must name the target (``SEC("tp/syscalls/x")``,
        ``SEC("fentry/f")``, ``SEC("uprobe/path:func")``, ``SEC("iter/task")`` ...); sections
        that don't raise ``BpfError(EOPNOTSUPP)``. With arguments, the kind is picked from
        SEC() and they are passed on: ``SEC("xdp")`` -> ``attach_xdp(*args, **kwargs)``,
        ``SEC("tcx/ingress")`` -> ``attach_tcx``, ``SEC("cgroup_skb/...")`` ->
        ``attach_cgroup`` ... (see docs/attach.md). kprobe sections raise
        ``FeatureNotSupportedError`` on a kernel without kprobes. Needs root.
        """
        if args or kwargs:
            method = _method_for_section(self.section)
            if method is None:
                raise BpfError(errno.EOPNOTSUPP, f"SEC(\"{self.section}\") has no attach "
                               "method taking arguments", f"attach program '{self.name}'")
            return getattr(self, method)(*args, **kwargs)
        require_section_attachable(self.name, self.section)
        return self._attach(lib.bpf_program__attach, what=f"SEC(\"{self.section}\")",
                            borrows=borrows_for_section(self.section))


#: SEC() prefix -> attach method used by ``Program.attach(*args, **kwargs)``.
_SECTION_METHODS = (
    ("tp_btf", "attach_trace"), ("fentry", "attach_trace"), ("fexit", "attach_trace"),
    ("fmod_ret", "attach_trace"), ("lsm", "attach_lsm"), ("freplace", "attach_freplace"),
    ("tracepoint", "attach_tracepoint"), ("tp", "attach_tracepoint"),
    ("raw_tracepoint", "attach_raw_tracepoint"), ("raw_tp", "attach_raw_tracepoint"),
    ("kprobe.multi", "attach_kprobe_multi"), ("kretprobe.multi", "attach_kprobe_multi"),
    ("kprobe", "attach_kprobe"), ("kretprobe", "attach_kprobe"),
    ("ksyscall", "attach_ksyscall"), ("kretsyscall", "attach_ksyscall"),
    ("uprobe.multi", "attach_uprobe_multi"), ("uretprobe.multi", "attach_uprobe_multi"),
    ("uprobe", "attach_uprobe"), ("uretprobe", "attach_uprobe"), ("usdt", "attach_usdt"),
    ("perf_event", "attach_perf_event"), ("iter", "attach_iter"),
    ("xdp", "attach_xdp"), ("tcx", "attach_tcx"), ("tc", "attach_tc"),
    ("classifier", "attach_tc"), ("netfilter", "attach_netfilter"),
    ("sk_lookup", "attach_netns"), ("flow_dissector", "attach_netns"),
    ("sk_skb", "attach_sockmap"), ("sk_msg", "attach_sockmap"),
    ("socket", "attach_socket"), ("cgroup", "attach_cgroup"), ("cgroup_skb", "attach_cgroup"),
    ("sockops", "attach_cgroup"),
)


def _method_for_section(section: str) -> Optional[str]:
    head = section.split("/", 1)[0].split("+", 1)[0]
    if head.endswith(".s"):
        head = head[:-2]
    for prefix, method in _SECTION_METHODS:
        if head == prefix:
            return method
    return None


def _vmlinux_has_func(name: str) -> bool:
    """Whether the kernel's BTF has function ``name`` (True when its BTF is unreadable)."""
    from ._vmlinux import BTF_KIND_FUNC, find

    found = find(name, BTF_KIND_FUNC)
    return found is None or found > 0


class PinnedProgram(_FdProgramMixin, Closeable):
    """A program opened from bpffs (``Program.from_pinned``) or by id (``Program.from_id``):
    ``fd``, ``info()``, ``test_run()``. Owns its fd (``close()``/``with``); the pin and the
    program stay."""

    __slots__ = ("_fd", "name", "path")

    def __init__(self, fd: int, name: str, path: str) -> None:
        self._fd: Optional[int] = fd
        self.name = name
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> PinnedProgram:
        raw = _args.path(path)
        p = os.fsdecode(raw)
        with error_context(f"open pinned program '{p}'"):
            fd = lib.bpf_obj_get(raw)
        try:
            _args.bpf_fd(fd, "program", f"pin '{p}'")
            name = _prog_info(fd).name
        except BpfError as e:
            os.close(fd)
            raise with_context(e, f"open pinned program '{p}' (not a program?)") from None
        except ValueError:
            os.close(fd)
            raise
        return cls(fd, name, p)

    @classmethod
    def open_id(cls, prog_id: int) -> PinnedProgram:
        """``Program.from_id``: ``path`` says "id N"."""
        prog_id = _args.u32(prog_id, "program id")
        with error_context(f"open program id {prog_id}"):
            fd = lib.bpf_prog_get_fd_by_id(prog_id)
        try:
            name = _prog_info(fd).name
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, name, f"id {prog_id}")

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise ClosedError(f"pinned program '{self.name}' ({self.path}) is closed")
        return self._fd

    @property
    def type(self) -> Any:
        """Program type (from ``info()``)."""
        return self.info().type

    def close(self) -> None:
        """Close our fd; idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> PinnedProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _left_open(self) -> bool:  # Closeable's finalizer
        return self._fd is not None

    def __repr__(self) -> str:
        return f"<PinnedProgram '{self.name}' {self.path}>"


class enable_stats:
    """Context manager: the kernel counts run_count/run_time_ns of every program while it is
    active (``bpf_enable_stats(BPF_STATS_RUN_TIME)``). Needs CAP_SYS_ADMIN (root).

    ``with libbpf_py.program.enable_stats(): ...`` then ``prog.info().run_count``.
    """

    __slots__ = ("_fd",)

    def __init__(self) -> None:
        self._fd: Optional[int] = None

    def __enter__(self) -> enable_stats:
        with error_context("enable BPF run-time stats"):
            self._fd = lib.bpf_enable_stats(BPF_STATS_RUN_TIME)
        return self

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        self.close()
