"""Producing records for BPF programs: user ring buffers (``BPF_MAP_TYPE_USER_RINGBUF``).

User space reserves a record, fills it and submits it; a BPF program reads submitted records with
``bpf_user_ringbuf_drain()``. ``write(data)`` does the three steps for bytes or a ctypes value.
"""

from __future__ import annotations

import ctypes
import errno
import time

from ._ffi import lib
from ._ffi.stream import user_ring_buffer_opts
from ._ffi.types import make_opts
from .errors import BpfError, ClosedError, with_context
from .map import Map

__all__ = ["UserRingBuffer", "Reservation"]

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional, Union

USER_RINGBUF = 31  # enum bpf_map_type BPF_MAP_TYPE_USER_RINGBUF


class Reservation:
    """A reserved, not yet submitted record of a ``UserRingBuffer``.

    ``data`` is a writable memoryview of the record (``value``: the ctypes instance laid over it
    when reserved with a ctypes type). Both point into the ring's shared memory and are valid
    until ``submit()``/``discard()`` (after which ``data`` is released). As a context manager it
    submits on success and discards when the block raises.
    """

    __slots__ = ("_urb", "_ptr", "size", "data", "value")

    def __init__(self, urb: UserRingBuffer, ptr: int, size: int, ctype: Any) -> None:
        self._urb = urb
        # LIFETIME: a pointer into the ring's mapping, owned by libbpf until submit/discard.
        self._ptr: Optional[int] = ptr
        self.size = size
        self.data = memoryview((ctypes.c_ubyte * size).from_address(ptr)).cast("B")
        self.value = ctype.from_address(ptr) if ctype is not None else None

    def _take(self, what: str) -> int:
        ptr = self._ptr
        if ptr is None:
            raise ValueError(f"{what}: this reservation was already submitted or discarded")
        self._ptr = None
        self.data.release()
        self.value = None
        self._urb._pending.discard(self)
        return ptr

    def submit(self) -> None:
        """Hand the record to the kernel (``user_ring_buffer__submit``)."""
        ptr = self._take("submit")
        lib.user_ring_buffer__submit(self._urb._handle(), ptr)

    def discard(self) -> None:
        """Give the space back without a record (``user_ring_buffer__discard``)."""
        ptr = self._take("discard")
        lib.user_ring_buffer__discard(self._urb._handle(), ptr)

    @property
    def done(self) -> bool:
        """Whether submit() or discard() was called."""
        return self._ptr is None

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._ptr is None:
            return
        if exc_type is None:
            self.submit()
        else:
            self.discard()


_MAX_BACKOFF = 0.002  # seconds between retries of a waiting reserve(), at most


def _wait_for_space(ptr: Any, size: int, timeout: Optional[float]) -> Any:
    """Retry ``user_ring_buffer__reserve`` until it succeeds, fails other than with ENOSPC, or
    ``timeout`` seconds (None: no limit) pass; sleeps in between, doubling from 50 us."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.00005
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return None  # errno is still ENOSPC from the last try
        time.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, _MAX_BACKOFF)
        rec = lib.user_ring_buffer__reserve(ptr, size)
        if rec or ctypes.get_errno() != errno.ENOSPC:
            return rec


class UserRingBuffer:
    """Records from user space to BPF programs, over a ``USER_RINGBUF`` map.

    Wraps ``user_ring_buffer__new``; valid after load (needs the map's fd, so the privileges that
    loaded it). Keeps the map alive until ``close()``, which discards pending reservations and
    unmaps the ring. Only one producer may use a map at a time (libbpf's rule).
    """

    def __init__(self, map: Map) -> None:
        if not isinstance(map, Map):
            raise TypeError(f"map must be a libbpf_py Map, not {type(map).__name__}")
        if map._type != USER_RINGBUF:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a USER_RINGBUF")
        self._map: Optional[Map] = map
        self._pending: set[Reservation] = set()
        self._ptr: Any = None
        try:
            self._ptr = lib.user_ring_buffer__new(map.fd, ctypes.byref(
                make_opts(user_ring_buffer_opts)))
        except BpfError as e:
            raise with_context(e, f"user ring buffer '{map.name}'") from None

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError("user ring buffer is closed")
        return self._ptr

    def reserve(self, size: Union[int, type, str], *,
                timeout: Optional[float] = 0) -> Reservation:
        """Reserve a record of ``size`` bytes, or of a type's size with ``.value`` laid over it:
        a ctypes type, or a BTF type name of the map's object ("struct msg").

        ``timeout``: 0 fails at once when the ring is full, None waits until space frees,
        seconds wait that long; space frees when a BPF program drains the ring. A full ring
        raises ``BpfError`` with errno ENOSPC; a record larger than the ring E2BIG. Waiting
        sleeps (GIL released, Ctrl-C raises ``KeyboardInterrupt``) and retries
        ``user_ring_buffer__reserve`` with a backoff of at most 2 ms; libbpf's
        ``user_ring_buffer__reserve_blocking`` is not used: the kernel reports the ring
        writable while any byte is free, so it spins on a nearly full ring, and with no
        timeout it gives up after one wakeup (libbpf 1.7.0).
        """
        ptr = self._handle()
        ctype = None
        if isinstance(size, str):
            from .ringbuf import resolve_event_type

            size = resolve_event_type(size, self._map)  # type: ignore[arg-type]
        if isinstance(size, type):
            ctype, size = size, ctypes.sizeof(size)
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f"reserve: size must be a positive int, a ctypes type or a BTF type "
                             f"name, not {size!r}")
        rec = lib.user_ring_buffer__reserve(ptr, size)
        if not rec and timeout != 0 and ctypes.get_errno() == errno.ENOSPC:
            rec = _wait_for_space(ptr, size, timeout)
        if not rec:
            err = ctypes.get_errno() or errno.ENOSPC
            name = self._map.name if self._map is not None else "?"
            raise BpfError(err, os_strerror(err),
                           f"user ring buffer '{name}': reserve {size} bytes")
        r = Reservation(self, rec, size, ctype)
        self._pending.add(r)
        return r

    def write(self, data: Any, *, timeout: Optional[float] = 0) -> None:
        """Reserve, copy ``data`` (bytes-like or a ctypes value) and submit one record."""
        if isinstance(data, (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)):
            size = ctypes.sizeof(data)
            src = memoryview(data).cast("B")
        else:
            src = memoryview(data).cast("B")
            size = src.nbytes
        r = self.reserve(size, timeout=timeout)
        try:
            r.data[:] = src
        except BaseException:
            r.discard()
            raise
        r.submit()

    def close(self) -> None:
        """Discard outstanding reservations and free the producer (``user_ring_buffer__free``);
        idempotent."""
        if self._ptr is None:
            return
        for r in list(self._pending):
            r.discard()
        ptr, self._ptr = self._ptr, None
        lib.user_ring_buffer__free(ptr)
        self._map = None

    def __enter__(self) -> UserRingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


def os_strerror(err: int) -> str:
    import os

    return os.strerror(err)
