"""Values crossing into C and back: the checks made where arguments enter libbpf_py.

ctypes converts a Python int to a C integer by truncating it (``2**32 + 5`` passed for a
``__u32`` becomes 5) and a ``bytes`` to a C string by stopping at its first NUL (a pin path
``"/sys/fs/bpf/a\\0b"`` pins at ``/sys/fs/bpf/a``). Every public entry point that hands a
number, a path or a name to libbpf passes it through one of these first, so bad input raises
``TypeError`` (not an integer, not a path) or ``ValueError`` (out of range, NUL inside, not on
bpffs) naming the argument, before any syscall. (Names coming back from libbpf go through
``_ffi.text()``: an object's names are bytes that need not be UTF-8.)
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
S32_MAX = (1 << 31) - 1


def integer(value: Any, what: str, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi``: TypeError if it is no integer (float, str, None ...;
    ``bool`` and ``IntEnum`` are integers), ValueError naming ``what`` if out of range."""
    if type(value) is not int:
        # operator.index() without importing operator (cold start): bool, IntEnum, numpy ints
        to_int = getattr(type(value), "__index__", None)
        if to_int is None:
            raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
        value = to_int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be in {lo}..{hi}, not {value}")
    return value


def u32(value: Any, what: str) -> int:
    """An unsigned 32-bit argument (sizes, counts, flags, ids)."""
    return integer(value, what, 0, U32_MAX)


def u64(value: Any, what: str) -> int:
    """An unsigned 64-bit argument (``map_extra``, cookies, offsets)."""
    return integer(value, what, 0, U64_MAX)


def s32(value: Any, what: str, lo: int = -S32_MAX - 1) -> int:
    """A signed 32-bit argument (a C ``int``), at least ``lo``."""
    return integer(value, what, lo, S32_MAX)


def fd(value: Any, what: str = "fd") -> int:
    """A file descriptor: an int in 0..2**31-1."""
    return integer(value, what, 0, S32_MAX)


#: What /proc/self/fd/N links to for each kind of BPF fd.
_FD_KINDS = {"map": "anon_inode:bpf-map", "program": "anon_inode:bpf-prog",
             "link": "anon_inode:bpf_link"}


def bpf_fd(value: Any, kind: str, what: str) -> int:
    """``fd()``, and it must be an open BPF ``kind`` ("map", "program", "link") fd: the kernel
    would answer a map query on a program fd with the program's info (or EINVAL)."""
    n = fd(value, what)
    try:
        target = os.readlink(f"/proc/self/fd/{n}")
    except FileNotFoundError:
        raise ValueError(f"{what} {n} is not an open file descriptor") from None
    except OSError:
        return n  # no /proc: the kernel checks
    if target != _FD_KINDS[kind]:
        raise ValueError(f"{what} {n} is not a BPF {kind} (it is {target})")
    return n


def ifindex(value: Any, what: str = "ifindex") -> int:
    """A network interface index: 1..2**31-1 (the kernel's ifindex is a positive C int)."""
    return integer(value, what, 1, S32_MAX)


def c_string(value: Any, what: str) -> bytes:
    """A name for a C string: str or bytes without a NUL inside (it would cut the name)."""
    if isinstance(value, str):
        raw = value.encode()
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in raw:
        raise ValueError(f"{what} {value!r} has a NUL character inside")
    return raw


def path(value: Any, what: str = "path") -> bytes:
    """A filesystem path (str, bytes or os.PathLike) for a C string: not empty, no NUL."""
    try:
        raw = os.fsencode(value)
    except TypeError:
        raise TypeError(f"{what} must be a str, bytes or os.PathLike, not "
                        f"{type(value).__name__}") from None
    if not raw:
        raise ValueError(f"{what} is empty")
    if b"\0" in raw:
        raise ValueError(f"{what} {os.fsdecode(raw)!r} has a NUL character inside")
    return raw


BPFFS = "bpf"


def filesystem_of(p: bytes) -> Optional[str]:
    """The type of the filesystem mounted where ``p`` (an existing directory) lives, from
    /proc/self/mountinfo (this process's mount namespace); None if it can't be told."""
    try:
        real = os.path.realpath(p)
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    best, fstype = b"", None
    for line in lines:
        fields = line.split(b" ")
        try:
            mount = fields[4].replace(b"\\040", b" ")
            fs = fields[fields.index(b"-") + 1]
        except (IndexError, ValueError):
            continue
        inside = real == mount or real.startswith(mount.rstrip(b"/") + b"/")
        if inside and len(mount) >= len(best):
            best, fstype = mount, fs.decode(errors="replace")
    return fstype


def bpffs_path(value: Any, what: str = "pin path") -> bytes:
    """A path to pin at: ``path()``, and its directory, when it exists, must be on a bpffs
    mount (the kernel's answer otherwise is a bare EPERM that reads like missing privileges).
    A directory that does not exist is left to the kernel (ENOENT)."""
    raw = path(value, what)
    parent = os.path.dirname(os.path.abspath(raw)) or b"/"
    if os.path.isdir(parent):
        fs = filesystem_of(parent)
        if fs is not None and fs != BPFFS:
            raise ValueError(
                f"{what} {os.fsdecode(raw)!r} is not on a bpffs mount ({os.fsdecode(parent)!r} "
                f"is on {fs}): pin under a mounted bpffs, e.g. `mount -t bpf bpf /sys/fs/bpf`")
    return raw
