"""Consuming BPF ring buffers (``BPF_MAP_TYPE_RINGBUF``) from Python.

Wraps libbpf's ``struct ring_buffer`` manager: several ring buffer maps, one callback each, one
epoll fd. ``poll()`` waits (the GIL is released while it waits) and calls the callbacks for every
record available.

The callback receives a ``memoryview`` of the record, **valid only during the call** (it points
into the ring's shared memory, which the kernel reuses after the callback returns): copy what you
keep (``bytes(data)``). Return ``None`` (or any value that is not a negative int) to go on; a
negative int stops consumption. An exception raised by a callback stops consumption and is
re-raised from ``poll()``/``consume()``.
"""

from __future__ import annotations

import ctypes
import errno
from ._ffi import check, lib
from ._ffi.types import make_opts, ring_buffer_opts, ring_buffer_sample_fn
from .errors import BpfError, ClosedError, with_context
from .map import RINGBUF, Map

__all__ = ["RingBuffer"]

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Optional

    Callback = Callable[[memoryview], Any]
_EINTR = -errno.EINTR

_poll = lib.ring_buffer__poll
_consume = lib.ring_buffer__consume


class RingBuffer:
    """Events from one or more ring buffer maps, each with its own callback.

    ``RingBuffer(map, callback)`` or ``RingBuffer()`` then ``add(map, callback)``. Wraps
    ``ring_buffer__new``/``ring_buffer__add``; needs the maps' object loaded. Keeps the maps (and
    so their object) and the callbacks alive until ``close()``.
    """

    def __init__(self, map: Optional[Map] = None, callback: Optional[Callback] = None) -> None:
        self._ptr: Any = None
        # LIFETIME: libbpf holds raw pointers to these CFUNCTYPE objects until ring_buffer__free.
        self._cbs: list[Any] = []
        self._maps: list[Map] = []
        self._error: Optional[BaseException] = None
        self._count = 0
        self._stopped = False
        if map is not None:
            if callback is None:
                raise TypeError("RingBuffer(map, callback): a map needs a callback")
            self.add(map, callback)
        elif callback is not None:
            raise TypeError("RingBuffer(map, callback): a callback needs a map")

    def _make_cb(self, callback: Callback) -> Any:
        def on_sample(_ctx: Any, data: int, size: int) -> int:
            try:
                rc = callback(memoryview((ctypes.c_char * size).from_address(data)).cast("B"))
            except BaseException as e:  # noqa: BLE001 - stored, re-raised by poll()
                self._error = e
                return -1
            self._count += 1
            if type(rc) is int and rc < 0:
                self._stopped = True
                return rc
            return 0

        return ring_buffer_sample_fn(on_sample)

    def add(self, map: Map, callback: Callback) -> None:
        """Add a ring buffer map and the callback for its records (``ring_buffer__add``)."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        if map._type != RINGBUF:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a RINGBUF")
        fd = map.fd
        cb = self._make_cb(callback)
        try:
            if self._ptr is None:
                opts = make_opts(ring_buffer_opts)
                self._ptr = lib.ring_buffer__new(fd, cb, None, ctypes.byref(opts))
            else:
                lib.ring_buffer__add(self._handle(), fd, cb, None)
        except BpfError as e:
            raise with_context(e, f"ring buffer on map '{map.name}'") from None
        self._cbs.append(cb)
        self._maps.append(map)

    def _handle(self) -> Any:
        if self._ptr is None:
            if self._cbs:
                raise ClosedError("ring buffer is closed")
            raise ValueError("ring buffer has no map: add(map, callback) first")
        return self._ptr

    def _finish(self, rc: int, what: str) -> int:
        count, self._count = self._count, 0
        err, self._error = self._error, None
        stopped, self._stopped = self._stopped, False
        if err is not None:
            raise err
        if rc < 0 and rc != -errno.EINTR and not stopped:
            check(rc, what)
        return count

    def poll(self, timeout: Optional[float] = None) -> int:
        """Wait up to ``timeout`` seconds (None: until events come) and consume what is ready.

        Returns the number of events handled. Wraps ``ring_buffer__poll``; the GIL is released
        while waiting; Ctrl-C interrupts a blocking poll with KeyboardInterrupt.
        """
        ptr = self._handle()
        if timeout is None:
            while True:
                rc = _poll(ptr, -1)
                # A signal (EINTR) returns here, where Python runs its handler: Ctrl-C raises
                # KeyboardInterrupt; other handlers return and the wait goes on.
                if rc != 0 and rc != _EINTR:
                    return self._finish(rc, "ring_buffer__poll")
        ms = max(0, int(timeout * 1000))
        return self._finish(_poll(ptr, ms), "ring_buffer__poll")

    def consume(self) -> int:
        """Consume every available record without waiting (``ring_buffer__consume``)."""
        return self._finish(_consume(self._handle()), "ring_buffer__consume")

    def fileno(self) -> int:
        """The epoll fd (``ring_buffer__epoll_fd``), readable when records are ready."""
        return lib.ring_buffer__epoll_fd(self._handle())

    def close(self) -> None:
        """Free the ring buffer manager (``ring_buffer__free``); idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            lib.ring_buffer__free(ptr)
        self._maps = []

    def __enter__(self) -> RingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass
