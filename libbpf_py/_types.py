"""BTF types as Python values: raw BTF records, ctypes types, numpy dtypes and map codecs.

- ``raw_type(btf, id)`` parses one ``struct btf_type`` record (and what follows it) into a
  ``RawType`` tuple; ``btf.py`` builds its ``Type`` view on it.
- ``ctype_for(btf, id)`` gives the ctypes type of a BTF type (structs/unions become
  ``BtfStruct``/``BtfUnion`` subclasses with a readable repr, arrays ctypes arrays, enums
  ``IntEnum`` on access), cached per (BTF, id); ``ctype_for_name(btf, "struct event")`` by name.
- ``numpy_dtype(ctype)``: the numpy structured dtype of a ctypes type (numpy imported lazily).
- ``to_ctype``/``from_ctype``/``set_field``: checked conversions between Python values and
  these types (``_codecs.py`` builds map and global codecs on them).
- ``key_type(ct)``/``freeze(v)``: the hashable, read-only variant that decoded map keys have.
- ``c_uint128``/``c_int128``: ``__int128`` as a Python int (ctypes has no 128-bit integer).

``btf`` arguments are a ``Btf`` or a raw ``struct btf *`` (``bpf_object__btf``). Caches keyed by
the ``struct btf`` address are dropped by ``forget(addr)`` when its owner frees it.
"""

from __future__ import annotations

import ctypes
import sys
from _operator import attrgetter  # the C module: `operator` itself imports more
from _thread import _local

# re-exported: the raw layer's names are used through _types too
from ._btfraw import (BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_KIND_ARRAY,  # noqa: F401
                      BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM,
                      BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO,
                      BTF_KIND_FWD, BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_RESTRICT,
                      BTF_KIND_STRUCT, BTF_KIND_TYPE_TAG, BTF_KIND_TYPEDEF, BTF_KIND_UNION,
                      BTF_KIND_UNKN, BTF_KIND_VAR, BTF_KIND_VOLATILE, _KIND_NAMES, _MODIFIERS,
                      MalformedBtfError, OutOfRangeError, RawType, as_btf_p, btf_addr, c_name,
                      MAX_DEPTH, find_by_c_name, forget_checks, raw_type, skip_modifiers)

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Optional

__all__ = ["ctype_for", "ctype_for_name", "numpy_dtype", "BtfStruct", "BtfUnion",
           "OutOfRangeError", "c_uint128", "c_int128", "key_type", "freeze"]


# --- BTF -> ctypes

class _BtfRecord:
    """Mixin of the generated structures/unions: readable repr, equality, dict view."""

    _btf_name_: str = ""
    _btf_enums_: dict[str, Any] = {}
    _info_: dict[str, Any]  # field -> (type id, ctype): set on each generated class

    def _field_names(self) -> list[str]:
        return list(type(self)._names_)  # type: ignore[attr-defined]

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict (nested records stay records)."""
        return {n: from_ctype(getattr(self, n)) for n in self._field_names()}

    def _raw(self, name: str) -> bytes:
        """Every byte of field ``name``, NULs included (a ``char[N]`` field reads as a C
        string, up to its first NUL; this is the whole array)."""
        field = _field_descriptor(type(self), name)
        if field is None or not hasattr(field, "offset"):
            raise AttributeError(f"{self._btf_name_} has no field {name!r} with bytes of its "
                                 f"own (fields: {', '.join(self._field_names())})")
        return ctypes.string_at(ctypes.addressof(self) + field.offset,  # type: ignore
                                field.size)

    def _strings(self, name: str, count: Optional[int] = None) -> list[bytes]:
        """The NUL-separated strings in char array field ``name`` (argv, path segments):
        ``count`` of them if given, else every one up to the last NUL (a trailing run of
        NULs ends the list)."""
        data = self._raw(name)
        parts = data.split(b"\0")
        if count is not None:
            return parts[:count]
        while parts and not parts[-1]:
            parts.pop()
        return parts

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={from_ctype(getattr(self, n))!r}" for n in self._field_names())
        return f"{self._btf_name_}({inner})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ctypes.Structure, ctypes.Union)):
            return (_record_of(type(other)) is _record_of(type(self))
                    and bytes(other) == bytes(self))  # type: ignore[call-overload]
        if isinstance(other, dict):
            return self._asdict() == other
        if isinstance(other, tuple):
            return tuple(from_ctype(getattr(self, n)) for n in self._field_names()) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable


def _field_descriptor(cls: Any, name: str) -> Any:
    """The ctypes field (``CField``) or property called ``name`` of a record class."""
    raw = f"_raw_{name}"
    for klass in cls.__mro__:
        d = klass.__dict__
        if raw in d:
            return d[raw]
        if name in d:
            return d[name]
    return None


def _record_of(cls: Any) -> Any:
    """The record class behind its hashable key variant (``key_type``), else itself."""
    return cls.__dict__.get("_record_", cls)


class BtfStruct(_BtfRecord, ctypes.Structure):
    """Base of the ctypes structures made from BTF structs."""


class BtfUnion(_BtfRecord, ctypes.Union):
    """Base of the ctypes unions made from BTF unions."""


class c_uint128(ctypes.Structure):
    """``unsigned __int128`` (16 bytes, the target's byte order); ``.value`` is a Python int.

    ctypes has no 128-bit integer: struct fields, globals, map keys and values of this type
    read and write as ``int`` (range-checked), and 16 raw bytes are accepted where a value is
    written. An IPv6 address kept in one (tcptop, tcpconnect) is its memory:
    ``ipaddress.IPv6Address(value.to_bytes(16, sys.byteorder))``.
    """

    _pack_ = 1
    _fields_ = [("_bytes_", ctypes.c_uint8 * 16)]
    _signed_ = False

    def __init__(self, value: int = 0) -> None:
        super().__init__()
        if value:
            self.value = value

    @property
    def value(self) -> int:
        return int.from_bytes(bytes(self), sys.byteorder, signed=self._signed_)

    @value.setter
    def value(self, v: int) -> None:
        ctypes.memmove(ctypes.addressof(self), _int128_bytes(v, self._signed_, "value"), 16)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value})"


class c_int128(c_uint128):
    """``__int128`` (signed): see ``c_uint128``."""

    _signed_ = True


def _int128_bytes(v: Any, signed: bool, where: str) -> bytes:
    if isinstance(v, c_uint128):
        return bytes(v)
    if isinstance(v, (bytes, bytearray, memoryview)) and len(v) == 16:
        return bytes(v)
    if not isinstance(v, int):
        raise TypeError(f"{where}: a 128-bit integer takes an int (or 16 raw bytes), not "
                        f"{type(v).__name__}")
    try:
        return v.to_bytes(16, sys.byteorder, signed=signed)
    except OverflowError:
        raise OutOfRangeError(f"{where}: {v} does not fit a {'signed' if signed else 'unsigned'}"
                              " 128-bit integer") from None


def _chars_property(raw_name: str, ct: Any, label: str) -> property:
    """A ``char[N]`` member: reads as a C string (up to the first NUL), writes every byte given
    (ctypes' own setter stops at a NUL), padded with NULs; ``_raw(name)`` reads all N."""

    def get(self: Any) -> bytes:
        return getattr(self, raw_name)  # type: ignore[no-any-return]

    def put(self: Any, value: Any) -> None:
        data = to_ctype(ct, value, label).raw
        field = getattr(type(self), raw_name)
        ctypes.memmove(ctypes.addressof(self) + field.offset, data, len(data))

    return property(get, put, doc=f"char[{ct._length_}]")


def _int128_property(raw_name: str, signed: bool, label: str) -> property:
    def get(self: Any) -> int:
        return getattr(self, raw_name).value  # type: ignore[no-any-return]

    def put(self: Any, value: Any) -> None:
        field = getattr(type(self), raw_name)
        ctypes.memmove(ctypes.addressof(self) + field.offset,
                       _int128_bytes(value, signed, label), 16)

    return property(get, put, doc="128-bit integer")


_INTS = {(1, False): ctypes.c_uint8, (1, True): ctypes.c_int8, (2, False): ctypes.c_uint16,
         (2, True): ctypes.c_int16, (4, False): ctypes.c_uint32, (4, True): ctypes.c_int32,
         (8, False): ctypes.c_uint64, (8, True): ctypes.c_int64}

_ctype_cache: dict[tuple[int, int], Any] = {}
_tls = _local()  # per thread: the (BTF, id) pairs being built, to catch loops in the BTF
_enum_cache: dict[tuple[int, int], Any] = {}


def forget(addr: int) -> None:
    """Drop every cached type of the ``struct btf`` at ``addr`` (its owner is freeing it)."""
    for cache in (_ctype_cache, _enum_cache):
        for key in [k for k in cache if k[0] == addr]:
            del cache[key]
    forget_checks(addr)


def _py_ident(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "anon"


class _F(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int)]


_CFIELD = type(_F.a)  # what ctypes puts in a record class for each of its fields


def _promoted_property(anon: str, name: str) -> property:
    """Member ``name`` of the anonymous struct/union field ``anon``, reached from the record
    that holds it (ctypes' ``_anonymous_`` promotes only plain fields)."""
    return property(lambda self: getattr(getattr(self, anon), name),
                    lambda self, value: setattr(getattr(self, anon), name, value))


def _enum_members(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Enumerator names Python's enum accepts: BTF's may be empty, repeated or reserved
    (``_sunder_``) in a malformed BTF; such names get a suffix, values are kept."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, (n, v) in enumerate(pairs):
        name = _py_ident(n) if n else f"_{i}"
        if name.startswith("_") and name.endswith("_") or name[0].isdigit():
            name = f"m{name}"
        while name in seen:
            name = f"{name}_{i}"
        seen.add(name)
        out.append((name, v))
    return out


def enum_for(btf: Any, type_id: int) -> Any:
    """The ``IntEnum`` of a BTF enum (cached per (BTF, id))."""
    p = as_btf_p(btf)
    key = (btf_addr(p), type_id)
    cls = _enum_cache.get(key)
    if cls is None:
        import enum

        t = raw_type(p, type_id)
        members = [(n, v) for n, v in t.extra] if t.extra else []
        ident = _py_ident(t.name or f"enum_{type_id}")
        try:
            cls = enum.IntEnum(ident, members)  # type: ignore
        except (ValueError, TypeError):  # names a malformed BTF repeats or leaves empty
            cls = enum.IntEnum(ident, _enum_members(members))  # type: ignore
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
        try:
            building = _tls.building
        except AttributeError:
            building = _tls.building = set()
        if key in building or len(building) > MAX_DEPTH // 4:  # well under the recursion limit
            raise MalformedBtfError(f"BTF type {type_id} ({c_name(p, type_id)}) contains itself "
                                    f"by value, or nests deeper than {MAX_DEPTH // 4} "
                                    "(malformed BTF)")
        building.add(key)
        try:
            ct = _build(p, type_id, 0)
        finally:
            building.discard(key)
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
    if ct is None:
        if size == 16:  # __int128: a Python int, losslessly
            return c_int128 if enc & BTF_INT_SIGNED else c_uint128
        return ctypes.c_char * size  # other sizes (none in practice): raw bytes
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
    props: dict[str, tuple[Any, ...]] = {}  # property members, for code generators
    pos = 0
    npad = 0
    for i, (mname, mtype, bitoff, bitsize) in enumerate(t.extra):
        rid, rt = skip_modifiers(p, mtype)
        if not bitsize and rt.kind == BTF_KIND_INT and rt.extra[2] != rt.size_or_type * 8:
            bitsize = rt.extra[2]  # old-style bitfield: INT with fewer bits
        if bitsize or bitoff % 8:
            if not mname:
                continue  # unnamed bitfield: padding
            if not bitsize and rt.kind in (BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_ENUM64):
                bitsize = 8 * rt.size_or_type  # a whole integer at a bit offset
            if bitsize <= 0:
                raise MalformedBtfError(f"{label}: member {mname} starts at bit {bitoff} but "
                                        "is not an integer bitfield")
            byte_off = bitoff // 8
            shift = bitoff % 8
            nbytes = (shift + bitsize + 7) // 8
            if byte_off + nbytes > size or bitsize > 128:  # malformed: past the record's end
                raise MalformedBtfError(f"{label}: bitfield {mname} (bits {bitoff}.."
                                        f"{bitoff + bitsize}) lies outside its {size} bytes")
            signed = rt.kind == BTF_KIND_INT and bool(rt.extra[0] & BTF_INT_SIGNED) or \
                rt.kind in (BTF_KIND_ENUM, BTF_KIND_ENUM64) and rt.kind_flag
            extras[mname] = _bitfield_property(mname, byte_off, nbytes, shift, bitsize,
                                               signed, f"{label}.{mname}")
            props[mname] = ("bitfield", byte_off, nbytes, shift, bitsize, signed)
            names.append(mname)
            info[mname] = (mtype, None)
            continue
        ct = ctype_for(p, mtype)
        off = bitoff // 8
        fname = mname or f"_anon{i}"
        anon = not mname and _is_sub(ct, (ctypes.Structure, ctypes.Union)) \
            and not _is_sub(ct, c_uint128)  # its members are reached directly
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
            props[mname] = ("enum", raw, enum_for(p, rid))
        elif _is_char_array(ct) and mname:
            raw = f"_raw_{mname}"
            fields.append((raw, ct))
            extras[mname] = _chars_property(raw, ct, f"{label}.{mname}")
            props[mname] = ("chars", raw, ct)
        elif _is_sub(ct, c_uint128) and mname:
            raw = f"_raw_{mname}"
            fields.append((raw, ct))
            extras[mname] = _int128_property(raw, ct._signed_, f"{label}.{mname}")
            props[mname] = ("int128", raw, ct._signed_)
        else:
            fields.append((fname, ct))
            if anon:
                anonymous.append(fname)
        if mname:
            names.append(mname)
            info[mname] = (mtype, ct)
        elif fname not in anonymous:  # an unnamed non-record member (malformed): skipped
            continue
        else:
            # members of an anonymous struct/union are reached directly: ctypes promotes its
            # fields, not the properties of its enum, char array, bitfield ... members
            sub = getattr(ct, "_names_", [])
            names.extend(sub)
            info.update(getattr(ct, "_info_", {}))
            for n in sub:
                if not isinstance(getattr(ct, n, None), _CFIELD):
                    extras[n] = _promoted_property(fname, n)
    if not is_union and pos < size:
        fields.append((f"_pad{npad}", ctypes.c_char * (size - pos)))
    if is_union:
        fields.append(("_raw_bytes_", ctypes.c_char * size))
    base = BtfUnion if is_union else BtfStruct
    ns: dict[str, Any] = {"_pack_": 1, "_names_": names, "_info_": info, "_btf_name_": label,
                          "_props_": props, "__module__": __name__}
    if anonymous:
        ns["_anonymous_"] = anonymous
    cls: Any = type(_py_ident(t.name or f"anon_{type_id}"), (base,), ns)
    try:
        cls._fields_ = fields  # set after creation: ctypes lays the record out here
    except (AttributeError, TypeError, ValueError, OverflowError) as e:  # malformed members
        raise TypeError(f"{label}: its members have no ctypes layout ({e})") from None
    for n, prop in extras.items():
        setattr(cls, n, prop)
    if ctypes.sizeof(cls) != size:
        raise TypeError(f"{label}: ctypes layout of size {ctypes.sizeof(cls)} differs from "
                        f"BTF size {size}")
    return cls


# --- hashable map keys

class _KeyRecord:
    """Mixin of ``key_type`` variants: read-only, hashable and equal by value."""

    def __setattr__(self, name: str, value: Any) -> None:
        rec = _record_of(type(self))
        raise TypeError(f"{getattr(rec, '_btf_name_', rec.__name__)}: a key read from a map is "
                        f"read-only (it is hashable); build another key instead: a dict, a "
                        f"tuple or {rec.__name__}(...)")

    #: The tuple of the field values (``key_type``), None for records not made from BTF.
    _values_: Optional[Callable[[Any], tuple[Any, ...]]] = None

    def __hash__(self) -> int:
        values = type(self)._values_
        if values is None:
            return hash(bytes(self))  # type: ignore[call-overload]
        # by field values, so that a key equal to a tuple of its values hashes like it
        return hash(values(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ctypes.Structure, ctypes.Union)):
            return (_record_of(type(other)) is _record_of(type(self))
                    and bytes(other) == bytes(self))  # type: ignore[call-overload]
        rec = _record_of(type(self))
        if issubclass(rec, _BtfRecord):
            return rec.from_buffer_copy(self) == other  # type: ignore[no-any-return]
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq


def freeze(v: Any) -> Any:
    """A hashable copy of a ctypes value: records become their ``key_type`` variant, arrays
    tuples (char arrays bytes), scalars Python values."""
    if isinstance(v, (ctypes.Structure, ctypes.Union)):
        if isinstance(v, c_uint128):
            return v.value
        return key_type(type(v)).from_buffer_copy(v)
    if isinstance(v, ctypes.Array):
        if type(v)._type_ is ctypes.c_char:
            return v.value
        return tuple([freeze(x) for x in v])
    if isinstance(v, ctypes._SimpleCData):
        return v.value
    return v


def _frozen_property(field: Any) -> property:
    def get(self: Any) -> Any:
        return freeze(field.__get__(self, type(self)))

    return property(get)


def _one_value(name: str) -> Callable[[Any], tuple[Any, ...]]:
    def values(key: Any) -> tuple[Any, ...]:
        return (getattr(key, name),)

    return values


def key_type(ct: Any) -> Any:
    """The variant of record type ``ct`` that decoded map keys have: a subclass (so
    ``isinstance(key, ct)`` holds and it encodes back as ``ct``) that is read-only, hashable
    and equal by value: to its record type's instances with the same bytes, to a dict or a
    tuple of its field values. Nested records read as key variants too, arrays as tuples.
    Other types are returned as they are. Cached on the class."""
    if not _is_sub(ct, (ctypes.Structure, ctypes.Union)) or _is_sub(ct, c_uint128):
        return ct
    kt = ct.__dict__.get("_key_")
    if kt is None:
        ns: dict[str, Any] = {"_record_": ct, "__module__": ct.__module__,
                              "__doc__": f"Hashable, read-only {ct.__name__} (a map key)."}
        for name, (_tid, fct) in getattr(ct, "_info_", {}).items():
            if fct is None or _is_char_array(fct) or not _is_sub(
                    fct, (ctypes.Structure, ctypes.Union, ctypes.Array)) \
                    or _is_sub(fct, c_uint128):
                continue  # reads as an immutable value already

            ns[name] = _frozen_property(_field_descriptor(ct, name))
        names = getattr(ct, "_names_", None)
        if names:  # attrgetter makes the tuple at C speed (hashing keys is a dump's hot path)
            ns["_values_"] = staticmethod(attrgetter(*names) if len(names) > 1
                                          else _one_value(names[0]))
        kt = type(ct.__name__, (_KeyRecord, ct), ns)
        ct._key_ = kt
    return kt


# --- numpy

def numpy_dtype(ctype: Any) -> Any:
    """The numpy dtype of a ctypes type (structured for structures, subarrays for arrays).

    numpy is imported here, on first use (an optional dependency). Padding is left out of the
    fields but the itemsize and offsets are exact; members of anonymous structs/unions appear
    directly in their parent; bitfields have no numpy equivalent and are left out.
    """
    import numpy as np

    if _is_sub(ctype, c_uint128):
        return np.dtype("V16")  # numpy has no 128-bit integer: the raw bytes
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
    if isinstance(v, (ctypes._SimpleCData, c_uint128)):
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
    if _is_sub(ct, c_uint128):
        return ct.from_buffer_copy(_int128_bytes(obj, ct._signed_, where))
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
