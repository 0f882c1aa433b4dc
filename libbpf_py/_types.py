"""Conversion of map keys and values between Python objects and their C bytes, guided by BTF.

A ``Codec`` knows a fixed C size: ``encode(obj)`` gives something ctypes can pass as ``void *``
(bytes of exactly that size) and ``decode(buf)`` gives the Python value back. What a codec is
chosen from: the map's BTF key/value type id (ints and enums become ``int``), else raw bytes.
"""

from __future__ import annotations

import ctypes
import struct
from ._ffi import lib
from ._ffi.functions import btf_p

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["Codec", "IntCodec", "BytesCodec", "codec_for"]

# BTF kinds (linux/btf.h)
BTF_KIND_INT, BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST, BTF_KIND_RESTRICT = 1, 8, 9, 10, 11
BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_TYPE_TAG = 6, 19, 18
BTF_INT_SIGNED = 1
_MODIFIERS = {BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST, BTF_KIND_RESTRICT,
              BTF_KIND_TYPE_TAG}


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

    def encode(self, obj: Any) -> bytes:
        if isinstance(obj, int):
            try:
                return self._pack(obj)
            except struct.error:
                kind = "signed" if self.signed else "unsigned"
                raise OverflowError(
                    f"{self.what} {obj} does not fit a {kind} {self.size * 8}-bit integer"
                ) from None
        return super().encode(obj)

    def decode(self, data: bytes) -> int:
        return self._unpack(data)[0]


def _btf_int(btf: Any, type_id: int) -> Optional[tuple[int, bool]]:
    """(size, signed) when type_id resolves (through typedefs/modifiers) to an int or enum."""
    for _ in range(32):
        if not type_id:
            return None
        t = lib.btf__type_by_id(btf, type_id)
        if not t:
            return None
        _name_off, info, size_or_type = struct.unpack_from("=III", ctypes.string_at(t, 12))
        kind = (info >> 24) & 0x1F
        if kind in _MODIFIERS:
            type_id = size_or_type
            continue
        if kind == BTF_KIND_INT:
            enc = struct.unpack("=I", ctypes.string_at(t + 12, 4))[0]
            bits = enc & 0xFF
            signed = bool((enc >> 24) & BTF_INT_SIGNED)
            if bits == size_or_type * 8 and size_or_type in IntCodec._FORMATS:
                return size_or_type, signed
            return None
        if kind in (BTF_KIND_ENUM, BTF_KIND_ENUM64):
            signed = bool(info >> 31)  # kind_flag: signed enum
            if size_or_type in IntCodec._FORMATS:
                return size_or_type, signed
        return None
    return None


def codec_for(btf: Any, type_id: int, size: int, what: str) -> Codec:
    """The codec for a map key or value: from BTF when it describes the type, else bytes."""
    if btf and type_id:
        found = _btf_int(ctypes.cast(btf, btf_p), type_id)
        if found and found[0] == size:
            return IntCodec(size, found[1], what)
    return Codec(size, what)
