"""What the kernel-to-user event buffers share: their lease, one reader at a time, waiting on an
epoll fd, poll/consume, asyncio, argument checks.

``RingBuffer`` and ``PerfBuffer`` subclass ``PolledBuffer`` and provide ``_consume(lease)``,
``read()``, ``_epoll_fd(lease)``, ``_has_data(lease)`` and ``_free(lease)``. Their memory (the
mapped rings, libbpf's manager and its epoll fd) belongs to a ``_lease.Lease``: every operation
takes the lease once, at its start, and keeps it until it returns, so ``close()`` from a
callback, another thread or a signal handler never frees what an operation still uses (it
stops at its next step; the memory goes with the last user).

One reader at a time: the operations that read records hold the buffer's lock, so two threads
polling one buffer each get different records (none twice, none lost); a callback polling its
own buffer gets RuntimeError (it would see its own records again). Waiting uses poll(2) on
libbpf's epoll fd and the lease's wakeup fd: the GIL is released, Python runs signal handlers
(Ctrl-C raises KeyboardInterrupt) and retries, and a ``close()`` ends the wait at once.
"""

from __future__ import annotations

from _thread import allocate_lock, get_ident

from .._lease import Lease
from ..errors import Closeable, ClosedError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["PolledBuffer", "EventLayout", "wait_readable", "check_timeout", "check_count",
           "closed_stop", "release"]

_INF = float("inf")


def check_timeout(timeout: Any, what: str) -> Optional[float]:
    """A timeout in seconds: None or a number >= 0 (``inf`` means None). ValueError for nan and
    negative numbers, TypeError for anything else, both naming ``what``."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what}: timeout must be None or seconds (a number), not "
                        f"{timeout!r}")
    if not timeout >= 0:  # also catches nan
        raise ValueError(f"{what}: timeout must be None or >= 0 seconds, not {timeout!r}")
    return None if timeout == _INF else float(timeout)


def check_count(value: Any, name: str, what: str, *, lo: int = 0,
                hi: Optional[int] = None) -> int:
    """An int in [lo, hi]: TypeError for non-ints (bool included), ValueError out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: {name} must be an int, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{what}: {name} must be {bound}, not {value}")
    return value


def closed_stop(e: BaseException, lease: Lease) -> bool:
    """Whether ``e`` is a dispatch loop's own ValueError from a root view that close()
    released (not an exception from a callback): the lease is closed and ``e`` was raised in
    the loop's own frame (no deeper traceback entry) by a released memoryview."""
    tb = e.__traceback__
    return (lease.closed and type(e) is ValueError and tb is not None and tb.tb_next is None
            and "released memoryview" in str(e))


def release(view: memoryview) -> None:
    """Release a view handed to a callback. One the user exported from (a numpy array over
    it) cannot be: it stays valid, and keeps the memory alive through its lease."""
    try:
        view.release()
    except BufferError:
        pass


async def wait_readable(fd: int, wake: int = -1) -> None:
    """Wait until ``fd`` (or ``wake``) is readable, with the running event loop's reader."""
    import asyncio

    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    if wake >= 0:
        loop.add_reader(wake, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)
        if wake >= 0:
            loop.remove_reader(wake)


class PolledBuffer(Closeable):
    """Base of the event buffers: lease, lock, ``poll()``, waiting, asyncio, context manager."""

    _lease: Optional[Lease] = None
    _what = "event buffer"
    _owner = 0  # thread id of the reader holding _lock (0: none)

    def __init__(self) -> None:
        self._lock = allocate_lock()

    # provided by subclasses
    def _consume(self, lease: Lease) -> int:
        raise NotImplementedError

    def _epoll_fd(self, lease: Lease) -> int:
        raise NotImplementedError

    def _has_data(self, lease: Lease) -> bool:
        raise NotImplementedError

    def read(self, timeout: Optional[float] = 0) -> list[Any]:
        raise NotImplementedError

    # --- the lease and the reader lock

    def _take(self) -> Lease:
        """The lease, for one operation (keep it in a local until the operation returns).
        LIFETIME: ClosedError once close() was called."""
        lease = self._lease
        if lease is None:
            raise ClosedError(f"{self._what} is closed")
        return lease

    def _acquire(self) -> None:
        """Become the one reader (blocks while another thread reads; Ctrl-C interrupts)."""
        if not self._lock.acquire(False):
            if self._owner == get_ident():
                raise RuntimeError(f"{self._what}: used from inside one of its own callbacks "
                                   "(or a signal handler that interrupted one); only close() "
                                   "may be: another read would see the records being handled "
                                   "again")
            self._lock.acquire()
        self._owner = get_ident()

    def _release(self) -> None:
        self._owner = 0
        self._lock.release()

    # --- per-event callbacks

    def consume(self) -> int:
        """Run the callbacks on every available record without waiting; returns how many."""
        lease = self._take()
        self._acquire()
        try:
            return self._consume(lease)
        finally:
            self._release()

    def poll(self, timeout: Optional[float] = None) -> int:
        """Wait up to ``timeout`` seconds (None: until data comes) and run the callbacks on what
        is ready (see ``consume()``); returns the number of records handled.

        Waits on libbpf's epoll fd (what ``ring_buffer__poll``/``perf_buffer__poll`` wait on)
        with the GIL released; Ctrl-C interrupts a blocking poll with KeyboardInterrupt (the
        buffer stays usable). A ``close()`` during the wait (another thread, a signal handler)
        ends it: poll() returns 0 and the next call raises ClosedError. Any thread may poll;
        two at once take turns (each record is handled once).
        """
        timeout = check_timeout(timeout, f"{self._what}: poll")
        lease = self._take()
        n = self.consume()
        if n or timeout == 0:
            return n
        if timeout is None:
            while True:
                if not self._block(lease, None):
                    return 0
                n = self.consume()
                if n:
                    return n
        if not self._block(lease, timeout):
            return 0
        return self.consume()

    def _block(self, lease: Lease, timeout: Optional[float]) -> bool:
        """Wait until the epoll fd is readable, up to ``timeout`` seconds (None: no limit);
        False if the lease was closed meanwhile. poll(2) releases the GIL; on EINTR Python runs
        the signal handlers (Ctrl-C raises KeyboardInterrupt) and retries."""
        import select

        poller = select.poll()  # one per wait: a select.poll object is not shareable by threads
        poller.register(self._epoll_fd(lease), select.POLLIN)
        poller.register(lease.wakeup_fd(), select.POLLIN)
        if lease.closed:
            return False
        poller.poll(None if timeout is None else -(-timeout * 1000 // 1))
        return not lease.closed

    def _wait(self, lease: Lease, timeout: Optional[float]) -> bool:
        """Block until there is data, up to ``timeout`` seconds (0: don't wait); False if the
        lease was closed meanwhile."""
        if timeout == 0 or self._has_data(lease):
            return True
        return self._block(lease, timeout)

    # --- asyncio (the event loop's reader on the epoll fd, no thread)

    async def poll_async(self) -> int:
        """Wait in the running event loop until events come, then consume them (callbacks);
        0 if the buffer is closed meanwhile."""
        lease = self._take()
        while True:
            n = self.consume()
            if n:
                return n
            await wait_readable(self._epoll_fd(lease), lease.wakeup_fd())
            if lease.closed:
                return 0

    async def read_async(self) -> list[Any]:
        """Wait in the running event loop until events come, then ``read()`` them; [] if the
        buffer is closed meanwhile."""
        lease = self._take()
        while True:
            out = self.read()
            if out:
                return out
            await wait_readable(self._epoll_fd(lease), lease.wakeup_fd())
            if lease.closed:
                return []

    # --- closing

    def close(self) -> None:
        """Close the buffer; idempotent, and safe anywhere: inside one of its callbacks
        (polling stops after it), from another thread or a signal handler (a running poll()
        returns). The memory is freed once no operation or kept view uses it."""
        lease, self._lease = self._lease, None
        if lease is not None:
            self._closing()
            lease.close()

    def _closing(self) -> None:
        """Drop the subclass's references to the lease's memory (called once, by close())."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Closeable's finalizer
    def _left_open(self) -> bool:
        return self._lease is not None

    def _unclosed(self) -> str:
        return f"{self._what}: close() it (or use `with`)"


# --- typed events: copies of the records, fixed part + tail for variable-length records


def trailing_array(ctype: Any) -> Optional[tuple[str, int]]:
    """(name, offset) of a structure's last member when it is an array (a flexible ``char
    args[]`` or a maximum-size ``char args[N]`` that producers truncate), else None. Padding
    that BTF-made types (``_types``) add after it does not count."""
    import ctypes

    if not (isinstance(ctype, type) and issubclass(ctype, ctypes.Structure)):
        return None
    names = getattr(ctype, "_names_", None)  # BTF-made: padding fields are not in _names_
    for field in reversed(ctype._fields_):
        name, ftype = field[0], field[1]
        if names is not None and name not in names and name.startswith("_pad"):
            continue
        if len(field) == 2 and issubclass(ftype, ctypes.Array):
            shown = name[5:] if names is not None and name.startswith("_raw_") else name
            return shown, getattr(ctype, name).offset  # BTF char arrays: "_raw_<name>"
        return None
    return None


class EventLayout:
    """How records become ``event_type`` instances (copies). ``size`` = sizeof(event_type).
    Without ``tail``: records must hold ``size`` bytes (a flexible array member, ``char
    args[]``, has size 0). With ``tail``: records may stop anywhere in the type's trailing array
    (``fixed`` = its offset; shorter records are refused), the instance is zero-filled past the
    record, and ``tail(rec)`` is the record from ``tail_at`` (that offset, else ``size``) on."""

    __slots__ = ("ctype", "size", "fixed", "tail_at", "name", "what", "trailing")

    def __init__(self, ctype: Any, what: str, tail: bool = False) -> None:
        import ctypes

        self.ctype = ctype
        self.size = ctypes.sizeof(ctype)
        self.name = getattr(ctype, "__name__", str(ctype))
        self.what = what
        self.trailing = trailing_array(ctype)
        self.tail_at = self.trailing[1] if self.trailing else self.size
        self.fixed = self.tail_at if tail else self.size
        if self.size == 0:
            raise ValueError(f"{what}: event_type {self.name} has no size")

    @property
    def variable(self) -> bool:
        """Whether records may be shorter than the type."""
        return self.fixed < self.size

    def too_short(self, length: int) -> ValueError:
        if self.fixed < self.size:
            return ValueError(f"{self.what}: record of {length} bytes is shorter than the fixed "
                              f"part of {self.name} ({self.fixed} bytes before its trailing "
                              f"array '{self.trailing[0]}')")  # type: ignore[index]
        hint = ""
        if self.trailing and self.trailing[1] <= length:
            hint = (f"; if the producer truncates its trailing array '{self.trailing[0]}' "
                    "(a variable-length record), pass tail=True: the callback then gets the "
                    "fixed part and the tail")
        return ValueError(f"{self.what}: record of {length} bytes is smaller than {self.name} "
                          f"({self.size} bytes){hint}")

    def decode(self, rec: Any) -> Any:
        """An instance from a bytes-like record (a copy; zero-filled past a short record)."""
        n = len(rec)
        if n >= self.size:
            return self.ctype.from_buffer_copy(rec)
        if n < self.fixed:
            raise self.too_short(n)
        return self.ctype.from_buffer_copy(bytes(rec) + bytes(self.size - n))

    def tail(self, rec: Any) -> bytes:
        """The record's bytes from the trailing array (or the type's end) on."""
        return bytes(rec[self.tail_at:])
