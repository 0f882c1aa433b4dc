"""Label decoders: a map key's field (as ``Map`` decodes it) -> a Prometheus label value.

Each decoder says which field types it takes (checked against BTF when the metric is made, so a
wrong pairing is a config error, not a scrape-time surprise) and turns one value into a string.
Decoders that look things up (kernel symbols, cgroup paths) cache what they found; one that can't
tell yet (a cgroup made after the last walk of the hierarchy) answers ``None`` and its caller
shows the number without caching it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

__all__ = ["DECODERS", "FieldInfo", "make_decoder"]


class FieldInfo:
    """What a decoder needs to know of a key field: its BTF shape, from the object's BTF.

    ``shape`` is "int" (also bool, pointers), "enum", "chars" (a char array), "array" (of ints:
    ``elem_size`` bytes each), "struct" or "other"; ``size`` in bytes.
    """

    __slots__ = ("name", "shape", "size", "elem_size", "c_name", "signed")

    def __init__(self, name: str, shape: str, size: int, c_name: str, *, elem_size: int = 0,
                 signed: bool = False) -> None:
        self.name = name
        self.shape = shape
        self.size = size
        self.elem_size = elem_size
        self.c_name = c_name
        self.signed = signed

    def __repr__(self) -> str:
        return f"<field {self.name or '<key>'}: {self.c_name} ({self.shape}, {self.size} B)>"


def raw_bytes(value: Any, info: FieldInfo) -> bytes:
    """The field's bytes as they are in the map (network-order addresses stay in order)."""
    if isinstance(value, int):
        return int(value).to_bytes(info.size, sys.byteorder, signed=value < 0)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).ljust(info.size, b"\0")
    if isinstance(value, (ctypes.Array, ctypes.Structure, ctypes.Union)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        size = info.elem_size or 1
        return b"".join(int(x).to_bytes(size, sys.byteorder) for x in value)
    raise TypeError(f"can't take the bytes of a {type(value).__name__}")


class Decoder:
    """One label decoder. ``shapes``: the field shapes it takes; ``sizes``: the sizes (empty:
    any). ``__call__`` gives the label, or None when the answer is not known yet."""

    name = ""
    shapes: tuple[str, ...] = ("int", "enum")
    sizes: tuple[int, ...] = ()
    doc = ""

    def __init__(self, info: FieldInfo, option: Any = None) -> None:
        self.info = info

    @classmethod
    def check(cls, info: FieldInfo, option: Any) -> Optional[str]:
        """Why this decoder can't read ``info`` (None: it can)."""
        if info.shape not in cls.shapes or (cls.sizes and info.size not in cls.sizes):
            sizes = "/".join(str(s) for s in cls.sizes)
            want = " or ".join(cls.shapes) + (f" of {sizes} bytes" if sizes else "")
            return f"decoder '{cls.name}' reads {want}, not {info.c_name} ({info.size} bytes)"
        return None

    def __call__(self, value: Any) -> Optional[str]:
        raise NotImplementedError


class IntDecoder(Decoder):
    name = "int"
    doc = "the number (enums: their value)"

    def __call__(self, value: Any) -> Optional[str]:
        return str(int(value))


class EnumDecoder(Decoder):
    name = "enum"
    shapes = ("enum",)
    doc = "the enumerator's name (the number when the enum has none for it)"

    def __call__(self, value: Any) -> Optional[str]:
        name = getattr(value, "name", None)
        return name if isinstance(name, str) else str(int(value))


class StringDecoder(Decoder):
    name = "string"
    shapes = ("chars", "array")
    doc = "a C string (char array, up to its first NUL), e.g. a comm"

    @classmethod
    def check(cls, info: FieldInfo, option: Any) -> Optional[str]:
        if info.shape == "array" and info.elem_size != 1:
            return f"decoder 'string' reads char arrays, not {info.c_name}"
        return super().check(info, option)

    def __call__(self, value: Any) -> Optional[str]:
        raw = raw_bytes(value, self.info)
        return raw.split(b"\0", 1)[0].decode(errors="replace")


class HexDecoder(Decoder):
    name = "hex"
    doc = "the number in hex (0x1f)"

    def __call__(self, value: Any) -> Optional[str]:
        return f"{int(value):#x}"


class ErrnoDecoder(Decoder):
    name = "errno"
    doc = "an errno's name (ENOENT; -2 and 2 alike), the number when it has none"

    def __call__(self, value: Any) -> Optional[str]:
        n = abs(int(value))
        return errno.errorcode.get(n, str(n))


class SyscallDecoder(Decoder):
    name = "syscall"
    doc = "a system call's name from its number (this machine's architecture)"

    def __init__(self, info: FieldInfo, option: Any = None) -> None:
        super().__init__(info, option)
        from ..tools.syscalls import syscall_name

        self._name: Callable[[int], str] = syscall_name

    def __call__(self, value: Any) -> Optional[str]:
        return self._name(int(value))


class PortDecoder(Decoder):
    name = "port"
    sizes = (2,)
    doc = "a TCP/UDP port stored in network byte order (as in struct sock, sockaddr)"

    def __call__(self, value: Any) -> Optional[str]:
        return str(socket.ntohs(int(value) & 0xFFFF))


class Ipv4Decoder(Decoder):
    name = "ipv4"
    shapes = ("int", "array", "chars")
    sizes = (4,)
    doc = "an IPv4 address in network byte order (__be32, __u8[4])"

    def __call__(self, value: Any) -> Optional[str]:
        return socket.inet_ntop(socket.AF_INET, raw_bytes(value, self.info))


class Ipv6Decoder(Decoder):
    name = "ipv6"
    shapes = ("int", "array", "chars", "struct")
    sizes = (16,)
    doc = "an IPv6 address (__u8[16], __be32[4], struct in6_addr, __int128)"

    def __call__(self, value: Any) -> Optional[str]:
        return socket.inet_ntop(socket.AF_INET6, raw_bytes(value, self.info))


class IpDecoder(Decoder):
    name = "ip"
    shapes = ("int", "array", "chars", "struct")
    sizes = (4, 16)
    doc = "IPv4 or IPv6 by the field's size (4 or 16 bytes)"

    def __call__(self, value: Any) -> Optional[str]:
        family = socket.AF_INET if self.info.size == 4 else socket.AF_INET6
        return socket.inet_ntop(family, raw_bytes(value, self.info))


class KsymDecoder(Decoder):
    name = "ksym"
    sizes = (8,)
    doc = "a kernel address as the name of the function holding it (/proc/kallsyms, root)"

    _table: Any = None  # shared by every ksym label: /proc/kallsyms is read once

    def __init__(self, info: FieldInfo, option: Any = None) -> None:
        super().__init__(info, option)
        if KsymDecoder._table is None:
            from ..utils.symbols import KernelSymbols

            KsymDecoder._table = KernelSymbols()

    def __call__(self, value: Any) -> Optional[str]:
        addr = int(value) & ((1 << 64) - 1)
        sym = self._table.resolve(addr)
        return sym.name if sym is not None else f"{addr:#x}"


def cgroup2_mount() -> Optional[str]:
    """Where the cgroup v2 hierarchy is mounted (None without one)."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return parts[1]
    except OSError:
        pass
    return None


class CgroupDecoder(Decoder):
    name = "cgroup"
    sizes = (8,)
    doc = ("a cgroup v2 id (bpf_get_current_cgroup_id()) as its path under the hierarchy "
           "(/system.slice/x.service)")

    #: at most one walk of the hierarchy per this many seconds, for ids not seen before
    RESCAN_SECONDS = 1.0

    def __init__(self, info: FieldInfo, option: Any = None) -> None:
        super().__init__(info, option)
        self._root = cgroup2_mount()
        self._paths: dict[int, str] = {}
        self._scanned = 0.0

    def _scan(self) -> None:
        self._scanned = time.monotonic()
        root = self._root
        if root is None:
            return
        paths = {}
        for top, dirs, _files in os.walk(root):
            try:
                ino = os.stat(top).st_ino
            except OSError:
                continue  # removed during the walk
            rel = os.path.relpath(top, root)
            paths[ino] = "/" if rel == "." else "/" + rel
            dirs.sort()
        self._paths = paths

    def __call__(self, value: Any) -> Optional[str]:
        cgid = int(value)
        path = self._paths.get(cgid)
        if path is None and time.monotonic() - self._scanned >= self.RESCAN_SECONDS:
            self._scan()
            path = self._paths.get(cgid)
        return path  # None: not known (yet): shown as the number, not cached


class StaticDecoder(Decoder):
    name = "static"
    shapes = ("int", "enum")
    doc = "a table of your own: {decode: {static: {0: read, 1: write}}} (others: the number)"

    @classmethod
    def check(cls, info: FieldInfo, option: Any) -> Optional[str]:
        if not isinstance(option, dict) or not option:
            return "decoder 'static' takes a table of values to labels, e.g. {0: read, 1: write}"
        for k in option:
            if not isinstance(k, int) or isinstance(k, bool):
                return f"decoder 'static': the table's keys are numbers, not {k!r}"
        return super().check(info, option)

    def __init__(self, info: FieldInfo, option: Any = None) -> None:
        super().__init__(info, option)
        self._table = {int(k): str(v) for k, v in option.items()}

    def __call__(self, value: Any) -> Optional[str]:
        v = int(value)
        return self._table.get(v, str(v))


DECODERS: dict[str, type[Decoder]] = {d.name: d for d in (
    IntDecoder, EnumDecoder, StringDecoder, HexDecoder, ErrnoDecoder, SyscallDecoder,
    PortDecoder, Ipv4Decoder, Ipv6Decoder, IpDecoder, KsymDecoder, CgroupDecoder, StaticDecoder)}


def default_decoder(info: FieldInfo) -> Optional[str]:
    """The decoder a field gets when the config names none."""
    return {"int": "int", "enum": "enum", "chars": "string"}.get(info.shape)


def make_decoder(spec: Any, info: FieldInfo) -> Decoder:
    """A decoder from its spec (a name, ``{name: option}``, or None for the field's default).

    ``ValueError`` naming the problem: an unknown decoder, or one that can't read the field.
    """
    option = None
    if spec is None:
        name = default_decoder(info)
        if name is None:
            raise ValueError(f"{info.c_name} has no default decoder: name one of "
                             f"{', '.join(DECODERS)}")
    elif isinstance(spec, str):
        name = spec
    elif isinstance(spec, dict) and len(spec) == 1:
        (name, option), = spec.items()
    else:
        raise ValueError(f"a decoder is a name or {{name: option}}, not {spec!r}")
    cls = DECODERS.get(name)
    if cls is None:
        raise ValueError(f"unknown decoder {name!r} (decoders: {', '.join(DECODERS)})")
    problem = cls.check(info, option)
    if problem is not None:
        raise ValueError(problem)
    return cls(info, option)
