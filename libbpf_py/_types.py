"""BTF types as Python values: raw BTF records, ctypes types, numpy dtypes and map codecs.

- ``raw_type(btf, id)`` parses one ``struct btf_type`` record (and what follows it) into a
  ``RawType`` tuple; ``btf.py`` builds its ``Type`` view on it.
- ``ctype_for(btf, id)`` gives the ctypes type of a BTF type (structs/unions become
  ``BtfStruct``/``BtfUnion`` subclasses with a readable repr, arrays ctypes arrays, enums
  ``IntEnum`` on access), cached per (BTF, id); ``ctype_for_name(btf, "struct event")`` by name.
- ``numpy_dtype(ctype)``: the numpy structured dtype of a ctypes type (numpy imported lazily).
- A ``Codec`` knows a fixed C size: ``encode(obj)`` gives bytes of exactly that size and
  ``decode(buf)`` gives the Python value back. ``codec_for(btf, type_id, size, what)`` picks the
  codec of a map key/value: ints as int, enums as their enum, char arrays as bytes, structs and
  unions as ctypes structures, arrays as lists; raw bytes of the exact size are always accepted.

``btf`` arguments are a ``Btf`` or a raw ``struct btf *`` (``bpf_object__btf``). Caches keyed by
the ``struct btf`` address are dropped by ``forget(addr)`` when its owner frees it.
"""

from __future__ import annotations

import ctypes
import struct
import sys

from ._ffi import lib
from ._ffi.functions import btf_p

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["Codec", "IntCodec", "BytesCodec", "codec_for", "ctype_for", "ctype_for_name",
           "numpy_dtype", "BtfStruct", "BtfUnion", "OutOfRangeError"]

# BTF kinds (linux/btf.h)
(BTF_KIND_UNKN, BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_ARRAY, BTF_KIND_STRUCT, BTF_KIND_UNION,
 BTF_KIND_ENUM, BTF_KIND_FWD, BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST,
 BTF_KIND_RESTRICT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_VAR, BTF_KIND_DATASEC,
 BTF_KIND_FLOAT, BTF_KIND_DECL_TAG, BTF_KIND_TYPE_TAG, BTF_KIND_ENUM64) = range(20)
BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL = 1, 2, 4
_MODIFIERS = frozenset({BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST, BTF_KIND_RESTRICT,
                        BTF_KIND_TYPE_TAG})
_KIND_WORD = {BTF_KIND_STRUCT: "struct", BTF_KIND_UNION: "union", BTF_KIND_ENUM: "enum",
              BTF_KIND_ENUM64: "enum"}


class OutOfRangeError(OverflowError, ValueError):
    """A value does not fit its C type (an ``OverflowError`` and a ``ValueError``)."""


# --- raw BTF records

_U32x3 = struct.Struct("=III")


class RawType(tuple):  # a plain tuple subclass: cheap, immutable
    """(kind, name, size_or_type, kind_flag, vlen, extra): one parsed ``struct btf_type``.

    ``extra`` depends on the kind: INT ``(encoding, bit_offset, bits)``; ARRAY ``(elem_type,
    index_type, nelems)``; STRUCT/UNION ``[(name, type, bit_offset, bitfield_size)]``;
    ENUM/ENUM64 ``[(name, value)]``; FUNC_PROTO ``[(name, type)]``; VAR ``linkage``;
    DATASEC ``[(var_type, offset, size)]``; DECL_TAG ``component_idx``; else None.
    """

    __slots__ = ()

    kind = property(lambda self: self[0])
    name = property(lambda self: self[1])
    size_or_type = property(lambda self: self[2])
    kind_flag = property(lambda self: self[3])
    vlen = property(lambda self: self[4])
    extra = property(lambda self: self[5])


def as_btf_p(btf: Any) -> Any:
    """The ``struct btf *`` of a ``Btf`` or of a raw pointer."""
    handle = getattr(btf, "_handle", None)
    if handle is not None:
        return handle()
    if isinstance(btf, int):
        return ctypes.cast(ctypes.c_void_p(btf), btf_p)
    return ctypes.cast(btf, btf_p)


def btf_addr(p: Any) -> int:
    return ctypes.cast(p, ctypes.c_void_p).value or 0


def _name(p: Any, off: int) -> str:
    s = lib.btf__name_by_offset(p, off)
    return s.decode() if s else ""


def raw_type(p: Any, type_id: int) -> RawType:
    """Parse type ``type_id`` of the ``struct btf *`` p. KeyError if there is no such id."""
    if type_id == 0:
        return RawType((BTF_KIND_UNKN, "void", 0, False, 0, None))
    if type_id >= lib.btf__type_cnt(p) or type_id < 0:
        raise KeyError(f"no BTF type id {type_id}")
    addr = lib.btf__type_by_id(p, type_id)
    if not addr:
        raise KeyError(f"no BTF type id {type_id}")
    name_off, info, st = _U32x3.unpack(ctypes.string_at(addr, 12))
    kind = (info >> 24) & 0x1F
    vlen = info & 0xFFFF
    kflag = bool(info >> 31)
    extra: Any = None
    rec = addr + 12
    if kind == BTF_KIND_INT:
        enc = struct.unpack("=I", ctypes.string_at(rec, 4))[0]
        extra = ((enc >> 24) & 0x0F, (enc >> 16) & 0xFF, enc & 0xFF)
    elif kind == BTF_KIND_ARRAY:
        extra = _U32x3.unpack(ctypes.string_at(rec, 12))
    elif kind in (BTF_KIND_STRUCT, BTF_KIND_UNION):
        words = struct.unpack(f"={3 * vlen}I", ctypes.string_at(rec, 12 * vlen))
        members = []
        for i in range(0, 3 * vlen, 3):
            off = words[i + 2]
            bitsize = off >> 24 if kflag else 0
            bitoff = off & 0xFFFFFF if kflag else off
            members.append((_name(p, words[i]), words[i + 1], bitoff, bitsize))
        extra = members
    elif kind == BTF_KIND_ENUM:
        fmt = "i" if kflag else "I"
        words = struct.unpack("=" + ("I" + fmt) * vlen, ctypes.string_at(rec, 8 * vlen))
        extra = [(_name(p, words[i]), words[i + 1]) for i in range(0, 2 * vlen, 2)]
    elif kind == BTF_KIND_ENUM64:
        words = struct.unpack(f"={3 * vlen}I", ctypes.string_at(rec, 12 * vlen))
        vals = []
        for i in range(0, 3 * vlen, 3):
            v = words[i + 1] | (words[i + 2] << 32)
            if kflag and v >= 1 << 63:
                v -= 1 << 64
            vals.append((_name(p, words[i]), v))
        extra = vals
    elif kind == BTF_KIND_FUNC_PROTO:
        words = struct.unpack(f"={2 * vlen}I", ctypes.string_at(rec, 8 * vlen))
        extra = [(_name(p, words[i]), words[i + 1]) for i in range(0, 2 * vlen, 2)]
    elif kind == BTF_KIND_VAR:
        extra = struct.unpack("=I", ctypes.string_at(rec, 4))[0]
    elif kind == BTF_KIND_DATASEC:
        words = struct.unpack(f"={3 * vlen}I", ctypes.string_at(rec, 12 * vlen))
        extra = [tuple(words[i:i + 3]) for i in range(0, 3 * vlen, 3)]
    elif kind == BTF_KIND_DECL_TAG:
        extra = struct.unpack("=i", ctypes.string_at(rec, 4))[0]
    return RawType((kind, _name(p, name_off), st, kflag, vlen, extra))


def skip_modifiers(p: Any, type_id: int) -> tuple[int, RawType]:
    """Follow typedef/const/volatile/restrict/type_tag to the underlying type."""
    t = raw_type(p, type_id)
    for _ in range(64):
        if t.kind not in _MODIFIERS:
            break
        type_id = t.size_or_type
        t = raw_type(p, type_id)
    return type_id, t


def c_name(p: Any, type_id: int) -> str:
    """A C-like spelling of a type ("struct event", "unsigned int", "char[16]", "u32 *")."""
    t = raw_type(p, type_id)
    word = _KIND_WORD.get(t.kind)
    if word:
        return f"{word} {t.name}" if t.name else f"{word} <anon>"
    if t.kind == BTF_KIND_PTR:
        return c_name(p, t.size_or_type) + " *"
    if t.kind == BTF_KIND_ARRAY:
        dims = ""
        while t.kind == BTF_KIND_ARRAY:
            dims += f"[{t.extra[2]}]"
            elem = t.extra[0]
            t = raw_type(p, elem)
        return f"{c_name(p, elem)}{dims}"
    if t.kind in (BTF_KIND_CONST, BTF_KIND_VOLATILE, BTF_KIND_RESTRICT):
        qual = {BTF_KIND_CONST: "const", BTF_KIND_VOLATILE: "volatile",
                BTF_KIND_RESTRICT: "restrict"}[t.kind]
        return f"{qual} {c_name(p, t.size_or_type)}"
    if t.kind == BTF_KIND_FWD:
        return f"{'union' if t.kind_flag else 'struct'} {t.name}"
    return t.name or f"<{_KIND_NAMES[t.kind]} {type_id}>"


_KIND_NAMES = ("UNKN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
               "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT",
               "DECL_TAG", "TYPE_TAG", "ENUM64")


def find_by_c_name(p: Any, spelling: str) -> int:
    """Type id of "struct event", "union u", "enum e", or a plain name (typedef, int ...)."""
    words = spelling.split()
    kinds: tuple[int, ...]
    if len(words) == 2 and words[0] in ("struct", "union", "enum"):
        name = words[1]
        kinds = {"struct": (BTF_KIND_STRUCT,), "union": (BTF_KIND_UNION,),
                 "enum": (BTF_KIND_ENUM, BTF_KIND_ENUM64)}[words[0]]
    else:
        name = " ".join(words)
        kinds = (BTF_KIND_TYPEDEF, BTF_KIND_INT, BTF_KIND_FLOAT, BTF_KIND_STRUCT, BTF_KIND_UNION,
                 BTF_KIND_ENUM, BTF_KIND_ENUM64)
    for kind in kinds:
        found = lib.btf__find_by_name_kind(p, name.encode(), kind)
        if found > 0:
            return found
    raise KeyError(f"no BTF type {spelling!r}")


# --- BTF -> ctypes

class _BtfRecord:
    """Mixin of the generated structures/unions: readable repr, equality, dict view."""

    _btf_name_: str = ""
    _btf_enums_: dict[str, Any] = {}

    def _field_names(self) -> list[str]:
        return list(type(self)._names_)  # type: ignore[attr-defined]

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict (nested records stay records)."""
        return {n: from_ctype(getattr(self, n)) for n in self._field_names()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={from_ctype(getattr(self, n))!r}" for n in self._field_names())
        return f"{self._btf_name_}({inner})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ctypes.Structure, ctypes.Union)):
            return type(other) is type(self) and bytes(other) == bytes(self)  # type: ignore
        if isinstance(other, dict):
            return self._asdict() == other
        if isinstance(other, tuple):
            return tuple(from_ctype(getattr(self, n)) for n in self._field_names()) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable


class BtfStruct(_BtfRecord, ctypes.Structure):
    """Base of the ctypes structures made from BTF structs."""


class BtfUnion(_BtfRecord, ctypes.Union):
    """Base of the ctypes unions made from BTF unions."""


_INTS = {(1, False): ctypes.c_uint8, (1, True): ctypes.c_int8, (2, False): ctypes.c_uint16,
         (2, True): ctypes.c_int16, (4, False): ctypes.c_uint32, (4, True): ctypes.c_int32,
         (8, False): ctypes.c_uint64, (8, True): ctypes.c_int64}

_ctype_cache: dict[tuple[int, int], Any] = {}
_enum_cache: dict[tuple[int, int], Any] = {}


def forget(addr: int) -> None:
    """Drop every cached type of the ``struct btf`` at ``addr`` (its owner is freeing it)."""
    for cache in (_ctype_cache, _enum_cache):
        for key in [k for k in cache if k[0] == addr]:
            del cache[key]


def _py_ident(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "anon"


def enum_for(btf: Any, type_id: int) -> Any:
    """The ``IntEnum`` of a BTF enum (cached per (BTF, id))."""
    p = as_btf_p(btf)
    key = (btf_addr(p), type_id)
    cls = _enum_cache.get(key)
    if cls is None:
        import enum

        t = raw_type(p, type_id)
        members = [(n, v) for n, v in t.extra] if t.extra else []
        cls = enum.IntEnum(_py_ident(t.name or f"enum_{type_id}"), members)  # type: ignore
        _enum_cache[key] = cls
    return cls


def ctype_for(btf: Any, type_id: int) -> Any:
    """The ctypes type of BTF type ``type_id`` (cached per (BTF, id)).

    ints -> ``c_int8``..``c_uint64`` (``c_bool`` for bool, ``c_char`` for char), enums -> their
    integer type (struct fields of enum type read as ``IntEnum``), pointers -> ``c_uint64``,
    floats -> ``c_float``/``c_double``, arrays -> ctypes arrays, structs/unions ->
    ``BtfStruct``/``BtfUnion`` subclasses laid out at BTF's exact offsets (bitfields as
    properties), typedefs/modifiers -> their target. ``TypeError`` for void, functions and
    forward declarations (no size).
    """
    p = as_btf_p(btf)
    key = (btf_addr(p), type_id)
    ct = _ctype_cache.get(key)
    if ct is None:
        ct = _build(p, type_id, 0)
        _ctype_cache[key] = ct
    return ct


def ctype_for_name(btf: Any, spelling: str) -> Any:
    """``ctype_for`` by C spelling: ``"struct event"``, ``"union u"``, ``"enum e"``, a typedef
    name (``"u32"``) or a base type (``"unsigned int"``). ``KeyError`` if BTF has no such type."""
    p = as_btf_p(btf)
    return ctype_for(btf, find_by_c_name(p, spelling))


def _int_ctype(t: RawType) -> Any:
    enc, _bitoff, bits = t.extra
    size = t.size_or_type
    if enc & BTF_INT_BOOL and size == 1:
        return ctypes.c_bool
    if enc & BTF_INT_CHAR and size == 1 or (t.name == "char" and size == 1):
        return ctypes.c_char
    ct = _INTS.get((size, bool(enc & BTF_INT_SIGNED)))
    if ct is None:  # __int128 and friends: raw bytes
        return ctypes.c_char * size
    return ct


def _build(p: Any, type_id: int, depth: int) -> Any:
    if depth > 64:
        raise TypeError(f"BTF type {type_id} nests too deeply")
    t = raw_type(p, type_id)
    k = t.kind
    if k in _MODIFIERS:
        return ctype_for(p, t.size_or_type)
    if k == BTF_KIND_INT:
        return _int_ctype(t)
    if k in (BTF_KIND_ENUM, BTF_KIND_ENUM64):
        size = t.size_or_type
        return _INTS.get((size, t.kind_flag), ctypes.c_char * size)
    if k == BTF_KIND_PTR:
        return ctypes.c_uint64  # BPF (and every 64-bit host) pointers: an address as int
    if k == BTF_KIND_FLOAT:
        return {4: ctypes.c_float, 8: ctypes.c_double}.get(t.size_or_type,
                                                            ctypes.c_char * t.size_or_type)
    if k == BTF_KIND_ARRAY:
        elem, _index, n = t.extra
        return ctype_for(p, elem) * n
    if k in (BTF_KIND_STRUCT, BTF_KIND_UNION):
        return _record(p, type_id, t)
    if k == BTF_KIND_VAR:
        return ctype_for(p, t.size_or_type)
    raise TypeError(f"BTF type {type_id} ({c_name(p, type_id)}, {_KIND_NAMES[k]}) has no "
                    "ctypes equivalent")


def _bitfield_property(name: str, byte_off: int, nbytes: int, shift: int, bits: int,
                       signed: bool, label: str) -> property:
    mask = (1 << bits) - 1
    order = sys.byteorder  # BTF bit offsets follow the target's (= host's) byte order

    def get(self: Any) -> int:
        raw = ctypes.string_at(ctypes.addressof(self) + byte_off, nbytes)
        v = (int.from_bytes(raw, order) >> shift) & mask
        if signed and v >> (bits - 1):
            v -= 1 << bits
        return v

    def put(self: Any, value: int) -> None:
        value = int(value)
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, mask)
        if not lo <= value <= hi:
            raise OutOfRangeError(f"{label}: {value} does not fit a {bits}-bit "
                                  f"{'signed' if signed else 'unsigned'} bitfield")
        addr = ctypes.addressof(self) + byte_off
        raw = int.from_bytes(ctypes.string_at(addr, nbytes), order)
        raw = (raw & ~(mask << shift)) | ((value & mask) << shift)
        ctypes.memmove(addr, raw.to_bytes(nbytes, order), nbytes)

    return property(get, put, doc=f"{bits}-bit bitfield")


def _enum_property(raw_name: str, enum_cls: Any) -> property:
    def get(self: Any) -> Any:
        v = getattr(self, raw_name)
        try:
            return enum_cls(v)
        except ValueError:
            return v

    def put(self: Any, value: Any) -> None:
        setattr(self, raw_name, int(value))

    return property(get, put)


def _record(p: Any, type_id: int, t: RawType) -> Any:
    is_union = t.kind == BTF_KIND_UNION
    label = c_name(p, type_id)
    size = t.size_or_type
    fields: list[tuple[Any, ...]] = []
    anonymous: list[str] = []
    names: list[str] = []
    extras: dict[str, Any] = {}
    info: dict[str, tuple[int, Any]] = {}  # field name -> (type id, ctype) for encoders
    pos = 0
    npad = 0
    for i, (mname, mtype, bitoff, bitsize) in enumerate(t.extra):
        rid, rt = skip_modifiers(p, mtype)
        if not bitsize and rt.kind == BTF_KIND_INT and rt.extra[2] != rt.size_or_type * 8:
            bitsize = rt.extra[2]  # old-style bitfield: INT with fewer bits
        if bitsize or bitoff % 8:
            if not mname:
                continue  # unnamed bitfield: padding
            byte_off = bitoff // 8
            shift = bitoff % 8
            nbytes = (shift + bitsize + 7) // 8
            if byte_off + nbytes > size:
                nbytes = size - byte_off
            signed = rt.kind == BTF_KIND_INT and bool(rt.extra[0] & BTF_INT_SIGNED) or \
                rt.kind in (BTF_KIND_ENUM, BTF_KIND_ENUM64) and rt.kind_flag
            extras[mname] = _bitfield_property(mname, byte_off, nbytes, shift, bitsize,
                                               signed, f"{label}.{mname}")
            names.append(mname)
            info[mname] = (mtype, None)
            continue
        ct = ctype_for(p, mtype)
        off = bitoff // 8
        fname = mname or f"_anon{i}"
        if not mname:
            anonymous.append(fname)
        if not is_union:
            if off < pos:  # overlapping member (should not happen in a struct): skip it
                continue
            if off > pos:
                fields.append((f"_pad{npad}", ctypes.c_char * (off - pos)))
                npad += 1
            pos = off + ctypes.sizeof(ct)
        if rt.kind in (BTF_KIND_ENUM, BTF_KIND_ENUM64) and mname:
            raw = f"_raw_{mname}"
            fields.append((raw, ct))
            extras[mname] = _enum_property(raw, enum_for(p, rid))
        else:
            fields.append((fname, ct))
        if mname:
            names.append(mname)
            info[mname] = (mtype, ct)
        else:
            # members of an anonymous struct/union are reached directly
            sub = getattr(ct, "_names_", [])
            names.extend(sub)
            info.update(getattr(ct, "_info_", {}))
    if not is_union and pos < size:
        fields.append((f"_pad{npad}", ctypes.c_char * (size - pos)))
    if is_union:
        fields.append(("_raw_bytes_", ctypes.c_char * size))
    base = BtfUnion if is_union else BtfStruct
    ns: dict[str, Any] = {"_pack_": 1, "_names_": names, "_info_": info, "_btf_name_": label,
                          "__module__": __name__}
    if anonymous:
        ns["_anonymous_"] = anonymous
    cls: Any = type(_py_ident(t.name or f"anon_{type_id}"), (base,), ns)
    cls._fields_ = fields  # set after creation: ctypes lays the record out here
    for n, prop in extras.items():
        setattr(cls, n, prop)
    if ctypes.sizeof(cls) != size:
        raise TypeError(f"{label}: ctypes layout of size {ctypes.sizeof(cls)} differs from "
                        f"BTF size {size}")
    return cls


# --- numpy

def numpy_dtype(ctype: Any) -> Any:
    """The numpy dtype of a ctypes type (structured for structures, subarrays for arrays).

    numpy is imported here, on first use (an optional dependency). Padding is left out of the
    fields but the itemsize and offsets are exact; members of anonymous structs/unions appear
    directly in their parent; bitfields have no numpy equivalent and are left out.
    """
    import numpy as np

    if _is_sub(ctype, (ctypes.Structure, ctypes.Union)):
        names: list[str] = []
        formats: list[Any] = []
        offsets: list[int] = []
        anonymous = getattr(ctype, "_anonymous_", ())
        for fname, ftype, *bits in ctype._fields_:
            if fname.startswith("_pad") or fname == "_raw_bytes_" or bits:
                continue  # padding, or a ctypes bitfield (no numpy equivalent)
            off = getattr(ctype, fname).offset
            sub = numpy_dtype(ftype)
            if fname in anonymous and sub.names:
                for n in sub.names:
                    dt, o = sub.fields[n][:2]
                    names.append(n)
                    formats.append(dt)
                    offsets.append(off + o)
                continue
            names.append(fname[5:] if fname.startswith("_raw_") else fname)
            formats.append(sub)
            offsets.append(off)
        return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                         "itemsize": ctypes.sizeof(ctype)})
    if _is_sub(ctype, ctypes.Array):
        if ctype._type_ is ctypes.c_char:
            return np.dtype(f"S{ctype._length_}")
        return np.dtype((numpy_dtype(ctype._type_), (ctype._length_,)))
    if ctype is ctypes.c_char:
        return np.dtype("S1")
    return np.dtype(ctype)


# --- codecs

class Codec:
    """Raw bytes of a fixed size (also the base of every codec)."""

    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what  # "key" or "value", for messages

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray, memoryview)):
            data = bytes(obj)
        elif isinstance(obj, (ctypes.Structure, ctypes.Union, ctypes.Array)):
            data = bytes(obj)
        else:
            raise TypeError(
                f"{self.what} must be bytes of size {self.size}, not {type(obj).__name__}"
            )
        if len(data) != self.size:
            raise ValueError(
                f"{self.what} has size {len(data)} but the map's {self.what} size is {self.size}"
            )
        return data

    def decode(self, data: bytes) -> Any:
        return data


BytesCodec = Codec


class IntCodec(Codec):
    """A C integer (or enum) of 1, 2, 4 or 8 bytes, as a Python int; raw bytes also accepted."""

    _FORMATS = {1: "b", 2: "h", 4: "i", 8: "q"}

    def __init__(self, size: int, signed: bool, what: str) -> None:
        super().__init__(size, what)
        self.signed = signed
        fmt = self._FORMATS[size]
        self._struct = struct.Struct("=" + (fmt if signed else fmt.upper()))
        self._pack = self._struct.pack
        self._unpack = self._struct.unpack
        self.type_name = f"{'' if signed else 'unsigned '}{size * 8}-bit integer"

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, int):
            try:
                return self._pack(obj)
            except struct.error:
                kind = "signed" if self.signed else "unsigned"
                raise OutOfRangeError(
                    f"{self.what} {obj} does not fit a {kind} {self.size * 8}-bit integer"
                ) from None
        return super().encode(obj)

    def decode(self, data: bytes) -> int:
        return self._unpack(data)[0]


class EnumCodec(IntCodec):
    """A C enum: decodes to its ``IntEnum`` (plain int for values the enum does not name)."""

    def __init__(self, size: int, signed: bool, what: str, enum_cls: Any) -> None:
        super().__init__(size, signed, what)
        self.enum = enum_cls
        self._members = enum_cls._value2member_map_

    def decode(self, data: bytes) -> Any:
        v = self._unpack(data)[0]
        return self._members.get(v, v)


class BoolCodec(IntCodec):
    """A C ``bool``: decodes to ``bool``."""

    def decode(self, data: bytes) -> Any:
        return self._unpack(data)[0] != 0


class CTypeCodec(Codec):
    """A value of a ctypes type made from BTF (struct, union, array, float, char array).

    Decodes to the ctypes structure/union, a list for arrays, bytes (up to the first NUL) for
    char arrays. Encodes the same, plus dicts/tuples for structs, sequences for arrays, str/bytes
    for char arrays, raw bytes of the exact size; fields are checked before any syscall.
    """

    def __init__(self, ctype: Any, what: str, label: str) -> None:
        super().__init__(ctypes.sizeof(ctype), what)
        self.ctype = ctype
        self.label = label

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray, memoryview)) and not _is_char_array(self.ctype):
            return super().encode(obj)
        if isinstance(obj, self.ctype):
            return bytes(obj)
        return bytes(to_ctype(self.ctype, obj, f"{self.what} ({self.label})"))

    def decode(self, data: bytes) -> Any:
        return from_ctype(self.ctype.from_buffer_copy(data))


def _is_sub(ct: Any, cls: Any) -> bool:
    """issubclass for a ctypes type held in an untyped variable (no narrowing for mypy)."""
    return isinstance(ct, type) and issubclass(ct, cls)


def _is_char_array(ct: Any) -> bool:
    return isinstance(ct, type) and issubclass(ct, ctypes.Array) and ct._type_ is ctypes.c_char


def from_ctype(v: Any) -> Any:
    """A Python value from a ctypes instance: arrays become lists (char arrays bytes)."""
    if isinstance(v, ctypes.Array):
        if type(v)._type_ is ctypes.c_char:
            return v.value
        return [from_ctype(x) for x in v]
    if isinstance(v, ctypes._SimpleCData):
        return v.value
    return v


def _int_range(ct: Any) -> Optional[tuple[int, int]]:
    if ct is ctypes.c_bool:
        return None
    if _is_sub(ct, ctypes._SimpleCData) and getattr(ct, "_type_", "") in "bBhHiIlLqQ":
        bits = ctypes.sizeof(ct) * 8
        if ct(-1).value < 0:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1
    return None


def to_ctype(ct: Any, obj: Any, where: str) -> Any:
    """A new instance of ``ct`` from a Python value, checked: ``where`` names it in errors."""
    if isinstance(obj, ct) if isinstance(ct, type) else False:
        return obj
    tname = getattr(ct, "_btf_name_", None) or getattr(ct, "__name__", str(ct))
    if _is_sub(ct, (BtfStruct, BtfUnion)):
        inst = ct()
        if isinstance(obj, (bytes, bytearray, memoryview)):
            if len(obj) != ctypes.sizeof(ct):
                raise ValueError(f"{where}: {len(obj)} bytes given, {tname} has size "
                                 f"{ctypes.sizeof(ct)}")
            return ct.from_buffer_copy(bytes(obj))
        names = ct._names_
        items: Any
        if isinstance(obj, dict):
            items = obj.items()
        elif isinstance(obj, (tuple, list)):
            if len(obj) > len(names):
                raise ValueError(f"{where}: {len(obj)} values given, {tname} has "
                                 f"{len(names)} fields ({', '.join(names)})")
            items = zip(names, obj)
        else:
            raise TypeError(f"{where}: {tname} expects a {tname}, a dict, a tuple or bytes, "
                            f"not {type(obj).__name__}")
        for name, value in items:
            if name not in ct._info_:
                raise TypeError(f"{where}: {tname} has no field {name!r} (fields: "
                                f"{', '.join(names)})")
            set_field(inst, name, value, f"{where}: {tname}.{name}")
        return inst
    if _is_sub(ct, ctypes.Array):
        n = ct._length_
        if ct._type_ is ctypes.c_char:
            if isinstance(obj, str):
                obj = obj.encode()
            if not isinstance(obj, (bytes, bytearray, memoryview)):
                raise TypeError(f"{where}: {tname} expects bytes or str, not "
                                f"{type(obj).__name__}")
            if len(obj) > n:
                raise ValueError(f"{where}: {len(obj)} bytes do not fit char[{n}]")
            return ct.from_buffer_copy(bytes(obj).ljust(n, b"\0"))
        if isinstance(obj, (bytes, bytearray, memoryview)):
            if len(obj) != ctypes.sizeof(ct):
                raise ValueError(f"{where}: {len(obj)} bytes given, the array has size "
                                 f"{ctypes.sizeof(ct)}")
            return ct.from_buffer_copy(bytes(obj))
        try:
            seq = list(obj)
        except TypeError:
            raise TypeError(f"{where}: expects a sequence of {n}, not "
                            f"{type(obj).__name__}") from None
        if len(seq) > n:
            raise ValueError(f"{where}: {len(seq)} elements do not fit an array of {n}")
        arr = ct()
        for i, v in enumerate(seq):
            elem = _scalar_or_record(ct._type_, v, f"{where}[{i}]")
            arr[i] = elem.raw if _is_char_array(ct._type_) else elem
        return arr
    return ct(_check_scalar(ct, obj, where))


def _check_scalar(ct: Any, obj: Any, where: str) -> Any:
    if ct is ctypes.c_char:
        if isinstance(obj, int) and 0 <= obj < 256:
            return bytes([obj])
        if isinstance(obj, (bytes, bytearray)) and len(obj) == 1:
            return bytes(obj)
        raise ValueError(f"{where}: a char takes one byte or an int 0..255, not {obj!r}")
    if ct in (ctypes.c_float, ctypes.c_double):
        if not isinstance(obj, (int, float)):
            raise TypeError(f"{where}: expects a number, not {type(obj).__name__}")
        return obj
    if ct is ctypes.c_bool:
        return bool(obj)
    rng = _int_range(ct)
    if rng is not None:
        if not isinstance(obj, int):
            raise TypeError(f"{where}: expects an int, not {type(obj).__name__}")
        if not rng[0] <= obj <= rng[1]:
            bits = ctypes.sizeof(ct) * 8
            raise OutOfRangeError(f"{where}: {obj} does not fit a "
                                  f"{'signed' if rng[0] else 'unsigned'} {bits}-bit integer")
        return int(obj)
    return obj


def _scalar_or_record(ct: Any, obj: Any, where: str) -> Any:
    if isinstance(ct, type) and issubclass(ct, (ctypes.Structure, ctypes.Union, ctypes.Array)):
        return to_ctype(ct, obj, where)
    return _check_scalar(ct, obj, where)


def set_field(inst: Any, name: str, value: Any, where: str) -> None:
    """Assign a checked value to a field of a BtfStruct/BtfUnion instance."""
    _mtype, ct = type(inst)._info_[name]
    if ct is None:  # bitfield property: checks its own range
        if not isinstance(value, int):
            raise TypeError(f"{where}: expects an int, not {type(value).__name__}")
        try:
            setattr(inst, name, value)
        except OutOfRangeError as e:
            raise OutOfRangeError(f"{where}: {e.args[0].split(': ', 1)[-1]}") from None
        return
    v = _scalar_or_record(ct, value, where)
    if _is_char_array(ct):
        v = v.raw  # a char[N] field is set from bytes, not from a c_char array
    setattr(inst, name, v)


def codec_for(btf: Any, type_id: int, size: int, what: str) -> Codec:
    """The codec for a map key or value: from BTF when it describes the type, else bytes.

    ``btf``: a ``Btf`` or a ``struct btf *`` (may be NULL/None); ``type_id`` 0 means no BTF.
    """
    if not btf or not type_id:
        return Codec(size, what)
    p = as_btf_p(btf)
    try:
        rid, t = skip_modifiers(p, type_id)
    except KeyError:
        return Codec(size, what)
    k = t.kind
    if k == BTF_KIND_INT and t.size_or_type == size and t.extra[2] == size * 8 \
            and size in IntCodec._FORMATS:
        if t.extra[0] & BTF_INT_BOOL:
            return BoolCodec(size, False, what)
        if not (t.extra[0] & BTF_INT_CHAR):
            return IntCodec(size, bool(t.extra[0] & BTF_INT_SIGNED), what)
    if k in (BTF_KIND_ENUM, BTF_KIND_ENUM64) and t.size_or_type == size \
            and size in IntCodec._FORMATS:
        return EnumCodec(size, t.kind_flag, what, enum_for(p, rid))
    if k == BTF_KIND_PTR and size == 8:
        return IntCodec(size, False, what)
    try:
        ct = ctype_for(p, type_id)
    except TypeError:
        return Codec(size, what)
    if ctypes.sizeof(ct) != size:
        return Codec(size, what)
    return CTypeCodec(ct, what, c_name(p, type_id))
