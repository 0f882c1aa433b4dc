"""Codecs: Python values <-> the bytes of a map key/value or a global variable.

A ``Codec`` knows a fixed C size: ``encode(obj)`` gives bytes of exactly that size and
``decode(buf)`` gives the Python value back. ``codec_for(btf, type_id, size, what)`` picks the
codec of a map key/value from BTF: ints as int (``__int128`` too), enums as their enum, char
arrays as bytes, structs and unions as ctypes structures (keys: their hashable ``key_type``
variant), arrays as lists (keys: tuples); raw bytes of the exact size are always accepted.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from itertools import repeat

from ._types import (BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_KIND_ENUM, BTF_KIND_ENUM64,
                     BTF_KIND_INT, BTF_KIND_PTR, MalformedBtfError, OutOfRangeError, _int128_bytes,
                     _is_char_array, as_btf_p, c_name, c_uint128, ctype_for, enum_for, freeze,
                     from_ctype, key_type, skip_modifiers, to_ctype)

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Codec", "BytesCodec", "IntCodec", "EnumCodec", "BoolCodec", "CTypeCodec",
           "Int128Codec", "codec_for"]

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

    def decode_array(self, buf: Any, n: int, stride: int) -> list[Any]:
        """The ``n`` values at offsets ``0, stride, 2 * stride ...`` of ``buf`` (a ctypes
        buffer): a dump's bulk decoding."""
        raw, size, decode = bytes(buf), self.size, self.decode
        return [decode(raw[i:i + size]) for i in range(0, n * stride, stride)]


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
        if what == "key":  # keys are hashable: dict(m.items()), sets, pop_all()
            self.decode = self._decode_key  # type: ignore[method-assign]
        if _is_record(ctype):
            # A record decodes to one instance made at C speed (what from_ctype and freeze
            # give, without their per-value type tests: a dump decodes every element).
            self.decode = (key_type(ctype) if what == "key"  # type: ignore[method-assign]
                           else ctype).from_buffer_copy
            self.decode_array = self._records  # type: ignore[method-assign]

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray, memoryview)) and not _is_char_array(self.ctype):
            return super().encode(obj)
        if isinstance(obj, self.ctype):
            return bytes(obj)
        return bytes(to_ctype(self.ctype, obj, f"{self.what} ({self.label})"))

    def decode(self, data: bytes) -> Any:
        return from_ctype(self.ctype.from_buffer_copy(data))

    def _decode_key(self, data: bytes) -> Any:
        return freeze(self.ctype.from_buffer_copy(data))

    def _records(self, buf: Any, n: int, stride: int) -> list[Any]:
        # from_buffer_copy(buf, offset) for each: no slice, no Python frame per element
        records: Any = self.decode  # the record type's from_buffer_copy(buffer, offset)
        return list(map(records, repeat(buf, n), range(0, n * stride, stride)))


def _is_record(ctype: Any) -> bool:
    """A struct or union (not the ``__int128`` wrapper, which decodes to an int)."""
    return (isinstance(ctype, type) and issubclass(ctype, (ctypes.Structure, ctypes.Union))
            and not issubclass(ctype, c_uint128))


class Int128Codec(Codec):
    """A 128-bit C integer (``__int128``) as a Python int; 16 raw bytes also accepted."""

    def __init__(self, signed: bool, what: str) -> None:
        super().__init__(16, what)
        self.signed = signed

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, memoryview) and len(obj) != 16:
            return super().encode(obj)
        return _int128_bytes(obj, self.signed, self.what)

    def decode(self, data: bytes) -> int:
        return int.from_bytes(data, sys.byteorder, signed=self.signed)


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
    if k == BTF_KIND_INT and size == 16 == t.size_or_type and t.extra[2] == 128:
        return Int128Codec(bool(t.extra[0] & BTF_INT_SIGNED), what)
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
    except MalformedBtfError:
        raise
    except TypeError:
        return Codec(size, what)
    if ctypes.sizeof(ct) != size:
        return Codec(size, what)
    return CTypeCodec(ct, what, c_name(p, type_id))
