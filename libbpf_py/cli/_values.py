"""Values decoded by their BTF type into JSON-ready Python: ints, floats, strings for char
arrays, lists for arrays, dicts for structs/unions, enumerator names for enums."""

from __future__ import annotations

import struct

from ..btf import Kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..btf import Type

_MODIFIERS = (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG)


def _int(data: bytes, size: int, signed: bool) -> int:
    return int.from_bytes(data[:size], "little" if struct.pack("=H", 1)[0] else "big",
                          signed=signed)


def decode(t: Type, data: bytes) -> Any:
    """``data`` (at least the type's size) as plain Python, following ``t``'s BTF."""
    while t.kind in _MODIFIERS or t.kind == Kind.VAR:
        t = t.target
    kind = t.kind
    if kind == Kind.INT:
        size = t.size
        if t.is_bool:
            return bool(_int(data, size, False))
        return _int(data, size, t.signed)
    if kind == Kind.PTR:
        return _int(data, 8 if struct.calcsize("P") == 8 else 4, False)
    if kind in (Kind.ENUM, Kind.ENUM64):
        value = _int(data, t.size, t.signed)
        for name, v in t.enumerators.items():
            if v == value:
                return name
        return value
    if kind == Kind.FLOAT:
        fmt = {4: "=f", 8: "=d"}.get(t.size)
        return struct.unpack_from(fmt, data)[0] if fmt else data[:t.size].hex()
    if kind == Kind.ARRAY:
        elem = t.element
        base = elem
        while base.kind in _MODIFIERS:
            base = base.target
        n = t.length
        if base.kind == Kind.INT and base.size == 1 and (base.is_char or base.name == "char"):
            raw = data[:n]
            return raw.split(b"\0", 1)[0].decode(errors="replace")
        if n == 0:
            return []
        step = elem.size
        return [decode(elem, data[i * step:(i + 1) * step]) for i in range(n)]
    if kind in (Kind.STRUCT, Kind.UNION):
        out: dict[str, Any] = {}
        for i, m in enumerate(t.members):
            field: Any
            if m.bitfield_size:
                word = _int(data[m.offset:m.offset + 8].ljust(8, b"\0"), 8, False)
                field = (word >> (m.bit_offset % 8)) & ((1 << m.bitfield_size) - 1)
            else:
                try:
                    size = m.type.size
                except TypeError:  # flexible array member
                    size = 0
                field = decode(m.type, data[m.offset:m.offset + size]) if size else []
            out[m.name or f"<anon{i}>"] = field
        return out
    if kind == Kind.DATASEC:  # a data section's map value: its variables
        return {var.name: decode(var, data[off:off + size]) for var, off, size in t.variables
                if var.kind == Kind.VAR}
    return data[:_size_or_zero(t)].hex()


def _size_or_zero(t: Type) -> int:
    try:
        return t.size
    except TypeError:
        return 0


def jsonable(value: Any) -> Any:
    """Enums (``ProgType``...) as lower-case names, bytes as hex, recursively."""
    from enum import Enum

    if isinstance(value, Enum):
        return value.name.lower() if value.name else int(value.value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
