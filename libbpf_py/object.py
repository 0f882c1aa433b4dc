"""BPF objects: open an ELF (``OpenObject``), configure it, load it into the kernel (``Object``).

::

    Object.open(path | bytes, **opts) -> OpenObject   # configure: map sizes, autoload ...
    OpenObject.load()                 -> Object       # kernel objects exist; OpenObject is spent
    Object.attach()                   -> [Link]       # auto-attach every program that says how
    Object.close() / with ...                         # frees everything the object owns
    libbpf_py.load(path | bytes)      -> Object       # open + load in one call

Global variables: ``obj.rodata``/``.data``/``.bss``/``.kconfig`` and ``obj.sections[".data.x"]``
(``variables.Section``, typed from BTF); the object's BTF: ``obj.btf`` (``btf.Btf``, borrowed).

Both phases share one ``_ObjectState`` that owns the ``struct bpf_object``; programs and maps
keep it alive and raise ``ClosedError`` after ``close()``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from _thread import RLock

from . import log
from ._ffi import lib, text
from ._ffi.core import bpf_object_open_opts, make_opts
from .errors import BpfError, Closeable, ClosedError, with_context
from .link import Link, attach_program, borrows_for_section, require_section_attachable

__all__ = ["Object", "OpenObject", "load", "CoreRelocationError"]

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .errors import CoreRelocationError
    from typing import Any, Optional, TypeVar, Union

    Source = Union[str, os.PathLike[str], bytes, bytearray, memoryview]
    T = TypeVar("T")

    from ._byname import ByName
    from .btf import Btf
    from .maps import Map
    from .program import Program
    from .variables import Section

ELF_MAGIC = b"\x7fELF"
EM_BPF = 247


class _ObjectState(Closeable):
    """Owner of one ``struct bpf_object``; shared by OpenObject/Object and their children."""

    def __init__(self, ptr: Any, label: str, buffer: Optional[Any]) -> None:
        self.lock = RLock()  # held by close() and by whoever reads libbpf's structures
        self.ptr = ptr
        self.label = label
        # LIFETIME: libbpf reads the ELF image in place until load: keep open_mem's buffer.
        self.buffer = buffer
        self.loaded = False
        #: Every open attachment made from this object's programs and maps (Links and
        #: Attachments), in attach order: the object keeps them (a dropped reference does not
        #: detach) and close() detaches them. A dict as an ordered set (O(1) release).
        self.links: dict[Any, None] = {}
        self.sections: Optional[dict[str, Section]] = None  # built on first use
        self.btf_view: Optional[Btf] = None  # the borrowed Btf view, built on first use
        self.load_log: dict[str, str] = {}  # program name -> verifier log (kernel_log_level)
        # Wrappers of the object's programs and maps, made on first use: a cold start that never
        # touches a map does not import map.py (or build a Map per map).
        self._programs: Optional[ByName] = None
        self._maps: Optional[ByName] = None
        #: map name -> BTF (key, value) type ids as declared, recorded at load for the maps not
        #: wrapped yet (libbpf zeroes some at load; ``Map`` needs them for its codecs).
        self.declared_btf_ids: dict[str, tuple[int, int]] = {}
        self.source: Optional[Union[str, bytes]] = None  # the ELF's path or bytes (open())

    @property
    def programs(self) -> ByName:
        if self._programs is None:
            from .program import Program

            self._programs = self._children("program", lib.bpf_object__next_program, Program)
        return self._programs

    @property
    def maps(self) -> ByName:
        if self._maps is None:
            from .maps import wrap

            self._maps = self._children("map", lib.bpf_object__next_map, wrap)
        return self._maps

    def _children(self, kind: str, next_fn: Any, cls: Any) -> ByName:
        if self.ptr is None:
            raise ClosedError(f"{kind}s: object '{self.label}' is closed")
        from ._byname import ByName  # (not on a cold start's path)

        items: dict[str, Any] = {}
        cur = next_fn(self.ptr, None)
        while cur:
            child = cls(self, cur)
            items[child.name] = child
            cur = next_fn(self.ptr, cur)
        return ByName(kind, self.label, items)

    @property
    def closed(self) -> bool:
        return self.ptr is None

    def require_open(self, what: str) -> None:
        if self.ptr is None:
            raise ClosedError(f"{what}: object '{self.label}' is closed")
        if self.loaded:
            raise BpfError(errno.EBUSY, "only possible before load()", f"{what}")

    def require_loaded(self, what: str) -> None:
        if self.ptr is None:
            raise ClosedError(f"{what}: object '{self.label}' is closed")
        if not self.loaded:
            raise BpfError(errno.EINVAL, "the object is not loaded yet (call load() first)",
                           what)

    def adopt(self, link: Any) -> None:
        """Record an attachment made from this object (its creator calls this)."""
        if self.ptr is None:
            raise ClosedError(f"attach: object '{self.label}' is closed")
        self.links[link] = None

    def release(self, link: Any) -> None:
        """Forget an attachment that was detached."""
        self.links.pop(link, None)

    def detach_all(self) -> None:
        """Detach every attachment of the object, those that borrow its memory or fds first;
        all of them are tried, then the first error is raised."""
        first: Optional[BaseException] = None
        links = sorted(self.links, key=lambda ln: not getattr(ln, "borrows", ""))
        for link in links:
            try:
                link.detach()
            except BaseException as e:  # noqa: BLE001 - detach the others, raise after
                first = first or e
            self.links.pop(link, None)
        if first is not None:
            raise first

    def close(self) -> None:
        # Under the lock: a thread reading libbpf's structures through a child (Program.fd,
        # Map codecs) finishes first, and then sees the object closed.
        with self.lock:
            try:
                self.detach_all()  # before the memory and fds they borrow are freed
            finally:
                self._free()

    def _free(self) -> None:
        # None: no map was ever mmapped. (A module another thread is still importing has no
        # functions yet: nothing was mmapped through it either.)
        release_mmaps = getattr(sys.modules.get("libbpf_py.maps._admin"), "release_mmaps", None)
        if release_mmaps is not None and self.ptr is not None:
            release_mmaps(self)
        ptr, self.ptr = self.ptr, None
        if ptr is not None:
            types = sys.modules.get("libbpf_py._types")  # None: nothing was typed from BTF
            if types is not None and hasattr(types, "forget"):  # (not while still imported)
                btf = lib.bpf_object__btf(ptr)
                if btf:  # types cached for this struct btf die with it
                    types.forget(types.btf_addr(btf))
            # None: no arena was ever mapped (or its module is still being imported elsewhere)
            defer_close = getattr(sys.modules.get("libbpf_py.arena"), "defer_close", None)
            if defer_close is None or not defer_close(self, lib.bpf_object__close, ptr):
                lib.bpf_object__close(ptr)
        self.buffer = None

    # Closeable's finalizer
    def _left_open(self) -> bool:
        return self.ptr is not None

    def _unclosed(self) -> str:
        return f"object '{self.label}'"


def _check_elf(data: bytes, label: str) -> None:
    if data[:4] != ELF_MAGIC:
        raise BpfError(errno.ENOEXEC, "not an ELF file", f"open object '{label}'")
    if len(data) >= 20:
        little = data[5] == 1
        machine = int.from_bytes(data[18:20], "little" if little else "big")
        if machine != EM_BPF:
            raise BpfError(errno.ENOEXEC, f"not a BPF object (ELF e_machine {machine}, "
                           f"BPF is {EM_BPF})", f"open object '{label}'")


class _ObjectBase:
    __slots__ = ("_state", "__weakref__")
    _state: _ObjectState

    @property
    def name(self) -> str:
        """The object's name (``bpf_object__name``)."""
        return text(lib.bpf_object__name(self._ptr()))

    def _ptr(self) -> Any:
        if self._state.ptr is None:
            raise ClosedError(f"object '{self._state.label}' is closed")
        return self._state.ptr

    @property
    def programs(self) -> Mapping[str, Program]:
        """Programs by name: ``obj.programs["handle"]`` or ``obj.programs.handle``."""
        self._ptr()
        return self._state.programs

    @property
    def maps(self) -> Mapping[str, Map]:
        """Maps by name: ``obj.maps["events"]`` or ``obj.maps.events``."""
        self._ptr()
        return self._state.maps

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._state.ptr is None

    @property
    def btf(self) -> Optional[Btf]:
        """The object's own BTF (``bpf_object__btf``), or None if it was compiled without -g.

        Borrowed: valid while the object is open (``ClosedError`` after), and it keeps the
        object alive. Valid in both phases; no privileges needed.
        """
        state = self._state
        ptr = lib.bpf_object__btf(self._ptr())
        if not ptr:
            return None
        if state.btf_view is None:
            from .btf import Btf

            # LIFETIME: the struct btf belongs to the bpf_object; the view holds the state.
            state.btf_view = Btf._borrow(ptr, state.label, state)
        return state.btf_view

    @property
    def sections(self) -> Mapping[str, Section]:
        """Data sections by ELF name (".rodata", ".data", ".bss", ".data.custom", ".kconfig"
        ...): ``Section`` objects whose attributes are the global variables, typed from BTF.

        Before load they read and write the initial values; after load ``.data``/``.bss``
        are the live map (mmap) and ``.rodata*``/``.kconfig`` are read-only.
        """
        state = self._state
        self._ptr()
        if state.sections is None:
            from .variables import find_sections

            state.sections = find_sections(state)
        from ._byname import ByName

        return ByName("section", state.label, state.sections)

    def datasec(self, name: str) -> Section:
        """The data section called ``name`` (".data.custom"); ``KeyError`` listing those
        that exist."""
        return self.sections[name]

    def _section(self, name: str) -> Section:
        try:
            return self.sections[name]
        except KeyError as e:
            raise AttributeError(e.args[0]) from None

    @property
    def rodata(self) -> Section:
        """``.rodata`` variables (``const volatile`` globals): set them before load."""
        return self._section(".rodata")

    @property
    def data(self) -> Section:
        """``.data`` variables (initialized globals): initial values before load, live after."""
        return self._section(".data")

    @property
    def bss(self) -> Section:
        """``.bss`` variables (zero-initialized globals): live after load."""
        return self._section(".bss")

    @property
    def kconfig(self) -> Section:
        """``.kconfig`` externs (``extern ... __kconfig``) as libbpf resolved them at load."""
        return self._section(".kconfig")

    def close(self) -> None:
        """Detach every attachment made from the object's programs and maps (by
        ``Program.attach*()``, ``Object.attach()``, ``StructOpsMap.attach()``) and free it
        (``bpf_object__close``). Pinned links stay attached through their pins. Idempotent.
        """
        self._state.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OpenObject(_ObjectBase):
    """An opened, not yet loaded, BPF object (``struct bpf_object`` before ``bpf_object__load``).

    Configure it (``programs[...].autoload``, ``maps[...].max_entries`` ...), then ``load()``.
    Closing it (or ``with``) frees it unless it was loaded: the loaded ``Object`` takes over.
    After ``load()`` it is spent (as libbpf-rs's ``OpenObject::load`` consumes it): its
    properties and ``load()`` raise ``ClosedError`` naming the Object to use instead, and
    ``close()`` leaves the Object alone. Maps and programs taken from it before load are the
    Object's own and stay valid.
    """

    __slots__ = ()

    def __init__(self, state: _ObjectState) -> None:
        self._state = state

    def _ptr(self) -> Any:
        state = self._state
        if state.loaded and state.ptr is not None:
            raise ClosedError(f"OpenObject '{state.label}' is spent: it was loaded; use the "
                              "Object that load() returned")
        return super()._ptr()

    @property
    def spent(self) -> bool:
        """True once ``load()`` succeeded: the Object it returned owns everything now."""
        return self._state.loaded

    def close(self) -> None:
        """Free the opened object (``bpf_object__close``); idempotent. A spent OpenObject
        (loaded) has nothing of its own left: the Object owns it, and stays open."""
        if not self._state.loaded:
            self._state.close()

    def load(self) -> Object:
        """Load maps and programs into the kernel (``bpf_object__load``) and return the Object.

        Needs root (or CAP_BPF, plus CAP_PERFMON/CAP_NET_ADMIN for some program types). A
        program rejected by the verifier raises ``VerifierError`` with the verifier log; on any
        failure the object is closed. This OpenObject is spent afterwards.
        """
        state = self._state
        ptr = self._ptr()  # ClosedError when spent (loaded already)
        if state._maps is None:
            state.declared_btf_ids = _declared_btf_ids(ptr)
        err: Optional[BpfError] = None
        with log.capture(show=_without_program_log) as messages:
            try:
                lib.bpf_object__load(ptr)
            except BpfError as e:
                err = e
        if err is not None:
            from ._load_errors import load_failed  # only on failure: not on a cold start's path

            exc = load_failed(err, ptr, state.label, messages)
            state.close()
            raise exc from None
        state.loaded = True
        state.buffer = None  # libbpf is done with the ELF image
        state.load_log = _program_logs(messages)
        return Object(state)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self._state
        what = " spent" if state.loaded else " closed" if self.closed else ""
        return f"<OpenObject '{state.label}'{what}>"


STRUCT_OPS = 26  # BPF_MAP_TYPE_STRUCT_OPS
BTF_KIND_DATASEC = 15


def _check_opened(ptr: Any) -> None:
    """Refuse, at open, what libbpf opens but would crash on later (kept minimal: each check
    names the libbpf code it guards; tests/stress/corpus holds the reproducers).

    A ``BPF_MAP_TYPE_STRUCT_OPS`` map declared in ``SEC(".maps")`` (clang compiles it) has no
    ``st_ops`` data: ``bpf_map__init_kern_struct_ops`` (load) and ``bpf_map__initial_value``
    dereference it. libbpf makes the ``.maps`` DATASEC's variables the object's first maps, in
    order (``bpf_object__init_user_btf_maps``); struct_ops sections' come last.
    """
    types = []
    cur = lib.bpf_object__next_map(ptr, None)
    while cur:
        types.append(lib.bpf_map__type(cur))
        cur = lib.bpf_object__next_map(ptr, cur)
    if STRUCT_OPS not in types:
        return
    btf = lib.bpf_object__btf(ptr)
    sec_id = lib.btf__find_by_name_kind(btf, b".maps", BTF_KIND_DATASEC) if btf else -1
    if sec_id <= 0:
        return
    addr = lib.btf__type_by_id(btf, sec_id)
    if addr is None:  # sec_id came from this BTF: not reached
        return
    vlen = int.from_bytes(ctypes.string_at(addr + 4, 4), sys.byteorder) & 0xFFFF
    for i, map_type in enumerate(types[:vlen]):
        if map_type == STRUCT_OPS:
            var_id = int.from_bytes(ctypes.string_at(addr + 12 + 12 * i, 4), sys.byteorder)
            var = lib.btf__type_by_id(btf, var_id)
            name = text(lib.btf__name_by_offset(
                btf, int.from_bytes(ctypes.string_at(var, 4), sys.byteorder))) if var else "?"
            raise BpfError(errno.EINVAL, f"map '{name}' is a BPF_MAP_TYPE_STRUCT_OPS declared in "
                           "SEC(\".maps\"): declare struct_ops maps as a struct in "
                           "SEC(\".struct_ops\") or SEC(\".struct_ops.link\") (libbpf would "
                           "crash loading it)")


def _declared_btf_ids(ptr: Any) -> dict[str, tuple[int, int]]:
    ids = {}
    cur = lib.bpf_object__next_map(ptr, None)
    while cur:
        ids[text(lib.bpf_map__name(cur))] = (lib.bpf_map__btf_key_type_id(cur),
                                                 lib.bpf_map__btf_value_type_id(cur))
        cur = lib.bpf_object__next_map(ptr, cur)
    return ids


def _without_program_log(level: int, text: str) -> str:
    """What logging shows of a message libbpf prints during load: a verifier log is replaced
    by where to read it (VerifierError.log on failure, Object.load_log on success), so it is
    printed once, not on stderr and again in the exception."""
    begin = text.find(log.PROG_LOG_BEGIN)
    if begin < 0:
        return text
    start = text.find("\n", begin) + 1
    end = text.find(log.PROG_LOG_END, start)
    lines = len(text[start:end if end >= 0 else len(text)].splitlines())
    where = "VerifierError.log" if level == 0 else "Object.load_log"
    return f"{text[:begin]}verifier log ({lines} lines) in {where}, not repeated here"


def _program_logs(messages: list[tuple[int, str]]) -> dict[str, str]:
    """Verifier logs libbpf printed for successfully loaded programs (kernel_log_level)."""
    if not any(log.PROG_LOG_BEGIN in m for _, m in messages):
        return {}  # the usual case: no log asked for, and no `re` import (milliseconds)
    import re

    text = "".join(m for _, m in messages)
    logs: dict[str, str] = {}
    for found in re.finditer(r"prog '([^']+)': " + re.escape(log.PROG_LOG_BEGIN) + r"\n(.*?)"
                             + re.escape(log.PROG_LOG_END), text, re.S):
        logs[found.group(1)] = found.group(2)
    return logs


class Object(_ObjectBase):
    """A loaded BPF object: its maps and programs exist in the kernel.

    Made by ``OpenObject.load()`` or ``libbpf_py.load()``. Owns its maps, programs and the links
    ``attach()`` made; ``close()`` (or ``with``) releases them all.
    """

    __slots__ = ()

    def __init__(self, state: _ObjectState) -> None:
        self._state = state

    @staticmethod
    def open(source: Source, *, name: Optional[str] = None,
             btf_custom_path: Optional[str] = None, pin_root_path: Optional[str] = None,
             kconfig: Optional[str] = None, kernel_log_level: int = 0,
             bpf_token_path: Optional[str] = None) -> OpenObject:
        """Open a BPF ELF object from a path or from bytes (``bpf_object__open_file`` /
        ``bpf_object__open_mem``) without loading it; no privileges needed.

        Keyword arguments are ``struct bpf_object_open_opts``: ``name`` (object name, default
        the file name), ``btf_custom_path`` (kernel BTF for CO-RE when the kernel has none),
        ``pin_root_path`` (bpffs dir for maps pinned by name), ``kconfig`` (extra Kconfig values),
        ``kernel_log_level`` (verifier log level for every program), ``bpf_token_path``.
        """
        buffer = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            label = name or "<bytes>"
            _check_elf(data, label)
        else:
            path = os.fspath(source)
            label = name or os.path.basename(path)
            with open(path, "rb") as f:  # FileNotFoundError / PermissionError as usual
                _check_elf(f.read(20), path)
            data = None
        # LIFETIME: the encoded strings must outlive the call; locals do.
        # ("" is a valid bpf_token_path: it turns libbpf's automatic token off.)
        strings = ((name, "name"), (pin_root_path, "pin_root_path"), (kconfig, "kconfig"),
                   (btf_custom_path, "btf_custom_path"), (bpf_token_path, "bpf_token_path"))
        enc: list[Optional[bytes]] = [None] * len(strings)
        if (kernel_log_level != 0 or type(kernel_log_level) is not int
                or any(v is not None for v, _ in strings)):
            from . import _args  # only options given are checked: a plain open needs none

            enc = [None if v is None else b"" if v == "" and what == "bpf_token_path" else
                   _args.c_string(v, what) if what in ("name", "kconfig") else
                   _args.path(v, what) for v, what in strings]
            kernel_log_level = _args.u32(kernel_log_level, "kernel_log_level")
        opts = make_opts(bpf_object_open_opts, object_name=enc[0], pin_root_path=enc[1],
                         kconfig=enc[2], btf_custom_path=enc[3], bpf_token_path=enc[4],
                         kernel_log_level=kernel_log_level)
        with log.capture() as messages:
            try:
                if data is None:
                    ptr = lib.bpf_object__open_file(os.fsencode(path), ctypes.byref(opts))
                else:
                    buffer = ctypes.create_string_buffer(data, len(data))
                    ptr = lib.bpf_object__open_mem(buffer, len(data), ctypes.byref(opts))
            except BpfError as e:
                from ._load_errors import explain  # only on failure

                raise explain(e, label, messages, "open") from None
        state = _ObjectState(ptr, label, buffer)
        # Where the ELF came from: types its BTF lacks are read from its DWARF (_dwarf.py).
        state.source = path if data is None else data
        try:
            _check_opened(ptr)
        except BpfError as e:
            state.close()
            raise with_context(e, f"open object '{label}'") from None
        return OpenObject(state)

    def attach(self) -> list[Link]:
        """Attach every loaded program whose SEC() says where (``bpf_program__attach``).

        Programs whose section names no target (``SEC("xdp")``, ``SEC("uprobe")`` ...) are
        skipped, as libbpf's skeletons do, and so are programs already attached (by hand, or
        by an earlier ``attach()``). Returns the links it made; like every link of the object
        they last until detached or until the object closes (``obj.links`` lists them all).
        All or nothing: on a failure the links it made are detached. Needs root.
        """
        state = self._state
        ptr = self._ptr()
        attached = {getattr(ln, "program", None) for ln in state.links}
        made: list[Link] = []
        # By struct bpf_program: no Program wrappers (a cold start never imports program.py).
        prog = lib.bpf_object__next_program(ptr, None)
        try:
            while prog:
                cur, prog = prog, lib.bpf_object__next_program(ptr, prog)
                if not (lib.bpf_program__autoload(cur) and lib.bpf_program__autoattach(cur)):
                    continue
                name = text(lib.bpf_program__name(cur))
                if name in attached:
                    continue
                section = text(lib.bpf_program__section_name(cur))
                require_section_attachable(name, section)
                try:
                    made.append(attach_program(cur, state, name, lib.bpf_program__attach,
                                               what=f"SEC(\"{section}\")",
                                               borrows=borrows_for_section(section)))
                except BpfError as e:
                    if e.errno != errno.EOPNOTSUPP:  # EOPNOTSUPP: SEC() names no target
                        raise
        except BaseException:
            for done in made:  # all or nothing
                done.detach()
            raise
        return made

    def detach(self) -> None:
        """Detach every attachment made from the object's programs and maps (the object stays
        loaded: attach again at will). Idempotent."""
        self._state.detach_all()

    @property
    def load_log(self) -> dict[str, str]:
        """Verifier logs of the loaded programs, by name, when the object was opened with
        ``kernel_log_level`` (or a program's log level) > 0; empty otherwise."""
        self._ptr()
        return dict(self._state.load_log)

    @property
    def links(self) -> list[Any]:
        """The object's open attachments, in attach order: the ``Link``s (and ``Attachment``s)
        made by ``attach()``, ``Program.attach*()`` and ``StructOpsMap.attach()``."""
        return list(self._state.links)

    def __repr__(self) -> str:
        return f"<Object '{self._state.label}'{' closed' if self.closed else ''}>"


def __getattr__(name: str) -> object:
    if name == "CoreRelocationError":  # errors builds it on first use: not at import
        from . import errors

        return errors.CoreRelocationError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(source: Source, **opts: Any) -> Object:
    """Open and load a BPF object in one call: ``Object.open(source, **opts).load()``."""
    return Object.open(source, **opts).load()
