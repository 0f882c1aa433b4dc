"""Attach methods of ``Program`` for tracing: tracepoints, BTF tracing, LSM, freplace, k/uprobes,
USDT, perf events and BPF iterators. Mixed into ``Program`` (program.py); docs/attach.md lists
every kind with its SEC() names, options, minimum kernel and privileges.

Every method returns a ``Link`` that the program's object owns: it stays attached until
detached (``close()``/``detach()``/``with``) or until the object closes. Cheap checks run before
libbpf is called, so a missing target is named in the error (a tracepoint not in tracefs, a
function not in the kernel's BTF, a binary that doesn't exist, a kernel without kprobes).
"""

from __future__ import annotations

import ctypes
import errno
import os

from .. import _args
from .._ffi import lib, text
from ..errors import BpfError, FeatureNotSupportedError, with_context
from ..link import KPROBE_SECTIONS, Link

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Optional

    from ..maps import Map

__all__ = ["TracingAttachMixin", "IterLink", "KPROBE_SECTIONS"]

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_CPU_CLOCK = 0


_BTF_KIND_TYPEDEF = 8  # linux/btf.h


def _btf_has(name: str, kind: int) -> bool:
    """Whether vmlinux BTF has a type ``name`` of BTF ``kind`` (True if BTF is unreadable)."""
    from .._vmlinux import find

    found = find(name, kind)
    return found is None or found > 0


# Attach types whose programs run on a BPF trampoline (enum bpf_attach_type): fentry, fexit,
# fmod_ret, LSM; freplace programs (BPF_PROG_TYPE_EXT) too.
_TRAMPOLINE_ATTACH = {24: "fentry", 25: "fexit", 26: "fmod_ret", 27: "lsm", 43: "lsm_cgroup"}
_PROG_TYPE_EXT = 28
_PROG_TYPE_TRACING, _PROG_TYPE_LSM = 26, 29


def explain_load_error(obj: Any, err: BpfError, text: str, label: str) -> Optional[BpfError]:
    """A clearer error than libbpf's for two load failures of tracing programs, or None.

    - A kernel function the program targets is gone (renamed, inlined: ``do_unlinkat`` on 7.2):
      libbpf says ESRCH "failed to find kernel BTF type ID": name the function and the program.
    - The kernel refuses trampoline programs (fentry, fexit, fmod_ret, LSM, freplace) with EPERM
      before verification (lockdown): ``FeatureNotSupportedError("trampolines")`` naming the
      program, as kprobes get on kernels without them.
    ``obj`` is the ``struct bpf_object``, ``text`` what libbpf printed during the load.
    """
    import re

    found = re.search(r"prog '([^']+)': failed to find kernel BTF type ID of '([^']+)'", text)
    if found is not None:
        prog, func = found.groups()
        return BpfError(
            errno.ENOENT,
            f"no kernel function '{func}' in the running kernel's BTF for program '{prog}' "
            f"(SEC(\"{_section(obj, prog)}\")): it is renamed, inlined or not built in this "
            "kernel; pick the target before load (features.fentry(), "
            "Program.set_attach_target())", f"load object '{label}'")
    if err.errno != errno.EPERM:
        return None
    from .. import features

    for found in re.finditer(r"prog '([^']+)': (?:BPF program load failed|failed to load)",
                             text):
        prog = found.group(1)
        ptr = lib.bpf_object__find_program_by_name(obj, prog.encode())
        if not ptr or not _needs_trampoline(ptr) or features.has("trampolines"):
            continue
        lockdown = _read_lockdown()
        detail = ("this kernel refuses every fentry, fexit, fmod_ret, LSM and freplace program "
                  "with EPERM before verifying it; features.has('trampolines') is False"
                  + (f"; kernel lockdown: {lockdown}" if lockdown else ""))
        return FeatureNotSupportedError(
            "trampolines", errno.EPERM,
            f"load object '{label}': program '{prog}' (SEC(\"{_section(obj, prog)}\"))", detail)
    return None


def _needs_trampoline(prog: Any) -> bool:
    ptype = lib.bpf_program__type(prog)
    if ptype == _PROG_TYPE_EXT:
        return True
    return ptype in (_PROG_TYPE_TRACING, _PROG_TYPE_LSM) and \
        lib.bpf_program__expected_attach_type(prog) in _TRAMPOLINE_ATTACH


def _section(obj: Any, prog: str) -> str:
    ptr = lib.bpf_object__find_program_by_name(obj, prog.encode())
    return text(lib.bpf_program__section_name(ptr) or b"?") if ptr else "?"


def _read_lockdown() -> str:
    """The active lockdown mode ("integrity"), or "" when none or unknown."""
    try:
        with open("/sys/kernel/security/lockdown") as f:
            text = f.read()
    except OSError:
        return ""
    import re

    found = re.search(r"\[(\w+)\]", text)
    return "" if found is None or found.group(1) == "none" else found.group(1)


def _check_binary(binary: str, what: str) -> bytes:
    raw = _args.path(binary, "binary")
    if b"/" in raw and not os.path.exists(raw):
        raise BpfError(errno.ENOENT, f"no such binary '{binary}'", what)
    return raw


def _u64_array(values: Optional[Sequence[int]], cnt: int, what: str) -> Any:
    if values is None:
        return None
    if len(values) != cnt:
        raise ValueError(f"{what}: {len(values)} values for {cnt} targets")
    return (ctypes.c_uint64 * cnt)(*values)


class IterLink(Link):
    """A BPF iterator's link: every ``read()`` / ``read_text()`` / ``open()`` runs the iterator
    once over the kernel objects (``bpf_iter_create``) and gives what it wrote."""

    __slots__ = ()

    def open(self) -> Any:
        """A new binary file object reading one pass of the iterator; close it when done."""
        try:
            fd = lib.bpf_iter_create(self.fd)
        except BpfError as e:
            raise with_context(e, f"create iterator ({self.description})") from None
        return os.fdopen(fd, "rb", buffering=0)

    def read(self) -> bytes:
        """One full pass of the iterator, as bytes (what ``bpf_seq_write`` wrote)."""
        chunks = []
        with self.open() as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    def read_text(self, encoding: str = "utf-8") -> str:
        """One full pass of the iterator, decoded (what ``BPF_SEQ_PRINTF`` wrote)."""
        return self.read().decode(encoding)


class TracingAttachMixin:
    """``attach_*`` methods for tracing program kinds (see the module docstring)."""

    __slots__ = ()
    name: str
    section: str
    _attach: Any
    _state: Any
    _loaded_handle: Any

    # --- tracepoints

    def attach_tracepoint(self, category: str, name: str, *, cookie: int = 0) -> Link:
        """Attach to tracepoint ``category:name`` (``bpf_program__attach_tracepoint_opts``).

        ``cookie`` is readable in BPF with ``bpf_get_attach_cookie()``. The tracepoint must
        exist in tracefs (checked first: ``BpfError(ENOENT)`` names it). Needs root.
        """
        from .. import features

        what = f"tracepoint {category}:{name}"
        cat_raw, name_raw = _args.c_string(category, "category"), _args.c_string(name, "name")
        tracefs = features.tracefs_path()
        if tracefs and not os.path.isdir(os.path.join(tracefs, "events", category, name)):
            raise BpfError(errno.ENOENT, f"no tracepoint {category}:{name} in tracefs",
                           f"attach program '{self.name}'")
        from .._ffi.attach import bpf_tracepoint_opts
        from .._ffi.core import make_opts

        opts = make_opts(bpf_tracepoint_opts, bpf_cookie=cookie)
        return self._attach(lib.bpf_program__attach_tracepoint_opts, cat_raw, name_raw,
                            ctypes.byref(opts), what=what)

    def attach_raw_tracepoint(self, name: str, *, cookie: int = 0) -> Link:
        """Attach to raw tracepoint ``name`` (``bpf_program__attach_raw_tracepoint_opts``).

        The kernel must declare it (``btf_trace_<name>`` in its BTF: checked first). ``cookie``
        needs Linux 6.10. Needs root.
        """
        if not _btf_has(f"btf_trace_{name}", _BTF_KIND_TYPEDEF):
            raise BpfError(errno.ENOENT, f"no raw tracepoint '{name}' in the kernel's BTF",
                           f"attach program '{self.name}'")
        from .._ffi.attach import bpf_raw_tracepoint_opts
        from .._ffi.core import make_opts

        opts = make_opts(bpf_raw_tracepoint_opts, cookie=cookie)
        return self._attach(lib.bpf_program__attach_raw_tracepoint_opts, name.encode(),
                            ctypes.byref(opts), what=f"raw tracepoint {name}")

    # --- BTF-based tracing: fentry/fexit/fmod_ret/tp_btf, LSM, freplace

    def attach_trace(self, *, cookie: int = 0) -> Link:
        """Attach fentry/fexit/fmod_ret/tp_btf programs to the target chosen at load (SEC() or
        ``set_attach_target``) (``bpf_program__attach_trace_opts``). ``cookie`` needs 6.6.
        Needs root."""
        from .._ffi.attach import bpf_trace_opts
        from .._ffi.core import make_opts

        opts = make_opts(bpf_trace_opts, cookie=cookie)
        return self._attach(lib.bpf_program__attach_trace_opts, ctypes.byref(opts),
                            what=f"trace SEC(\"{self.section}\")")

    def attach_lsm(self) -> Link:
        """Attach a BPF LSM program to its hook (``bpf_program__attach_lsm``). The kernel must
        run with ``bpf`` in its LSM list (checked). Needs root."""
        from .. import features

        if not features.has("bpf_lsm"):
            raise FeatureNotSupportedError("BPF LSM", context=f"attach program '{self.name}'",
                                           detail="'bpf' is not in /sys/kernel/security/lsm")
        return self._attach(lib.bpf_program__attach_lsm, what=f"lsm SEC(\"{self.section}\")")

    def attach_freplace(self, target: Any, function: str) -> Link:
        """Replace global function ``function`` of loaded program ``target`` (a ``Program`` or
        a program fd) with this extension program (``bpf_program__attach_freplace``).

        The program must have been loaded against that target (``set_attach_target`` before
        load). Needs root.
        """
        fd = target if isinstance(target, int) else target.fd
        return self._attach(lib.bpf_program__attach_freplace, fd, function.encode(),
                            what=f"freplace {function}")

    # --- kprobes (kernels with CONFIG_KPROBES)

    def attach_kprobe(self, symbol: str, *, offset: int = 0, retprobe: bool = False,
                      cookie: int = 0) -> Link:
        """Attach a kprobe/kretprobe to kernel function ``symbol`` (``..._attach_kprobe_opts``).

        Raises ``FeatureNotSupportedError`` on kernels built without kprobes. Needs root.
        """
        what = f"{'kretprobe' if retprobe else 'kprobe'} {symbol}+{offset}"
        from ..features import require_kprobes

        require_kprobes(f"attach program '{self.name}' to {what}")
        from .._ffi.attach import bpf_kprobe_opts
        from .._ffi.core import make_opts

        opts = make_opts(bpf_kprobe_opts, bpf_cookie=cookie, offset=offset, retprobe=retprobe)
        return self._attach(lib.bpf_program__attach_kprobe_opts, symbol.encode(),
                            ctypes.byref(opts), what=what)

    def attach_kprobe_multi(self, pattern: Optional[str] = None, *,
                            symbols: Optional[Sequence[str]] = None,
                            cookies: Optional[Sequence[int]] = None, retprobe: bool = False,
                            session: bool = False, unique_match: bool = False) -> Link:
        """Attach to many kernel functions at once by glob ``pattern`` or ``symbols``
        (``bpf_program__attach_kprobe_multi_opts``); ``cookies`` one per symbol. Needs kprobes
        (``FeatureNotSupportedError`` otherwise), Linux 5.18, root."""
        what = f"kprobe.multi {pattern or ','.join(symbols or ())}"
        from ..features import require_kprobes

        require_kprobes(f"attach program '{self.name}' to {what}")
        if (pattern is None) == (symbols is None):
            raise ValueError("attach_kprobe_multi needs either a pattern or symbols")
        from .._ffi.attach import bpf_kprobe_multi_opts
        from .._ffi.core import make_opts

        syms = None
        cnt = 0
        if symbols is not None:
            cnt = len(symbols)
            syms = (ctypes.c_char_p * cnt)(*(s.encode() for s in symbols))
        cks = _u64_array(cookies, cnt, "cookies")
        opts = make_opts(bpf_kprobe_multi_opts, syms=syms, cookies=cks, cnt=cnt,
                         retprobe=retprobe, session=session, unique_match=unique_match)
        pat = pattern.encode() if pattern is not None else None
        return self._attach(lib.bpf_program__attach_kprobe_multi_opts, pat, ctypes.byref(opts),
                            what=what, keep=(syms, cks))

    def attach_ksyscall(self, syscall: str, *, retprobe: bool = False, cookie: int = 0) -> Link:
        """Attach a kprobe to syscall ``syscall``'s kernel entry, whatever its arch-specific
        name (``bpf_program__attach_ksyscall``). Needs kprobes (``FeatureNotSupportedError``
        otherwise), root."""
        what = f"{'kretsyscall' if retprobe else 'ksyscall'} {syscall}"
        from ..features import require_kprobes

        require_kprobes(f"attach program '{self.name}' to {what}")
        from .._ffi.attach import bpf_ksyscall_opts
        from .._ffi.core import make_opts

        opts = make_opts(bpf_ksyscall_opts, bpf_cookie=cookie, retprobe=retprobe)
        return self._attach(lib.bpf_program__attach_ksyscall, syscall.encode(),
                            ctypes.byref(opts), what=what)

    # --- uprobes and USDT

    def attach_uprobe(self, binary: str, symbol: Optional[str] = None, *, offset: int = 0,
                      pid: int = -1, retprobe: bool = False, cookie: int = 0,
                      ref_ctr_offset: int = 0) -> Link:
        """Attach a uprobe/uretprobe (``bpf_program__attach_uprobe_opts``).

        ``binary``: a path, or a library name libbpf finds (``"libc.so.6"``); ``symbol``: a
        function name (``"malloc"``, ``"malloc@GLIBC_2.2.5"``), then ``offset`` is added to it;
        without ``symbol``, ``offset`` is the file offset of the probed instruction. ``pid``
        (libbpf's meaning): -1 (the default) every process that runs the code, 0 this process,
        N process N only (all its threads). Needs root.
        """
        what = (f"{'uretprobe' if retprobe else 'uprobe'} {binary}:"
                f"{symbol or ''}{'+' if symbol and offset else ''}"
                f"{hex(offset) if offset or not symbol else ''}")
        ctx = f"attach program '{self.name}' to {what}"
        pid, offset = _args.s32(pid, "pid", -1), _args.u64(offset, "offset")
        from ..features import require_uprobes

        require_uprobes(ctx)
        path = _check_binary(binary, ctx)
        from .._ffi.attach import bpf_uprobe_opts
        from .._ffi.core import make_opts

        func = symbol.encode() if symbol else None
        opts = make_opts(bpf_uprobe_opts, bpf_cookie=cookie, retprobe=retprobe, func_name=func,
                         ref_ctr_offset=ref_ctr_offset)
        return self._attach(lib.bpf_program__attach_uprobe_opts, pid, path, offset,
                            ctypes.byref(opts), what=what, keep=func)

    def attach_uprobe_multi(self, binary: str, pattern: Optional[str] = None, *,
                            symbols: Optional[Sequence[str]] = None,
                            offsets: Optional[Sequence[int]] = None,
                            cookies: Optional[Sequence[int]] = None, pid: int = -1,
                            retprobe: bool = False, session: bool = False) -> Link:
        """Attach to many functions of ``binary`` at once (``bpf_program__attach_uprobe_multi``):
        by glob ``pattern`` (``"lib_*"``), by ``symbols`` or by file ``offsets``; ``cookies``
        one per symbol/offset. ``pid``: -1 every process, 0 this process, N process N (as
        ``attach_uprobe``). Needs Linux 6.6, root."""
        what = f"uprobe.multi {binary}:{pattern or ','.join(symbols or ()) or 'offsets'}"
        ctx = f"attach program '{self.name}' to {what}"
        from ..features import require_uprobes

        require_uprobes(ctx)
        path = _check_binary(binary, ctx)
        if pattern is not None and (symbols is not None or offsets is not None):
            raise ValueError("attach_uprobe_multi takes a pattern, or symbols/offsets, not both")
        if pattern is None and symbols is None and offsets is None:
            raise ValueError("attach_uprobe_multi needs a pattern, symbols or offsets")
        if symbols is not None and offsets is not None and len(symbols) != len(offsets):
            raise ValueError("attach_uprobe_multi: symbols and offsets differ in length")
        from .._ffi.attach import bpf_uprobe_multi_opts
        from .._ffi.core import make_opts

        cnt = len(symbols) if symbols is not None else len(offsets) if offsets is not None else 0
        syms = (ctypes.c_char_p * cnt)(*(s.encode() for s in symbols)) if symbols else None
        offs = (ctypes.c_ulong * cnt)(*offsets) if offsets is not None else None
        cks = _u64_array(cookies, cnt, "cookies")
        opts = make_opts(bpf_uprobe_multi_opts, syms=syms, offsets=offs, cookies=cks, cnt=cnt,
                         retprobe=retprobe, session=session)
        pat = pattern.encode() if pattern is not None else None
        return self._attach(lib.bpf_program__attach_uprobe_multi, pid, path, pat,
                            ctypes.byref(opts), what=what, keep=(syms, offs, cks))

    def attach_usdt(self, binary: str, provider: str, name: str, *, pid: int = -1,
                    cookie: int = 0) -> Link:
        """Attach to USDT probe ``provider:name`` of ``binary`` (``bpf_program__attach_usdt``);
        the BPF side reads arguments with ``bpf_usdt_arg()`` (``<bpf/usdt.bpf.h>``) and
        ``cookie`` with ``bpf_usdt_cookie()``. The Link is a composite of uprobes kept in the
        object's memory (``Link.borrows``): it has no fd of its own, so ``fd``, ``info()``,
        ``pin()`` and ``update_program()`` are refused. ``pid``: -1 every process, 0 this process,
        N process N (as ``attach_uprobe``). Needs root."""
        what = f"usdt {binary}:{provider}:{name}"
        ctx = f"attach program '{self.name}' to {what}"
        from ..features import require_uprobes

        require_uprobes(ctx)
        path = _check_binary(binary, ctx)
        from .._ffi.attach import bpf_usdt_opts
        from .._ffi.core import make_opts

        from ..link import BORROWS_OBJECT_MEMORY

        opts = make_opts(bpf_usdt_opts, usdt_cookie=cookie)
        return self._attach(lib.bpf_program__attach_usdt, pid, path, provider.encode(),
                            name.encode(), ctypes.byref(opts), what=what,
                            borrows=BORROWS_OBJECT_MEMORY)

    # --- perf events

    def attach_perf_event(self, perf_fd: int, *, cookie: int = 0) -> Link:
        """Attach to an open perf event (``bpf_program__attach_perf_event_opts``).

        On success the Link owns ``perf_fd`` (closing the Link closes it); on failure it stays
        the caller's. ``libbpf_py.attach.perf_event.open_perf_event()`` opens one. Needs root.
        """
        from .._ffi.attach import bpf_perf_event_opts
        from .._ffi.core import make_opts

        opts = make_opts(bpf_perf_event_opts, bpf_cookie=cookie)
        return self._attach(lib.bpf_program__attach_perf_event_opts, perf_fd,
                            ctypes.byref(opts), what=f"perf event fd {perf_fd}")

    def attach_perf_events(self, *, type: int = PERF_TYPE_SOFTWARE,
                           config: int = PERF_COUNT_SW_CPU_CLOCK,
                           sample_period: int = 0, sample_freq: int = 0, pid: int = -1,
                           cpus: Optional[Sequence[int]] = None,
                           cookie: int = 0) -> list[Link]:
        """Open a sampling perf event on each CPU (default: every online CPU) and attach to each
        (``perf_event_open`` + ``bpf_program__attach_perf_event_opts``); returns the Links
        (each owns its perf fd). Default event: software cpu-clock. Needs root."""
        from .perf_event import open_perf_event, online_cpus

        links: list[Link] = []
        try:
            for cpu in (online_cpus() if cpus is None else cpus):
                fd = open_perf_event(type, config, cpu=cpu, pid=pid,
                                     sample_period=sample_period, sample_freq=sample_freq)
                try:
                    links.append(self.attach_perf_event(fd, cookie=cookie))
                except BaseException:
                    os.close(fd)
                    raise
        except BaseException:
            for link in links:
                link.detach()
            raise
        return links

    # --- iterators

    def attach_iter(self, *, map: Optional[Map] = None, pid: int = 0, tid: int = 0,
                    cgroup_fd: int = 0, cgroup_order: int = 0) -> IterLink:
        """Create a BPF iterator link (``bpf_program__attach_iter``): ``SEC("iter/task")``,
        ``SEC("iter/bpf_map_elem")`` (``map=`` the map to walk), ``SEC("iter/cgroup")`` ...
        ``pid``/``tid`` limit task iterators. Read it with ``IterLink.read()``. Needs root."""
        from .._ffi.attach import BPF_ITER_LINK_INFO_SIZE, bpf_iter_attach_opts
        from .._ffi.core import make_opts

        info = ctypes.create_string_buffer(BPF_ITER_LINK_INFO_SIZE)
        import struct

        if map is not None:
            struct.pack_into("=I", info, 0, map.fd)
        elif pid or tid:
            struct.pack_into("=II", info, 0, tid, pid)
        elif cgroup_fd:
            struct.pack_into("=II", info, 0, cgroup_order, cgroup_fd)
        has_info = map is not None or pid or tid or cgroup_fd
        opts = make_opts(bpf_iter_attach_opts,
                         link_info=ctypes.addressof(info) if has_info else None,
                         link_info_len=BPF_ITER_LINK_INFO_SIZE if has_info else 0)
        return self._attach(lib.bpf_program__attach_iter, ctypes.byref(opts),
                            what=f"iter SEC(\"{self.section}\")", cls=IterLink)
