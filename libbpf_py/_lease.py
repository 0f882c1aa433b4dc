"""Leases: native memory that Python views point into, freed when the last user is done.

The event buffers, ``Map.mmap()``, global sections and arenas hand Python views of memory that
C owns (an ``mmap`` of a BPF map, libbpf's perf or user ring buffer). A view that outlives that
memory must never read it. A ``Lease`` is the one owner of such native resources and the
contract that every user of them follows:

- **Freeing.** ``Lease.add(free, *args)`` registers a call that frees a resource (``munmap``,
  ``ring_buffer__free``...). They run once, last added first, when the ``Lease`` object itself
  is destroyed. CPython destroys an object the moment its last reference goes, so *in use*
  simply means *referenced*: nothing is counted by hand, and the free runs in whichever thread
  drops the last reference, right then (or at the next garbage collection if the lease sits in
  a reference cycle; keep it out of cycles: a free function must not refer to the owner).
- **Who holds a lease.**
  1. Its owner (a ``RingBuffer``...) from creation until its ``close()``, which calls
     ``Lease.close()`` and drops its reference.
  2. Every operation that touches the memory through raw addresses (a ``poll()``, a C call
     with the GIL released, a wait) keeps the lease in a local variable for its whole duration,
     taken from the owner *once*, at its start. So ``close()`` from a callback, another thread
     or a signal handler never frees memory under a running operation: the operation sees
     ``closed`` (or a released view, below) at its next step, stops, and the memory goes with
     its last reference.
  3. Views: ``Lease.view(address, size)`` returns a memoryview whose exporter (a ctypes array)
     holds the lease. Its slices, ``memoryview(v)``, numpy arrays and ctypes ``from_buffer``
     instances over it keep that exporter, hence the memory, alive for as long as any of them
     exists: none can read unmapped memory, whatever the user keeps and whenever the owner
     closes.
- **Closing.** ``Lease.close()`` marks the lease closed (idempotent) and releases the *root*
  views made by ``view()``: the next slice or buffer request on one raises ValueError, which
  is how a tight loop notices a close without checking a flag per item (its already-made
  slices stay valid, see 3). It also wakes every waiter on ``wakeup_fd()``.
- **Views handed to user code for one call** (a callback's record) are released by the caller
  after the call (``memoryview.release()``): using one later raises ``ValueError: operation
  forbidden on released memoryview object``. Only what the user derived from it during the
  call (a slice, a numpy array) stays valid, and it holds the lease (3). Data copied out
  (ctypes ``from_buffer_copy``, ``bytes``) is not a view and needs no lease.
- **Waiting.** A blocking wait polls ``wakeup_fd()`` with its own fds: it becomes readable when
  the lease is closed, so ``close()`` from another thread or a signal handler ends the wait at
  once. The fd is made on first use and freed with the lease.

This module imports nothing beyond ``ctypes``, ``os`` and ``_weakref`` (all loaded already).
"""

from __future__ import annotations

import ctypes
import os
from _weakref import ref as _weak

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Optional

__all__ = ["Lease"]


class Lease:
    """Native resources shared by an owner and the views and operations derived from it; freed
    when the last of them is gone (see the module docstring for the contract)."""

    __slots__ = ("closed", "_frees", "_roots", "_wake", "what", "__weakref__")

    def __init__(self, what: str) -> None:
        #: Set by close(): users stop at their next step.
        self.closed = False
        self.what = what  #: what owns the memory, for messages ("ring buffer 'events'")
        self._frees: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self._roots: list[Any] = []  # weak references to the root views
        self._wake: Optional[tuple[int, int]] = None  # (read fd, write fd) of wakeup_fd()

    def add(self, free: Callable[..., object], *args: Any) -> None:
        """Register ``free(*args)`` to run when the lease is destroyed (last added, first run).
        LIFETIME: neither may refer to the lease's owner (that would make a cycle)."""
        self._frees.append((free, args))

    def view(self, address: int, size: int, *, readonly: bool = True,
             root: bool = True) -> memoryview:
        """A byte memoryview of ``size`` bytes at ``address``, which stays mapped while the view
        or anything derived from it exists. A *root* view (the default) is released by
        ``close()`` (its slices stay valid); release a non-root one yourself."""
        # LIFETIME: the ctypes array is the view's exporter and holds the lease: every view,
        # slice or array over it keeps the memory alive. cast("B"): a ctypes array exports
        # format "<B", which memoryview can index only as "B".
        arr = (ctypes.c_ubyte * size).from_address(address)
        arr._lease = self  # type: ignore[attr-defined]  # ctypes instances take attributes
        mv = memoryview(arr).cast("B")
        if readonly:
            mv = mv.toreadonly()
        if root:
            # Weakly: the view holds the lease (through its exporter), a strong reference back
            # would make a cycle. The owner keeps its root views.
            self._roots.append(_weak(mv))
        return mv

    def wakeup_fd(self) -> int:
        """An fd that becomes readable when the lease is closed (made on first use, closed with
        the lease), for waits that must end when the owner closes."""
        wake = self._wake
        if wake is None:
            if hasattr(os, "eventfd"):  # Python >= 3.10
                fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
                wake = self._wake = (fd, fd)
            else:
                r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
                wake = self._wake = (r, w)
            if self.closed:
                self._signal()
        return wake[0]

    def _signal(self) -> None:
        if self._wake is not None:
            try:
                os.write(self._wake[1], (1).to_bytes(8, "little"))
            except OSError:  # the counter or pipe is full: already readable
                pass

    def close(self) -> None:
        """Mark the lease closed, release its root views and wake its waiters; idempotent.
        The memory itself is freed when the lease is destroyed."""
        if self.closed:
            return
        self.closed = True
        for root in self._roots:
            mv = root()
            if mv is None:
                continue
            try:
                mv.release()
            except BufferError:  # something exports it: it keeps the memory alive, correctly
                pass
        self._roots = []
        self._signal()

    def __del__(self) -> None:
        # Runs once no view, operation or owner refers to the lease any more.
        frees, self._frees = self._frees, []
        for free, args in reversed(frees):
            try:
                free(*args)
            except Exception:  # noqa: BLE001 - never raise from a finalizer (e.g. at exit)
                pass
        wake, self._wake = self._wake, None
        if wake is not None:
            for fd in set(wake):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __repr__(self) -> str:
        return f"<Lease of {self.what}{' (closed)' if self.closed else ''}>"
