"""C library calls that Python's ``os`` module lacks on the oldest supported Pythons.

``setns(2)``: ``os.setns`` exists from Python 3.12; before, the C library's is called through
ctypes (glibc and musl both have it). ``unshare(2)`` likewise (``os.unshare``, 3.12). The new
mount API (``fsopen``, ``fsconfig``, ``fsmount``, ``move_mount``, Linux 5.2) through
``syscall(2)``: glibc has wrappers only from 2.36, musl none; their numbers are the same on
every architecture but alpha (the unified syscall table). ``capget``/``capset`` (the C library's
wrappers: per thread, as the kernel keeps credentials). Bound on first use.
"""

from __future__ import annotations

import ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["setns", "unshare", "fsopen", "fsconfig", "fsmount", "move_mount", "CLONE_NEWNET",
           "CLONE_NEWNS", "CLONE_NEWUSER", "FSOPEN_CLOEXEC", "FSCONFIG_SET_STRING",
           "FSCONFIG_CMD_CREATE", "FSMOUNT_CLOEXEC", "MOVE_MOUNT_F_EMPTY_PATH", "AT_FDCWD",
           "prctl", "PR_SET_DUMPABLE", "mmap_shared", "munmap", "thread_keep_capabilities"]

CLONE_NEWNET = 0x40000000  # <sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
FSOPEN_CLOEXEC = 0x00000001  # <linux/mount.h>
FSCONFIG_SET_STRING = 1  # enum fsconfig_command
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 0x00000001
MOVE_MOUNT_F_EMPTY_PATH = 0x00000004
AT_FDCWD = -100  # <fcntl.h>
PR_SET_DUMPABLE = 4  # <linux/prctl.h>
# <asm/unistd.h>: unified numbers (x86_64, aarch64, riscv, ... alike)
__NR_move_mount = 429
__NR_fsopen = 430
__NR_fsconfig = 431
__NR_fsmount = 432

_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns.restype = ctypes.c_int
        libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.unshare.restype = ctypes.c_int
        libc.unshare.argtypes = [ctypes.c_int]
        libc.syscall.restype = ctypes.c_long
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        libc.munmap.restype = ctypes.c_int
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        _libc = libc
    return _libc


def _check(ret: int) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def unshare(flags: int) -> None:
    """``unshare(2)``: move the calling process into new namespaces; OSError on failure."""
    os_unshare = getattr(os, "unshare", None)
    if os_unshare is not None:
        os_unshare(flags)
        return
    _check(_c().unshare(flags))


def fsopen(fs_name: bytes, flags: int) -> int:
    """``fsopen(2)``: a filesystem context fd for ``fs_name``."""
    return _check(_c().syscall(ctypes.c_long(__NR_fsopen), ctypes.c_char_p(fs_name),
                               ctypes.c_uint(flags)))


def fsconfig(fd: int, cmd: int, key: bytes | None, value: bytes | None, aux: int) -> None:
    """``fsconfig(2)``: set a parameter of, or act on, a filesystem context."""
    _check(_c().syscall(ctypes.c_long(__NR_fsconfig), ctypes.c_int(fd), ctypes.c_uint(cmd),
                        ctypes.c_char_p(key), ctypes.c_char_p(value), ctypes.c_int(aux)))


def fsmount(fd: int, flags: int, attr_flags: int) -> int:
    """``fsmount(2)``: a detached mount (an fd) of a created filesystem context."""
    return _check(_c().syscall(ctypes.c_long(__NR_fsmount), ctypes.c_int(fd),
                               ctypes.c_uint(flags), ctypes.c_uint(attr_flags)))


def move_mount(from_dfd: int, from_path: bytes, to_dfd: int, to_path: bytes, flags: int) -> None:
    """``move_mount(2)``: attach a (detached) mount somewhere in the mount tree."""
    _check(_c().syscall(ctypes.c_long(__NR_move_mount), ctypes.c_int(from_dfd),
                        ctypes.c_char_p(from_path), ctypes.c_int(to_dfd),
                        ctypes.c_char_p(to_path), ctypes.c_uint(flags)))


def prctl(option: int, arg2: int) -> None:
    """``prctl(2)`` with one argument (``PR_SET_DUMPABLE`` ...)."""
    _check(_c().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(0),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)))


PROT_READ, PROT_WRITE, MAP_SHARED = 1, 2, 1  # <sys/mman.h>
MAP_FAILED = ctypes.c_void_p(-1).value


def mmap_shared(fd: int, size: int, writable: bool) -> int:
    """``mmap(NULL, size, PROT_READ[|PROT_WRITE], MAP_SHARED, fd, 0)``: the address; OSError on
    failure. (Python's ``mmap.mmap`` keeps a duplicate of ``fd`` and gives no address.) The
    caller owns the mapping: ``munmap(address, size)``."""
    addr = _c().mmap(None, size, PROT_READ | (PROT_WRITE if writable else 0), MAP_SHARED, fd, 0)
    if addr is None or addr == MAP_FAILED:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(addr)


def munmap(address: int, size: int) -> None:
    """``munmap(2)`` of a mapping made by ``mmap_shared``; OSError on failure."""
    _check(_c().munmap(address, size))


def setns(fd: int, nstype: int) -> None:
    """Move the calling thread into the namespace ``fd`` refers to (``setns(2)``); OSError
    on failure. Needs CAP_SYS_ADMIN."""
    os_setns = getattr(os, "setns", None)
    if os_setns is not None:
        os_setns(fd, nstype)
        return
    _check(_c().setns(fd, nstype))


_LINUX_CAPABILITY_VERSION_3 = 0x20080522  # <linux/capability.h>


def thread_keep_capabilities(capabilities: list[int]) -> None:
    """Lower the calling THREAD's effective capabilities to those of ``capabilities`` it has
    (``capget``/``capset`` on itself: other threads keep theirs; the permitted set is kept).
    Used by probes in a thread of their own that ends afterwards. OSError on failure."""
    c = _c()
    # struct __user_cap_header_struct {u32 version; int pid;} (pid 0: the calling thread) and
    # struct __user_cap_data_struct {u32 effective, permitted, inheritable;}[2], as u32 arrays
    hdr = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(c.capget(hdr, data))
    keep = sum(1 << n for n in capabilities)
    data[0] &= keep & 0xFFFFFFFF
    data[3] &= keep >> 32
    _check(c.capset(hdr, data))
