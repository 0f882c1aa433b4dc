"""Producing records for BPF programs: user ring buffers (``BPF_MAP_TYPE_USER_RINGBUF``).

User space reserves a record, fills it and submits it; a BPF program reads submitted records with
``bpf_user_ringbuf_drain()``. ``write(data)`` does the three steps for bytes or a ctypes value.

Safety (``_lease``): the ring's memory belongs to a lease held by the buffer, by every pending
reservation and by every view of a reservation's record, so ``close()`` from anywhere (another
thread, a signal handler, during a waiting ``reserve()``) never frees memory still in use. One
producer at a time (libbpf's rule): the buffer's calls into libbpf are serialized, so threads
may share it.
"""

from __future__ import annotations

import ctypes
import errno
import time
from _thread import allocate_lock, get_ident

from ._base import check_count, check_timeout
from .._ffi import lib
from .._ffi.stream import user_ring_buffer_opts
from .._ffi.core import make_opts
from .._lease import Lease
from ..errors import BpfError, Closeable, ClosedError, with_context
from ..maps import MapBase

__all__ = ["UserRingBuffer", "Reservation"]

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional, Union

USER_RINGBUF = 31  # enum bpf_map_type BPF_MAP_TYPE_USER_RINGBUF
_U32 = 2**32 - 1  # user_ring_buffer__reserve takes a __u32 size


class Reservation:
    """A reserved, not yet submitted record of a ``UserRingBuffer``.

    ``data`` is a writable memoryview of the record: reserved by size, it points into the ring's
    shared memory (zero-copy); reserved with a ctypes type, ``value`` is an instance of it and
    ``data`` views that instance, which ``submit()`` copies into the record. ``data`` is
    released by ``submit()``/``discard()``/``close()`` (using it later raises ValueError);
    a kept ``value`` is just a ctypes object. As a context manager it submits on success and
    discards when the block raises.
    """

    __slots__ = ("_urb", "_lease", "_mgr", "_ptr", "size", "data", "value")

    def __init__(self, urb: UserRingBuffer, lease: Lease, mgr: Any, ptr: int, size: int,
                 ctype: Any) -> None:
        self._urb = urb
        # LIFETIME: the lease keeps the ring (and libbpf's user_ring_buffer ``mgr``) until
        # the reservation is done; ``ptr`` points into the ring, owned by libbpf until then.
        self._lease: Optional[Lease] = lease
        self._mgr = mgr
        self._ptr: Optional[int] = ptr
        self.size = size
        if ctype is None:
            self.value: Any = None
            # a view of the record whose slices keep the ring mapped (see _lease)
            self.data = lease.view(ptr, size, readonly=False, root=False)
        else:
            self.value = ctype()
            self.data = memoryview(self.value).cast("B")

    def _take(self, what: str) -> tuple[Lease, int]:
        ptr, lease = self._ptr, self._lease
        if ptr is None or lease is None:
            raise ValueError(f"{what}: this reservation was already submitted or discarded")
        self._ptr = self._lease = None
        self.data.release()
        self._urb._pending.discard(self)
        return lease, ptr

    def submit(self) -> None:
        """Hand the record to the kernel (``user_ring_buffer__submit``)."""
        lease, ptr = self._take("submit")
        value, self.value = self.value, None
        if value is not None:
            ctypes.memmove(ptr, ctypes.addressof(value), self.size)
        with self._urb._locked():
            lib.user_ring_buffer__submit(self._mgr, ptr)
        del lease  # LIFETIME: held until here

    def discard(self) -> None:
        """Give the space back without a record (``user_ring_buffer__discard``)."""
        lease, ptr = self._take("discard")
        self.value = None
        with self._urb._locked():
            lib.user_ring_buffer__discard(self._mgr, ptr)
        del lease  # LIFETIME: held until here

    @property
    def done(self) -> bool:
        """Whether submit() or discard() was called (close() discards)."""
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


class _Locked:
    """``with urb._locked():`` serializes calls into libbpf's producer. Re-entrant for the
    thread holding it: a signal handler calling close() runs between two bytecodes of the
    code it interrupted, never inside a libbpf call."""

    __slots__ = ("urb", "mine")

    def __init__(self, urb: UserRingBuffer) -> None:
        self.urb = urb
        self.mine = False

    def __enter__(self) -> None:
        urb = self.urb
        if urb._owner == get_ident():
            return
        urb._lock.acquire()
        urb._owner = get_ident()
        self.mine = True

    def __exit__(self, *exc: object) -> None:
        if self.mine:
            self.urb._owner = 0
            self.urb._lock.release()


class UserRingBuffer(Closeable):
    """Records from user space to BPF programs, over a ``USER_RINGBUF`` map.

    Wraps ``user_ring_buffer__new``; valid after load (needs the map's fd, so the privileges that
    loaded it). Keeps the map alive until ``close()``, which discards pending reservations; the
    ring is unmapped once no reservation, view or waiting ``reserve()`` uses it.
    """

    def __init__(self, map: MapBase) -> None:
        if not isinstance(map, MapBase):
            raise TypeError(f"map must be a libbpf_py Map, not {type(map).__name__}")
        if map._type != USER_RINGBUF:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a USER_RINGBUF")
        self._map: Optional[MapBase] = map
        self._what = f"user ring buffer '{map.name}'"
        self._pending: set[Reservation] = set()
        self._lease: Optional[Lease] = None
        self._lock = allocate_lock()
        self._owner = 0
        try:
            ptr = lib.user_ring_buffer__new(map.fd, ctypes.byref(
                make_opts(user_ring_buffer_opts)))
        except BpfError as e:
            raise with_context(e, self._what) from None
        lease = Lease(self._what)
        # LIFETIME: freed (unmapped, epoll fd closed) with the lease, once nothing uses it
        lease.add(lib.user_ring_buffer__free, ptr)
        self._ptr = ptr
        self._lease = lease

    def _locked(self) -> _Locked:
        return _Locked(self)

    def _take(self) -> Lease:
        lease = self._lease
        if lease is None:
            raise ClosedError(f"{self._what} is closed")
        return lease

    def reserve(self, size: Union[int, type, str], *,
                timeout: Optional[float] = 0) -> Reservation:
        """Reserve a record of ``size`` bytes, or of a type's size with ``.value`` an instance of
        it: a ctypes type, or a BTF type name of the map's object ("struct msg").

        ``timeout``: 0 fails at once when the ring is full, None waits until space frees,
        seconds wait that long; space frees when a BPF program drains the ring. A full ring
        raises ``BpfError`` with errno ENOSPC; a record larger than the ring E2BIG. Waiting
        sleeps (GIL released, Ctrl-C raises ``KeyboardInterrupt``, the buffer stays usable)
        and retries ``user_ring_buffer__reserve`` with a backoff of at most 2 ms; a
        ``close()`` meanwhile (another thread, a signal handler) ends it with ClosedError.
        libbpf's ``user_ring_buffer__reserve_blocking`` is not used: the kernel reports the
        ring writable while any byte is free, so it spins on a nearly full ring, and with no
        timeout it gives up after one wakeup (libbpf 1.7.0).
        """
        timeout = check_timeout(timeout, f"{self._what}: reserve")
        lease = self._take()
        ctype = None
        if isinstance(size, str):
            from .ringbuf import resolve_event_type

            size = resolve_event_type(size, self._map)  # type: ignore[arg-type]
        if isinstance(size, type):
            ctype, nbytes = size, ctypes.sizeof(size)
            if not nbytes:
                raise ValueError(f"{self._what}: reserve: {ctype.__name__} has no size")
        else:
            nbytes = check_count(size, "size (bytes, a ctypes type or a BTF type name)",
                                 f"{self._what}: reserve", lo=1, hi=_U32)
        ptr = self._ptr
        with self._locked():
            rec = lib.user_ring_buffer__reserve(ptr, nbytes)
            err = ctypes.get_errno()
        if not rec and timeout != 0 and err == errno.ENOSPC:
            rec, err = self._wait_for_space(lease, nbytes, timeout)
        if not rec:
            err = err or errno.ENOSPC
            raise BpfError(err, _strerror(err), f"{self._what}: reserve {nbytes} bytes")
        r = Reservation(self, lease, ptr, rec, nbytes, ctype)
        self._pending.add(r)
        if lease.closed:  # close() ran (a signal handler) while this reserve was under way
            r.discard()
            raise ClosedError(f"{self._what} is closed")
        return r

    def _wait_for_space(self, lease: Lease, size: int,
                        timeout: Optional[float]) -> tuple[Any, int]:
        """Retry ``user_ring_buffer__reserve`` until it succeeds, fails other than with ENOSPC,
        or ``timeout`` seconds (None: no limit) pass; sleeps in between, doubling from 50 us.
        ClosedError if the buffer is closed meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.00005
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None, errno.ENOSPC
            time.sleep(delay if left is None else min(delay, left))
            delay = min(delay * 2, _MAX_BACKOFF)
            if lease.closed:
                raise ClosedError(f"{self._what} is closed")
            with self._locked():
                rec = lib.user_ring_buffer__reserve(self._ptr, size)
                err = ctypes.get_errno()
            if rec or err != errno.ENOSPC:
                return rec, err

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
        """Discard outstanding reservations and free the producer (``user_ring_buffer__free``,
        once nothing uses the ring); idempotent. Safe anywhere, including a signal handler or
        another thread while a ``reserve()`` waits (it raises ClosedError)."""
        lease, self._lease = self._lease, None
        if lease is None:
            return
        for r in list(self._pending):
            if not r.done:
                r.discard()
        lease.close()
        self._map = None

    def __enter__(self) -> UserRingBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Closeable's finalizer
    def _left_open(self) -> bool:
        return self._lease is not None

    def _unclosed(self) -> str:
        return f"{self._what}: close() it (or use `with`)"


def _strerror(err: int) -> str:
    import os

    return os.strerror(err)
