"""BTF, the BPF Type Format: the kernel's, a module's, an object's or a file's type information.

::

    btf = Btf.vmlinux()                         # /sys/kernel/btf/vmlinux
    task = btf.find("task_struct", Kind.STRUCT)  # a read-only Type view
    [m.name for m in task.members][:3]
    open("vmlinux.h", "w").write(btf.dump_c())  # a header clang compiles CO-RE programs against
    obj.btf.format("struct event", raw_bytes)   # a value printed by its type (btf_dump)

A ``Btf`` made by ``vmlinux()``, ``from_file()``, ``vmlinux_module()`` or ``from_id()`` owns its
``struct btf`` and frees it on ``close()`` (or ``with``); ``Object.btf`` borrows the object's and
keeps the object alive. Types are plain views: they keep their ``Btf`` alive.
"""

from __future__ import annotations

import ctypes
import os
from enum import IntEnum

from . import _btfraw, _types
from ._ffi import btf as _fb
from ._ffi import lib
from ._ffi.core import make_opts
from ._types import (BTF_KIND_ARRAY, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM,
                     BTF_KIND_ENUM64, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_INT,
                     BTF_INT_BOOL, BTF_INT_CHAR,
                     BTF_INT_SIGNED, BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_VAR, RawType)
from .errors import BpfError, Closeable, ClosedError, error_context, with_context

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional, Union

__all__ = ["Btf", "Type", "Member", "Kind"]


class Kind(IntEnum):
    """BTF kinds (``BTF_KIND_*`` of linux/btf.h)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class Member:
    """A struct/union member: ``name``, ``type``, ``offset`` (bytes), ``bit_offset``,
    ``bitfield_size`` (0 unless a bitfield)."""

    __slots__ = ("name", "type", "bit_offset", "bitfield_size")

    def __init__(self, name: str, type: Type, bit_offset: int, bitfield_size: int) -> None:
        self.name = name
        self.type = type
        self.bit_offset = bit_offset
        self.bitfield_size = bitfield_size

    @property
    def offset(self) -> int:
        """Byte offset of the member (of its first byte, for bitfields)."""
        return self.bit_offset // 8

    def __repr__(self) -> str:
        bits = f":{self.bitfield_size}" if self.bitfield_size else ""
        return f"<Member {self.name or '<anon>'}{bits} @{self.bit_offset} {self.type.c_name}>"


class Type:
    """A read-only view of one BTF type: ``id``, ``kind``, ``name``, ``size``, and per kind
    ``members``, ``enumerators``, ``element``/``length``, ``target`` (what a pointer, typedef,
    modifier, var or func refers to), ``params``, ``variables``. Keeps its ``Btf`` alive."""

    __slots__ = ("btf", "id", "_raw")

    def __init__(self, btf: Btf, type_id: int, raw: RawType) -> None:
        self.btf = btf
        self.id = type_id
        self._raw = raw

    @property
    def kind(self) -> Kind:
        return Kind(self._raw.kind)

    @property
    def name(self) -> str:
        """The type's name ('' for anonymous types)."""
        return self._raw.name

    @property
    def c_name(self) -> str:
        """A C spelling: "struct task_struct", "unsigned int", "char[16]", "u32"."""
        return _types.c_name(self.btf._handle(), self.id)

    @property
    def size(self) -> int:
        """Size in bytes, through typedefs/modifiers/arrays (``btf__resolve_size``)."""
        try:
            return lib.btf__resolve_size(self.btf._handle(), self.id)
        except BpfError as e:
            raise TypeError(f"{self.c_name} ({self.kind.name}) has no size") from e

    @property
    def alignment(self) -> int:
        """Alignment in bytes (``btf__align_of``). ``MalformedBtfError`` (a ``TypeError``) for a
        malformed BTF that refers to itself by value (libbpf would recurse forever)."""
        self.btf._check(self.id)
        return lib.btf__align_of(self.btf._handle(), self.id)

    @property
    def record(self) -> RawType:
        """The parsed ``struct btf_type`` record as the BTF stores it, ids unresolved: ``kind``,
        ``name``, ``size_or_type``, ``kind_flag``, ``vlen`` and the kind's ``extra`` data (what
        ``bpftool btf dump`` prints; ``python -m libbpf_py btf dump`` uses it)."""
        return self._raw

    @property
    def kind_flag(self) -> bool:
        return self._raw.kind_flag

    @property
    def vlen(self) -> int:
        return self._raw.vlen

    def _want(self, *kinds: int) -> None:
        if self._raw.kind not in kinds:
            names = "/".join(Kind(k).name for k in kinds)
            raise TypeError(f"{self.c_name} is a {self.kind.name}, not a {names}")

    @property
    def target(self) -> Type:
        """What a PTR/TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG/VAR/FUNC/DECL_TAG refers to
        (void is the type with id 0)."""
        if self._raw.kind in (BTF_KIND_INT, BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_ENUM,
                              BTF_KIND_ENUM64, BTF_KIND_ARRAY, BTF_KIND_DATASEC, 16, 7, 0,
                              BTF_KIND_FUNC_PROTO):
            raise TypeError(f"{self.c_name} is a {self.kind.name}: it refers to no type")
        return self.btf[self._raw.size_or_type]

    def resolve(self) -> Type:
        """The type behind typedefs and modifiers (``btf__resolve_type``)."""
        return self.btf[lib.btf__resolve_type(self.btf._handle(), self.id)]

    # INT
    @property
    def bits(self) -> int:
        """Number of value bits of an INT."""
        self._want(BTF_KIND_INT)
        return self._raw.extra[2]

    @property
    def signed(self) -> bool:
        """Whether an INT (or ENUM) is signed."""
        if self._raw.kind in (BTF_KIND_ENUM, BTF_KIND_ENUM64):
            return self._raw.kind_flag
        self._want(BTF_KIND_INT)
        return bool(self._raw.extra[0] & BTF_INT_SIGNED)

    @property
    def is_bool(self) -> bool:
        return self._raw.kind == BTF_KIND_INT and bool(self._raw.extra[0] & BTF_INT_BOOL)

    @property
    def is_char(self) -> bool:
        return self._raw.kind == BTF_KIND_INT and bool(self._raw.extra[0] & BTF_INT_CHAR)

    # ARRAY
    @property
    def element(self) -> Type:
        """Element type of an ARRAY."""
        self._want(BTF_KIND_ARRAY)
        return self.btf[self._raw.extra[0]]

    @property
    def length(self) -> int:
        """Number of elements of an ARRAY."""
        self._want(BTF_KIND_ARRAY)
        return self._raw.extra[2]

    # STRUCT / UNION
    @property
    def members(self) -> list[Member]:
        """Members of a STRUCT/UNION, in order."""
        self._want(BTF_KIND_STRUCT, BTF_KIND_UNION)
        return [Member(n, self.btf[t], off, bits) for n, t, off, bits in self._raw.extra]

    def member(self, name: str) -> Member:
        """The member called ``name`` (``KeyError`` listing the members otherwise)."""
        for m in self.members:
            if m.name == name:
                return m
        have = ", ".join(m.name for m in self.members if m.name)
        raise KeyError(f"{self.c_name} has no member {name!r} (members: {have})")

    # ENUM / ENUM64
    @property
    def enumerators(self) -> dict[str, int]:
        """Names and values of an ENUM/ENUM64, in order."""
        self._want(BTF_KIND_ENUM, BTF_KIND_ENUM64)
        return dict(self._raw.extra)

    # FUNC_PROTO
    @property
    def params(self) -> list[tuple[str, Type]]:
        """(name, type) of a FUNC_PROTO's parameters (a FUNC: of its prototype)."""
        t = self if self._raw.kind == BTF_KIND_FUNC_PROTO else self.target
        t._want(BTF_KIND_FUNC_PROTO)
        return [(n, self.btf[i]) for n, i in t._raw.extra]

    @property
    def return_type(self) -> Type:
        t = self if self._raw.kind == BTF_KIND_FUNC_PROTO else self.target
        t._want(BTF_KIND_FUNC_PROTO)
        return self.btf[t._raw.size_or_type]

    # VAR / DATASEC
    @property
    def linkage(self) -> int:
        """Linkage of a VAR (0 static, 1 global, 2 extern)."""
        self._want(BTF_KIND_VAR)
        return self._raw.extra

    @property
    def variables(self) -> list[tuple[Type, int, int]]:
        """(VAR type, offset, size) of a DATASEC's variables."""
        self._want(BTF_KIND_DATASEC)
        return [(self.btf[v], off, size) for v, off, size in self._raw.extra]

    # conversions
    def ctype(self) -> Any:
        """The ctypes type of this type (``_types.ctype_for``)."""
        return _types.ctype_for(self.btf, self.id)

    def numpy_dtype(self) -> Any:
        """The numpy dtype of this type (imports numpy)."""
        return _types.numpy_dtype(self.ctype())

    def format(self, data: Any, **kw: Any) -> str:
        """``Btf.format`` of a value of this type."""
        return self.btf.format(self.id, data, **kw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and other.btf is self.btf and other.id == self.id

    def __hash__(self) -> int:
        return hash((id(self.btf), self.id))

    def __repr__(self) -> str:
        size = ""
        if self._raw.kind in (BTF_KIND_INT, BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_ENUM,
                              BTF_KIND_ENUM64, BTF_KIND_DATASEC, 16):
            size = f" size={self._raw.size_or_type}"
        return f"<Type [{self.id}] {self.kind.name} {self.c_name!r}{size}>"


class Btf(Closeable):
    """A set of BTF types (``struct btf``): look up, iterate, dump as C, format values.

    Lookup: ``btf[id]``, ``btf.find(name, kind=None)``, ``btf.find("struct event")``,
    ``btf.get(...)``, ``len(btf)``, ``iter(btf)`` (every type, ids 1..n). Unprivileged, except
    ``from_id()``. Valid until ``close()``.
    """

    __slots__ = ("_ptr", "_owner", "_base", "_label", "_cache", "_trusted", "__weakref__")

    def __init__(self, ptr: Any, label: str, owner: Any = None, base: Optional[Btf] = None,
                 trusted: bool = False) -> None:
        # owner None: we own ptr and free it. Otherwise ptr is borrowed from owner.
        # LIFETIME: a borrowed ptr (Object.btf) lives as long as owner's bpf_object; owner is
        # kept referenced here so the object outlives this view.
        # LIFETIME: a split BTF (module) reads its base's types: keep the base alive.
        self._ptr = ptr
        self._owner = owner
        self._base = base
        self._label = label
        self._cache: dict[int, Type] = {}
        # The kernel's BTF (vmlinux, modules, loaded by id) passed its verifier; BTF from a
        # file, bytes or an object did not: checked before libbpf's btf_dump walks it.
        self._trusted = trusted

    # --- constructors

    @classmethod
    def vmlinux(cls) -> Btf:
        """The running kernel's BTF (``btf__load_vmlinux_btf``: /sys/kernel/btf/vmlinux).
        Unprivileged where sysfs allows reading it. The caller owns it (``close()``)."""
        with error_context("load vmlinux BTF"):
            return cls(lib.btf__load_vmlinux_btf(), "vmlinux", trusted=True)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]],
                  base: Optional[Btf] = None) -> Btf:
        """BTF from a raw BTF file or from an ELF file's .BTF section (``btf__parse`` /
        ``btf__parse_split`` with ``base`` for split BTF). Unprivileged; the caller owns it."""
        p = os.fspath(path)
        if not os.path.exists(p):
            raise FileNotFoundError(2, "No such file or directory", p)
        with error_context(f"parse BTF of '{p}'"):
            if base is None:
                ptr = lib.btf__parse(os.fsencode(p), None)
            else:
                ptr = lib.btf__parse_split(os.fsencode(p), base._handle())
        return cls(ptr, os.path.basename(p), base=base)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], label: str = "<bytes>") -> Btf:
        """BTF from raw BTF bytes (``btf__new``, which copies them). Unprivileged; the caller
        owns the result."""
        raw = bytes(data)
        buf = ctypes.create_string_buffer(raw, len(raw))
        with error_context(f"parse BTF from {len(raw)} bytes"):
            return cls(lib.btf__new(buf, len(raw)), label)

    def raw_data(self) -> bytes:
        """The raw BTF bytes (header, types, strings: ``btf__raw_data``), as in a .BTF section
        or /sys/kernel/btf/vmlinux."""
        size = ctypes.c_uint32()
        addr = lib.btf__raw_data(self._handle(), ctypes.byref(size))
        return ctypes.string_at(addr, size.value)

    @classmethod
    def vmlinux_module(cls, name: str, base: Optional[Btf] = None) -> Btf:
        """A kernel module's split BTF (``btf__load_module_btf``; /sys/kernel/btf/<name>) on
        top of ``base`` (default: a new ``Btf.vmlinux()``, kept alive by the result)."""
        vml = base if base is not None else cls.vmlinux()
        try:
            ptr = lib.btf__load_module_btf(name.encode(), vml._handle())
        except BpfError as e:
            if base is None:
                vml.close()
            raise with_context(e, f"load BTF of kernel module '{name}'") from None
        return cls(ptr, name, base=vml, trusted=True)

    @classmethod
    def from_id(cls, btf_id: int, base: Optional[Btf] = None) -> Btf:
        """BTF loaded in the kernel, by id (``btf__load_from_kernel_by_id[_split]``). Needs
        root (CAP_SYS_ADMIN). The caller owns the result."""
        with error_context(f"load BTF id {btf_id} from the kernel"):
            if base is None:
                ptr = lib.btf__load_from_kernel_by_id(btf_id)
            else:
                ptr = lib.btf__load_from_kernel_by_id_split(btf_id, base._handle())
        return cls(ptr, f"id {btf_id}", base=base, trusted=True)

    @classmethod
    def _borrow(cls, ptr: Any, label: str, owner: Any) -> Btf:
        return cls(ptr, label, owner=owner)

    # --- lifetime

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError(f"BTF '{self._label}' is closed")
        owner = self._owner
        if owner is not None and getattr(owner, "closed", False):
            raise ClosedError(f"BTF '{self._label}': its object is closed")
        if self._base is not None and self._base._ptr is None:
            raise ClosedError(f"BTF '{self._label}': its base BTF is closed")
        return self._ptr

    def _check(self, type_id: int = 0) -> None:
        """Refuse BTF that libbpf's recursive walkers (btf_dump, btf__align_of) would follow
        forever: type ``type_id``, or every type (0). Kernel BTF is trusted."""
        if self._trusted:
            return
        p = self._handle()
        if self._base is not None and not self._base._trusted:
            self._base._check()
        _btfraw.check_types(p, type_id)

    @property
    def closed(self) -> bool:
        return self._ptr is None or bool(self._owner is not None
                                         and getattr(self._owner, "closed", False))

    def close(self) -> None:
        """Free the ``struct btf`` (``btf__free``) unless borrowed from an object. Idempotent."""
        ptr, self._ptr = self._ptr, None
        self._cache.clear()
        if ptr is not None and self._owner is None:
            _types.forget(_types.btf_addr(ptr))
            lib.btf__free(ptr)

    # Closeable's finalizer: a borrowed view (an object's BTF) has nothing of its own to free
    def _left_open(self) -> bool:
        return self._ptr is not None and self._owner is None

    def _unclosed(self) -> str:
        return f"BTF '{self._label}'"

    def __enter__(self) -> Btf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- lookups

    @property
    def base(self) -> Optional[Btf]:
        """The base BTF of a split BTF (module BTF: vmlinux), else None."""
        return self._base

    @property
    def fd(self) -> int:
        """The kernel fd of this BTF if it was loaded into the kernel, else -1 (``btf__fd``)."""
        return lib.btf__fd(self._handle())

    @property
    def id(self) -> int:
        """The kernel's id of this BTF (``bpf_obj_get_info_by_fd`` on ``btf__fd``): for the
        BTF of a loaded object or one made by ``from_id()``. ``ValueError`` if it is not in the
        kernel."""
        fd = lib.btf__fd(self._handle())
        if fd < 0:
            raise ValueError(f"BTF '{self._label}' is not loaded in the kernel: it has no id")
        info = (ctypes.c_uint32 * 8)()  # struct bpf_btf_info: id is the 4th __u32
        size = ctypes.c_uint32(ctypes.sizeof(info))
        lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size))
        return info[3]

    @staticmethod
    def ids() -> Iterator[int]:
        """Ids of every BTF loaded in the kernel (``bpf_btf_get_next_id``); needs root."""
        from ._ids import kernel_ids

        return kernel_ids("btf")

    def __len__(self) -> int:
        """Number of type ids, including the base's for split BTF (ids 1..len-1; 0 is void)."""
        return lib.btf__type_cnt(self._handle()) - 1

    def __getitem__(self, type_id: int) -> Type:
        if not isinstance(type_id, int):
            raise TypeError(f"BTF type ids are ints; use find({type_id!r}) for names")
        t = self._cache.get(type_id)
        if t is None:
            try:
                raw = _types.raw_type(self._handle(), type_id)
            except KeyError:
                raise KeyError(f"BTF '{self._label}' has no type id {type_id} "
                               f"(ids 1..{len(self)})") from None
            t = self._cache[type_id] = Type(self, type_id, raw)
        return t

    def __iter__(self) -> Iterator[Type]:
        """Every type, by id (for split BTF: the base's first)."""
        return self.types()

    def types(self, kind: Optional[Union[Kind, int]] = None) -> Iterator[Type]:
        """Every type (of ``kind`` if given), by id. Views made here are not cached, so a
        walk over vmlinux's 100k+ types does not keep them all."""
        p = self._handle()
        cache = self._cache
        want = None if kind is None else int(kind)
        for i in range(1, lib.btf__type_cnt(p)):
            t = cache.get(i)
            if t is None:
                raw = _types.raw_type(self._handle(), i)
                if want is not None and raw.kind != want:
                    continue
                t = Type(self, i, raw)
            elif want is not None and t._raw.kind != want:
                continue
            yield t

    def find(self, name: str, kind: Optional[Union[Kind, int]] = None) -> Type:
        """The type called ``name`` (of ``kind``, else the first of any kind), or by C spelling
        ("struct event", "enum e"). ``KeyError`` if there is none (``btf__find_by_name_kind``)."""
        p = self._handle()
        if kind is not None:
            found = lib.btf__find_by_name_kind(p, name.encode(errors="surrogateescape"), int(kind))
        elif name.split(" ", 1)[0] in ("struct", "union", "enum"):
            try:
                found = _types.find_by_c_name(p, name)
            except KeyError:
                found = -1
        else:
            found = lib.btf__find_by_name(p, name.encode(errors="surrogateescape"))
        if found < 0:
            what = f"{Kind(kind).name} " if kind is not None else ""
            raise KeyError(f"BTF '{self._label}' has no {what}type named {name!r}")
        return self[found]

    def get(self, name: str, kind: Optional[Union[Kind, int]] = None) -> Optional[Type]:
        """``find()``, or None when there is no such type."""
        try:
            return self.find(name, kind)
        except KeyError:
            return None

    def _type_id(self, t: Union[Type, int, str]) -> int:
        if isinstance(t, Type):
            return t.id
        if isinstance(t, str):
            return self.find(t).id
        return int(t)

    def ctype(self, t: Union[Type, int, str]) -> Any:
        """The ctypes type of a type (by Type, id or name; ``_types.ctype_for``)."""
        return _types.ctype_for(self, self._type_id(t))

    # --- btf_dump

    def _dump(self, emit: Any) -> str:
        """Run ``emit(dump, FILE*)`` with a btf_dump printing into a memory stream; its text."""
        libc = _fb.libc()
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
        if not stream:
            raise MemoryError("open_memstream failed")
        dump = None
        try:
            # LIFETIME: btf_dump borrows the struct btf and the stream; both outlive it here.
            dump = _fb.btf_dump__new()(self._handle(), libc.vfprintf_addr, stream,
                                       ctypes.byref(make_opts(_fb.btf_dump_opts)))
            emit(dump, stream)
        finally:
            if dump is not None:
                lib.btf_dump__free(dump)
            libc.fclose(stream)
            text = ctypes.string_at(buf, size.value).decode(errors="replace") if buf else ""
            if buf:
                libc.free(buf)
        return text

    def dump_c(self, path: Optional[Union[str, os.PathLike[str]]] = None,
               guard: str = "__VMLINUX_H__") -> str:
        """Every type as a C header, like ``bpftool btf dump file ... format c``
        (``btf_dump__dump_type`` for each id), with ``preserve_access_index`` applied to every
        record so CO-RE programs compile against it: ``Btf.vmlinux().dump_c("vmlinux.h")``.
        Kernel functions BPF programs may call (kfuncs: the ``FUNC`` types tagged
        ``bpf_kfunc``) follow as ``extern ... __weak __ksym;`` prototypes, as bpftool writes
        them (``__bpf_fastcall`` where tagged ``bpf_fastcall``), unless the program defines
        ``BPF_NO_KFUNC_PROTOTYPES``. Returns the text (also written to ``path`` when given).
        Unprivileged. BTF not from the kernel is checked first (``MalformedBtfError``)."""
        self._check()
        libc = _fb.libc()
        p = self._handle()
        count = lib.btf__type_cnt(p)
        kfuncs = _kfuncs(p, count)

        def emit(dump: Any, stream: Any) -> None:
            libc.fputs(f"#ifndef {guard}\n#define {guard}\n\n".encode(), stream)
            libc.fputs(_PROLOGUE, stream)
            for i in range(1, count):
                lib.btf_dump__dump_type(dump, i)
            if kfuncs:
                libc.fputs(b"\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n", stream)
                opts = make_opts(_fb.btf_dump_emit_type_decl_opts)
                for name, proto_id, fastcall in kfuncs:
                    libc.fputs(b"extern __bpf_fastcall " if fastcall else b"extern ", stream)
                    opts.field_name = name
                    lib.btf_dump__emit_type_decl(dump, proto_id, ctypes.byref(opts))
                    libc.fputs(b" __weak __ksym;\n", stream)
                libc.fputs(b"#endif\n\n", stream)
            libc.fputs(b"\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n"
                       b"#endif\n\n", stream)
            libc.fputs(f"#endif /* {guard} */\n".encode(), stream)

        text = self._dump(emit)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def format(self, t: Union[Type, int, str], data: Any, *, compact: bool = True,
               emit_zeroes: bool = False, skip_names: bool = False) -> str:
        """A value printed by its BTF type (``btf_dump__dump_type_data``), e.g.
        ``(struct event){.pid = (__u32)7,.comm = "sh",}``. ``data``: bytes-like or a ctypes
        instance of exactly the type's size (``ValueError`` otherwise)."""
        type_id = self._type_id(t)
        raw = bytes(data)
        if type_id:
            self._check(type_id)  # the data dumper follows members by value ...
            if not self._trusted:  # ... and trusts their offsets and sizes
                _btfraw.check_layout(self._handle(), type_id)
        try:
            size = lib.btf__resolve_size(self._handle(), type_id)
        except BpfError:
            raise TypeError(f"{_types.c_name(self._ptr, type_id)} has no size: only values of "
                            "sized types can be formatted") from None
        if len(raw) != size:
            raise ValueError(f"{_types.c_name(self._ptr, type_id)} has size {size}, "
                             f"{len(raw)} bytes given")
        buf = ctypes.create_string_buffer(raw, len(raw))
        opts = make_opts(_fb.btf_dump_type_data_opts, compact=compact, emit_zeroes=emit_zeroes,
                         skip_names=skip_names, indent_str=b"  ")

        def emit(dump: Any, stream: Any) -> None:
            lib.btf_dump__dump_type_data(dump, type_id, buf, len(raw), ctypes.byref(opts))

        return self._dump(emit)

    def __repr__(self) -> str:
        if self.closed:
            return f"<Btf '{self._label}' closed>"
        return f"<Btf '{self._label}' {len(self)} types>"


_PROLOGUE = (b"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push "
             b"(__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n"
             b"#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n\n"
             b"#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n"
             b"#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n"
             b"#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n"
             b"#define __bpf_fastcall\n#endif\n#endif\n\n")


def _kfuncs(p: Any, count: int) -> list[tuple[bytes, int, bool]]:
    """(name, FUNC_PROTO id, fastcall) of every kfunc: a FUNC with a whole-function
    ``bpf_kfunc`` DECL_TAG (pahole's decl_tag_kfuncs), sorted by name as bpftool sorts them."""
    kfuncs: dict[int, bytes] = {}
    fastcall: set[int] = set()
    for i in range(1, count):
        addr = lib.btf__type_by_id(p, i)
        if addr is None:  # ids below btf__type_cnt all exist: not reached
            continue
        info = ctypes.c_uint32.from_address(addr + 4).value
        if (info >> 24) & 0x1F != BTF_KIND_DECL_TAG:
            continue
        t = _types.raw_type(p, i)
        if t.extra != -1 or t.name not in ("bpf_kfunc", "bpf_fastcall"):
            continue  # component_idx -1: the tag is on the whole function
        target = _types.raw_type(p, t.size_or_type)
        if target.kind != BTF_KIND_FUNC:
            continue
        if t.name == "bpf_kfunc":
            kfuncs[t.size_or_type] = target.name.encode()
        else:
            fastcall.add(t.size_or_type)
    return sorted((name, _types.raw_type(p, fid).size_or_type, fid in fastcall)
                  for fid, name in kfuncs.items())
