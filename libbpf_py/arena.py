"""BPF arenas (Linux 6.9+): memory a BPF program and Python share, with real pointers in it.

A ``BPF_MAP_TYPE_ARENA`` map is a sparse region of up to 4 GiB that BPF programs allocate pages
in (``bpf_arena_alloc_pages``) and build data structures in (lists, hash tables, trees). libbpf
maps it into this process at load (``mmap`` of the map, at ``map_extra`` when the object sets it).
Pointers the program stores in the arena are user addresses of that mapping; the kernel's
addresses of the same bytes share their low 32 bits. ``Arena`` turns either kind into an offset
and gives typed, zero-copy views: ctypes (``Arena.view``) and numpy (``Arena.array``), of ctypes
types or of the object's own types by BTF name (``"struct node"``, as ring buffers' event_type).

Lifetimes follow ``_lease.Lease``: the views hold the arena's lease; closing the object releases
the root ``memory`` view (using it raises ``ValueError``) and frees libbpf's object (which unmaps
the arena) only when no view derived from it is left, so nothing ever reads unmapped memory.
"""

from __future__ import annotations

import ctypes
import mmap
import weakref
from typing import Any, Optional

from ._ffi import lib
from ._lease import Lease
from .errors import ClosedError

__all__ = ["Arena"]

ARENA = 33  # BPF_MAP_TYPE_ARENA

#: object state -> the Lease of its arena (one arena per object: libbpf's rule)
_leases: weakref.WeakKeyDictionary[Any, Lease] = weakref.WeakKeyDictionary()


class Arena:
    """The arena of a loaded object, mapped into Python (``bpf_map__initial_value`` gives
    libbpf's mapping). Made by ``Arena(obj.maps["arena"])``; valid while the object is open.

    ``memory``: a writable memoryview of the whole arena (pages the program did not allocate
    read as a fault: ``BPF_F_SEGV_ON_FAULT`` arenas kill the process, others read zeros, as the
    kernel decides). ``address``: where it starts. Owned by the map's object."""

    __slots__ = ("map", "address", "size", "memory", "_what", "__weakref__")

    def __init__(self, arena_map: Any) -> None:
        if arena_map._type != ARENA:
            from .maps._common import _type_name

            raise TypeError(f"map '{arena_map.name}' is a {_type_name(arena_map._type)}, "
                            "not an ARENA")
        state = arena_map._state
        ptr = arena_map._handle()
        state.require_loaded(f"map the arena '{arena_map.name}'")
        size = ctypes.c_size_t()
        addr = lib.bpf_map__initial_value(ptr, ctypes.byref(size))
        if not addr:
            raise ClosedError(f"arena '{arena_map.name}' is not mapped")
        self.map = arena_map
        self.address: int = addr
        self.size: int = lib.bpf_map__max_entries(ptr) * mmap.PAGESIZE
        lease = _leases.get(state)
        if lease is None:
            lease = _leases[state] = Lease(f"arena '{arena_map.name}'")
        self._what = lease.what
        # LIFETIME: the root view holds the lease (this Arena does not: dropping the root view
        # at close lets the object go once derived views are gone)
        self.memory: memoryview = lease.view(addr, self.size, readonly=False)

    def offset(self, pointer: int) -> int:
        """The offset in the arena of ``pointer`` (a user or a kernel address of it: they
        share their low 32 bits). ``ValueError`` for NULL or a pointer outside the arena."""
        if not pointer:
            raise ValueError("NULL arena pointer")
        off = (pointer - self.address) & 0xFFFFFFFF
        if off >= self.size:
            raise ValueError(f"pointer {pointer:#x} is outside the arena "
                             f"({self.address:#x}, {self.size} bytes)")
        return off

    def pointer(self, offset: int) -> int:
        """The user address of ``offset``: what a BPF program expects in an arena pointer."""
        if not 0 <= offset < self.size:
            raise ValueError(f"offset {offset} is outside the arena ({self.size} bytes)")
        return self.address + offset

    def _at(self, where: int, size: int, what: str) -> int:
        off = where if where < self.size else self.offset(where)
        if off < 0 or off + size > self.size:
            raise ValueError(f"{what} of {size} bytes at offset {off} is outside the arena "
                             f"({self.size} bytes)")
        if self.map._state.ptr is None:
            raise ClosedError(f"{self._what}: its object is closed")
        return off

    def ctype(self, spelling: str) -> Any:
        """The ctypes type the object's BTF calls ``spelling`` (``"struct node"``, a typedef),
        as ring buffers resolve ``event_type``; pointer fields read as ``c_uint64`` addresses
        (``follow`` them). ``MissingTypeError`` (a ``ValueError``) when the object has no such
        type; ``ClosedError`` after close."""
        if not isinstance(spelling, str) or not spelling.strip():
            raise ValueError(f"a BTF type name like 'struct node' is needed, not {spelling!r}")
        if self.map._state.ptr is None:
            raise ClosedError(f"{self._what}: its object is closed")
        from ._dwarf import object_ctype

        return object_ctype(self.map._state, spelling,
                            f"type {spelling!r} of arena '{self.map.name}'")

    def _ctype(self, ctype: Any) -> Any:
        return self.ctype(ctype) if isinstance(ctype, str) else ctype

    def view(self, ctype: Any, where: int) -> Any:
        """A ctypes instance of ``ctype`` (a ctypes type, or a BTF type name of the object:
        ``"struct node"``) living in the arena at ``where`` (an offset, or an arena pointer the
        program wrote): reads and writes go to the shared memory, no copy. It keeps the arena
        mapped while it exists."""
        ct = self._ctype(ctype)
        off = self._at(where, ctypes.sizeof(ct), ct.__name__)
        return ct.from_buffer(self.memory, off)

    def follow(self, ctype: Any, pointer: int) -> Optional[Any]:
        """``view(ctype, pointer)``, or None for a NULL pointer: to walk a list or a tree."""
        return None if not pointer else self.view(ctype, self.offset(pointer))

    def array(self, dtype: Any, where: int, count: int) -> Any:
        """A numpy array of ``count`` ``dtype`` items in the arena at ``where`` (offset or
        pointer), without a copy; it keeps the arena mapped while it exists. ``dtype``: a numpy
        dtype, a ctypes type, or a BTF struct/union of the object (``"struct node"``: other
        strings are numpy's, so "u8" is numpy's uint64). Needs numpy."""
        import numpy as np

        if isinstance(dtype, str) and dtype.split(None, 1)[0] in ("struct", "union"):
            dtype = self.ctype(dtype)
        if isinstance(dtype, type) and issubclass(dtype, (ctypes.Structure, ctypes.Union,
                                                          ctypes.Array, ctypes._SimpleCData)):
            from ._types import numpy_dtype

            dtype = numpy_dtype(dtype)
        dt = np.dtype(dtype)
        off = self._at(where, dt.itemsize * count, f"array of {count} {dt}")
        return np.frombuffer(self.memory, dtype=dt, count=count, offset=off)


def defer_close(state: Any, close: Any, ptr: Any) -> bool:
    """Called by the object's close: when its arena was mapped into Python, hand the
    ``bpf_object__close`` (which unmaps the arena) to the arena's lease, which runs it when the
    last view is gone (at once if none is), and release the root views. False: no arena lease,
    the caller closes now."""
    lease = _leases.pop(state, None)
    if lease is None:
        return False
    lease.add(close, ptr)
    lease.close()
    return True
