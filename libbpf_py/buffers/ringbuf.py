"""Consuming BPF ring buffers (``BPF_MAP_TYPE_RINGBUF``) from Python.

Several ring buffer maps, one callback each, one epoll fd (libbpf's ``struct ring_buffer``
manager provides the epoll fd and the ``ring__*`` statistics). Three ways to read, all on the same
rings (they share the consumer position):

- per-event callbacks: ``poll()``/``consume()`` call ``callback(data)`` for every record. ``data``
  is a read-only ``memoryview`` of the record in the ring's shared memory (zero-copy), **valid
  only during the call**: it is released when the callback returns (using it later raises
  ValueError); copy what you keep (``bytes(data)``). With ``event_type=`` the callback gets an
  instance of that ctypes type instead, a *copy* of the record (yours to keep and modify).
  Variable-length records (a type ending in an array that the producer truncates, or a
  flexible ``char args[]``): with ``tail=True`` the callback gets ``(event, tail)``, the
  fixed part (zero-filled past the record) and the record's bytes from that array on.
  Return ``None`` (or anything that is not a negative int) to go on; a negative int stops
  consumption. An exception raised by a callback stops consumption
  (its record is consumed) and is re-raised from ``poll()``/``consume()``.
- batches: ``read()`` returns a list of ``bytes``, ``read_array()`` a numpy structured array of
  fixed-size records, copied once from the ring by the C shim (no Python call per record).
- asyncio: ``await rb.poll_async()``, ``await rb.read_async()`` and ``async for event in rb``,
  driven by the event loop's reader on the epoll fd (no thread).

Safety (``_lease``): the rings' memory belongs to a lease that outlives every operation and view
still using it. ``close()`` is safe anywhere (inside a callback: polling stops after it; from
another thread or a signal handler: a running ``poll()`` returns); a slice of a callback's view
or an array from ``consume_array()`` kept past the call keeps the ring mapped (never a fault;
its bytes may since have been overwritten by newer records). Threads may share a buffer: one
reads at a time.
"""

from __future__ import annotations

import ctypes

from array import array
from itertools import repeat

from ._base import (EventLayout, PolledBuffer, check_count, check_timeout, closed_stop,
                    wait_readable)
from .._lease import Lease
from .._ffi import lib
from .._ffi.stream import ring_buffer_opts, ring_buffer_sample_fn
from .._ffi.core import make_opts
from ..errors import BpfError, with_context
from ..maps import MapBase

__all__ = ["RingBuffer", "RingStats"]

TYPE_CHECKING = False  # typing/numpy are not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import Any, Optional, Union

    import numpy

    Callback = Callable[..., Any]  # (data), (event) or (event, tail)
    EventType = Union[type, str]

RINGBUF = 27  # enum bpf_map_type BPF_MAP_TYPE_RINGBUF
_HDR = 8  # BPF_RINGBUF_HDR_SZ

_read = lib.lbpy_ring_read


# --- helpers shared with perfbuf.py


def resolve_event_type(event_type: Optional[EventType], map: MapBase) -> Any:
    """A ctypes type for ``event_type``: a ctypes type as is, or a BTF name ("struct event")
    resolved in the BTF of the map's object. None stays None (raw records)."""
    if event_type is None:
        return None
    if isinstance(event_type, str):
        from .._dwarf import object_ctype

        if not event_type.strip():
            raise ValueError("event_type must name a type like 'struct event', not "
                             f"{event_type!r}")
        # the object's BTF, else its DWARF; a MissingTypeError (a ValueError) says what to do
        return object_ctype(map._state, event_type, f"event_type={event_type!r} of map "
                            f"'{map.name}'")
    if isinstance(event_type, type) and issubclass(
            event_type, (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)):
        return event_type
    raise TypeError(f"event_type must be a ctypes type or a BTF type name like 'struct event', "
                    f"not {event_type!r}")


def dtype_for(ctype: Any, what: str) -> numpy.dtype:
    """The numpy dtype of a ctypes type (``_types.numpy_dtype``)."""
    if ctype is None:
        raise ValueError(f"{what}: read_array() needs a dtype (or the buffer's event_type)")
    from .._types import numpy_dtype

    dt = numpy_dtype(ctype)
    if dt.itemsize != ctypes.sizeof(ctype):
        raise ValueError(f"{what}: dtype {dt} is {dt.itemsize} bytes, {ctype.__name__} "
                         f"{ctypes.sizeof(ctype)}")
    return dt


def split_records(buf: bytearray, lens: Any, count: int) -> list[bytes]:
    """Records laid back to back in ``buf`` (lengths in ``lens``) -> a list of bytes."""
    mv = memoryview(buf)
    out: list[bytes] = []
    append = out.append
    off = 0
    for n in lens[:count]:
        append(mv[off:off + n].tobytes())
        off += n
    mv.release()
    return out


def as_dtype(dtype: Any, map: MapBase) -> numpy.dtype:
    """A numpy dtype from a dtype, a ctypes structure, or a BTF name of ``map``'s object."""
    import numpy as np

    if isinstance(dtype, str) and " " in dtype:  # "struct event": a BTF name, not a numpy code
        dtype = resolve_event_type(dtype, map)
    if isinstance(dtype, type) and issubclass(dtype, (ctypes.Structure, ctypes.Union)):
        return dtype_for(dtype, "read_array")
    return np.dtype(dtype)


class RingStats:
    """Positions and fill level of one ring (libbpf's ``ring__*`` accessors)."""

    __slots__ = ("map_name", "size", "producer_pos", "consumer_pos", "avail")

    def __init__(self, map_name: str, size: int, producer_pos: int, consumer_pos: int,
                 avail: int) -> None:
        self.map_name = map_name
        self.size = size  #: data area size in bytes (``ring__size``)
        self.producer_pos = producer_pos  #: ``ring__producer_pos``
        self.consumer_pos = consumer_pos  #: ``ring__consumer_pos``
        self.avail = avail  #: bytes waiting, headers included (``ring__avail_data_size``)

    @property
    def fill(self) -> float:
        """Fraction of the ring in use (0.0 empty .. 1.0 full: the producer will drop)."""
        return self.avail / self.size

    def __repr__(self) -> str:
        return (f"RingStats(map_name={self.map_name!r}, size={self.size}, "
                f"producer_pos={self.producer_pos}, consumer_pos={self.consumer_pos}, "
                f"avail={self.avail}, fill={self.fill:.3f})")


#: Records found per lbpy_ring_peek call by the callback path.
_PEEK = 1024
#: Runs (arrays) found per lbpy_ring_runs call by consume_array.
_RUNS = 64
#: array.array typecode of C unsigned long (the peek outputs; the size of size_t on Linux).
_UL = "L"


def _no_sample(_ctx: Any, _data: Any, _size: int) -> int:
    return 0


# LIFETIME: module-level, so alive as long as any ring_buffer that holds it. libbpf never calls it:
# RingBuffer runs the callbacks itself (see _make_dispatch); ring_buffer__new needs a callback.
_NO_SAMPLE = ring_buffer_sample_fn(_no_sample)


class _Ring:
    __slots__ = ("map", "layout", "tail", "reader", "index", "dispatch", "area")

    def __init__(self, map: MapBase, layout: Optional[EventLayout], tail: bool,
                 index: int) -> None:
        self.map = map
        self.layout = layout
        self.tail = tail
        self.index = index
        # LIFETIME: src/ringbuf.c's own mapping of the ring, freed by the RingBuffer's lease.
        self.reader: Any = None
        #: The ring's data area (mapped twice), a root view of the lease: close() releases it.
        self.area: Any = None
        self.dispatch: Optional[Callable[[], int]] = None

    @property
    def ctype(self) -> Any:
        return self.layout.ctype if self.layout is not None else None


def _position(it: Any, n: int) -> int:
    """How many items of an ``n``-item array the iterator ``it`` has handed out (what a
    map() pipeline over it has started on). Array iterators report it in their pickle state
    (``__reduce__``: (iter, (array,), index); just (iter, ((),)) once exhausted)."""
    state = it.__reduce__()
    return state[2] if len(state) > 2 else n


def _make_dispatch(mem: Lease, reader: Any, area: memoryview, callback: Callback,
                   layout: Optional[EventLayout], tail: bool) -> Callable[[], int]:
    """A function that runs ``callback`` on every available record of one ring, in order, and
    returns how many it handled.

    No C-to-Python transition per record: lbpy_ring_peek lists up to _PEEK records (their
    offsets in the ring's data area, nothing consumed), Python calls the callback with a
    read-only slice of ``area`` (released after the call) or an ``event_type`` copy, and
    lbpy_ring_commit consumes them. A callback that raises or returns a negative int stops
    after its record (consumed, like libbpf's ring_buffer__consume); the exception propagates.
    ``close()`` (lease.close()) releases ``area``: the next slice raises ValueError, which the
    loop recognizes (closed_stop) and ends on, cleanly, after the closing callback's record.
    LIFETIME: the closure holds ``area`` (a root view of ``mem``), so the ring stays mapped
    while it runs.
    """
    starts, stops, ends = (array(_UL, bytes(8 * _PEEK)) for _ in range(3))
    s_addr, t_addr, e_addr = (a.buffer_info()[0] for a in (starts, stops, ends))
    end, short = ctypes.c_ulong(), ctypes.c_uint()
    end_ref, short_ref = ctypes.byref(end), ctypes.byref(short)
    peek, commit = lib.lbpy_ring_peek, lib.lbpy_ring_commit
    min_len = 0
    if layout is not None:
        copy, size, min_len = layout.ctype.from_buffer_copy, layout.size, layout.fixed
        variable = layout.variable or tail  # tail: every record takes the slower path

    def dispatch() -> int:
        count = 0
        # LIFETIME: locals, not the closure's cells (faster), for the loop's duration
        cb, view = callback, area
        while True:
            n = peek(reader, s_addr, t_addr, e_addr, _PEEK, min_len, end_ref, short_ref)
            if not n:
                commit(reader, end.value)  # discarded records before the stop
                if short.value and layout is not None:
                    raise layout.too_short(short.value)
                return count
            s = starts[:n]
            start = it = None
            try:
                if layout is None:
                    for start, stop in zip(s, stops[:n]):
                        v = view[start:stop]
                        rc = cb(v)
                        try:
                            v.release()
                        except BufferError:  # exported (a numpy array over it): it stays
                            pass
                        if rc is not None and type(rc) is int and rc < 0:
                            i = s.index(start) + 1
                            commit(reader, ends[i - 1])
                            return count + i
                elif not variable:
                    # The loop runs in C (map, filter): copies made and callbacks called with
                    # no bytecode per record; only a non-None return comes back here.
                    it = iter(s)
                    for rc in filter(None, map(cb, map(copy, repeat(view), it))):
                        if type(rc) is int and rc < 0:
                            i = _position(it, n)
                            commit(reader, ends[i - 1])
                            return count + i
                else:
                    for start, stop in zip(s, stops[:n]):
                        if stop - start >= size:
                            e = copy(view, start)
                        else:
                            e = copy(view[start:stop].tobytes() + bytes(size - stop + start))
                        rc = cb(e, view[start + layout.tail_at:stop].tobytes()) \
                            if tail else cb(e)
                        if rc is not None and type(rc) is int and rc < 0:
                            i = s.index(start) + 1
                            commit(reader, ends[i - 1])
                            return count + i
            except BaseException as e:
                # The record being handled when ``e`` came is consumed, unless ``e`` is the
                # loop noticing close() before handing that record over.
                stopped = closed_stop(e, mem)
                if it is not None:
                    i = _position(it, n) - stopped
                else:
                    i = 0 if start is None else s.index(start) + (not stopped)
                if i:
                    commit(reader, ends[i - 1])
                if stopped:
                    return count + i
                raise
            commit(reader, end.value)  # also frees trailing discarded records
            count += n
            if n < _PEEK:
                if short.value and layout is not None:
                    raise layout.too_short(short.value)
                return count

    return dispatch


class RingBuffer(PolledBuffer):
    """Events from one or more ring buffer maps, each with its own callback.

    ``RingBuffer(map, callback, event_type=None, tail=False)`` or ``RingBuffer()`` then
    ``add(...)``. Wraps ``ring_buffer__new``/``ring_buffer__add`` (the epoll fd, ``ring__*``
    statistics) and maps each ring for the shim's readers. Valid after load (needs the maps' fds;
    mapping a ring needs no privilege beyond holding its fd). Keeps the maps (and so their
    object) and the callbacks alive until ``close()``; the rings stay mapped until the last
    operation or kept view using them is gone (``_lease``). The object may close first: the
    buffer keeps working on the rings it mapped.
    """

    _what = "ring buffer"

    def __init__(self, map: Optional[MapBase] = None, callback: Optional[Callback] = None, *,
                 event_type: Optional[EventType] = None, tail: bool = False) -> None:
        super().__init__()
        self._ptr: Any = None  # LIFETIME: libbpf's ring_buffer, freed by the lease
        self._rings: list[_Ring] = []
        # Two leases: the rings' memory (src/ringbuf.c's mappings; views keep it) and the rest
        # (libbpf's manager: the epoll fd and its own mappings; only operations keep it). The
        # first lives at least as long as the second.
        self._mem: Optional[Lease] = Lease("ring buffer memory")
        self._lease = Lease("ring buffer")
        self._lease.add(self._mem.close)
        self._dtypes: dict[Any, Any] = {}
        self._out: Any = None  # (out array, address, length, itemsize) of the last read_array
        self._runs: Any = None  # consume_array's lbpy_ring_runs arrays
        pending = ctypes.c_uint()
        self._pending = (pending, ctypes.byref(pending))
        if map is not None:
            self.add(map, callback, event_type=event_type, tail=tail)
        elif callback is not None:
            self.close()
            raise TypeError("RingBuffer(map, callback): a callback needs a map")

    def add(self, map: MapBase, callback: Optional[Callback] = None, *,
            event_type: Optional[EventType] = None, tail: bool = False) -> None:
        """Add a ring buffer map and the callback for its records (``ring_buffer__add``).

        ``event_type``: a ctypes type, or a BTF type name ("struct event") of the map's object:
        the callback then gets a copy of each record as that type, ``read_array()`` its dtype
        and ``async for`` instances of it; a record shorter than the type raises ValueError.
        ``tail=True``, for variable-length records (a type ending in a flexible ``char args[]``
        or in a maximum-size array that the producer truncates): records may stop anywhere in
        that trailing array; the callback gets ``(event, tail)``: the fixed part (zero-filled
        past the record's end) and the record's bytes from the trailing array on (``async
        for`` yields such pairs).
        Without a callback the map is read only by ``read()``/``read_array()``/``async for``
        (``poll()`` raises).
        """
        lease = self._take()
        mem = self._mem
        assert mem is not None  # dropped by close(), like the lease
        if not isinstance(map, MapBase):
            raise TypeError(f"map must be a libbpf_py Map, not {type(map).__name__}")
        if map._type != RINGBUF:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a RINGBUF")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        what = f"ring buffer '{map.name}'"
        ctype = resolve_event_type(event_type, map)
        layout = EventLayout(ctype, what, bool(tail)) if ctype is not None else None
        if tail and layout is None:
            raise ValueError(f"{what}: tail=True needs an event_type")
        fd = map.fd
        self._acquire()
        try:
            ring = _Ring(map, layout, bool(tail), len(self._rings))
            try:
                reader = lib.lbpy_ring_open(fd)
            except BpfError as e:
                raise with_context(e, what) from None
            # LIFETIME: unmapped with the memory lease, after every user of the mapping is gone
            mem.add(lib.lbpy_ring_close, reader)
            ring.reader = reader
            try:
                if self._ptr is None:
                    opts = make_opts(ring_buffer_opts)
                    ptr = lib.ring_buffer__new(fd, _NO_SAMPLE, None, ctypes.byref(opts))
                    lease.add(lib.ring_buffer__free, ptr)
                    self._ptr = ptr
                else:
                    lib.ring_buffer__add(self._ptr, fd, _NO_SAMPLE, None)
            except BpfError as e:
                raise with_context(e, what) from None
            size = ctypes.c_size_t()
            data = lib.lbpy_ring_data(reader, ctypes.byref(size))
            ring.area = mem.view(data, 2 * size.value)  # mapped twice: records never wrap
            if callback is not None:
                ring.dispatch = _make_dispatch(mem, reader, ring.area, callback, layout,
                                               bool(tail))
            self._rings.append(ring)
        finally:
            self._release()

    def _manager(self, lease: Lease) -> Any:
        if self._ptr is None:
            raise ValueError("ring buffer has no map: add(map, callback) first")
        return self._ptr

    # --- per-event callbacks

    def _consume(self, lease: Lease) -> int:
        """Run the callbacks on every available record without waiting; returns how many.

        Rings in ``add()`` order, records in ring order. A callback returning a negative int
        stops (its record is consumed); an exception from a callback stops and propagates;
        ``close()`` in a callback stops after it.
        """
        self._manager(lease)
        total = 0
        for ring in self._rings:
            if ring.dispatch is None:
                if self._avail(ring):
                    raise TypeError(f"ring buffer '{ring.map.name}' has no callback: read it "
                                    "with read(), read_array() or async for")
                continue
            total += ring.dispatch()
            if lease.closed:
                break
        return total

    consume = PolledBuffer.consume  # for the docs: see _consume

    def fileno(self) -> int:
        """The epoll fd (``ring_buffer__epoll_fd``), readable when records are ready. It stays
        open while the buffer is (and while an operation still runs after close())."""
        return self._epoll_fd(self._take())

    def _epoll_fd(self, lease: Lease) -> int:
        return lib.ring_buffer__epoll_fd(self._manager(lease))

    # --- batches (src/ringbuf.c's lbpy_ring_read: one C call per ring, GIL released)

    def _has_data(self, lease: Lease) -> bool:
        return any(self._avail(r) for r in self._rings)

    def _avail(self, ring: _Ring) -> int:
        return lib.ring__avail_data_size(lib.ring_buffer__ring(self._ptr, ring.index))

    def read(self, timeout: Optional[float] = 0, *,
             max_records: Optional[int] = None) -> list[bytes]:
        """Every available record of every ring (at most ``max_records``), as a list of
        ``bytes`` (copies).

        ``timeout``: seconds to wait for data first (0: don't wait, None: until data comes).
        Discarded records are skipped. Callbacks are not called.
        """
        timeout = check_timeout(timeout, "ring buffer: read")
        left = 1 << 62 if max_records is None else min(
            check_count(max_records, "max_records", "ring buffer: read"), 1 << 62)
        lease = self._take()
        self._manager(lease)
        if not self._wait(lease, timeout):
            return []
        out: list[bytes] = []
        self._acquire()
        try:
            for ring in self._rings:
                while left > 0 and not lease.closed:
                    got = self._read_ring(ring, left)
                    if not got:
                        break
                    out += got
                    left -= len(got)
        finally:
            self._release()
        return out

    def _read_ring(self, ring: _Ring, limit: int) -> list[bytes]:
        """Up to ``limit`` records of one ring, as bytes (one lbpy_ring_read call). The caller
        holds the lease and the lock."""
        avail = self._avail(ring)
        if not avail:
            return []
        buf = bytearray(avail)
        lens = (ctypes.c_uint * min(avail // _HDR, limit))()
        pending, pending_ref = self._pending
        n = _read(ring.reader, ctypes.addressof(ctypes.c_char.from_buffer(buf)), avail, lens,
                  len(lens), 0, pending_ref)
        return split_records(buf, lens, n)

    def read_array(self, dtype: Any = None, *, timeout: Optional[float] = 0,
                   map: Optional[MapBase] = None,
                   out: Optional[numpy.ndarray] = None) -> numpy.ndarray:
        """Every available fixed-size record as a numpy structured array, copied once.

        ``dtype``: a numpy dtype, a ctypes structure or a BTF name ("struct event"); default: the
        ring's ``event_type``. Reads
        every ring (or only ``map``'s), whose records must all be ``dtype.itemsize`` bytes: it
        stops before a record of another size, which stays in the ring (read it with
        ``read()``); ValueError when such a record comes first. ``out``: a C-contiguous 1-D
        array to fill (its dtype is used; at most ``len(out)`` records are read) instead of a
        new one; the result is then ``out[:n]``. Needs numpy. The array is a copy: keep it.
        """
        if type(timeout) is not int or timeout:  # 0, the default: nothing to check
            timeout = check_timeout(timeout, "ring buffer: read_array")
        lease = self._lease
        if lease is None or self._ptr is None:
            lease = self._take()  # raises ClosedError
            self._manager(lease)  # raises "no map"
        rings = self._rings if map is None else [r for r in self._rings if r.map is map]
        if not rings:
            raise ValueError(f"map '{map.name}' is not in this ring buffer")  # type: ignore
        cached = self._out
        if out is not None and cached is not None and out is cached[0]:
            arr, base, cap, size = cached  # the same array again: already checked
            dt = arr.dtype
            if timeout != 0 and not self._wait(lease, timeout):
                return arr[:0]
        else:
            import numpy as np

            if out is not None:
                if not isinstance(out, np.ndarray) or out.ndim != 1 or \
                        not out.flags.c_contiguous or not out.flags.writeable:
                    raise ValueError("read_array: out must be a writable C-contiguous 1-D array")
                dt = out.dtype
            elif dtype is not None:
                dt = as_dtype(dtype, rings[0].map)
            else:
                dt = self._dtypes.get(rings[0].ctype)
                if dt is None:
                    dt = self._dtypes[rings[0].ctype] = dtype_for(
                        rings[0].ctype, f"ring buffer '{rings[0].map.name}'")
            size = dt.itemsize
            if size == 0:
                raise ValueError(f"read_array: dtype {dt} has no size")
            if not self._wait(lease, timeout):
                return (out if out is not None else np.empty(0, dt))[:0]
            if out is None:
                # Capacity: the records present now, each at least header + size rounded up.
                slot = (size + _HDR + 7) & ~7
                arr = np.empty(sum(self._avail(r) for r in rings) // slot, dt)
            else:
                arr = out
                # LIFETIME: keeps the caller's array (and so its memory) alive: the next call
                # with the same array skips the checks.
                self._out = (arr, arr.ctypes.data, len(arr), size)
            base, cap = arr.ctypes.data, len(arr)
        got = 0
        pending, pending_ref = self._pending
        self._acquire()
        try:
            for ring in rings:
                if got >= cap or lease.closed:
                    break
                got += _read(ring.reader, base + got * size, (cap - got) * size, None,
                             cap - got, size, pending_ref)
                if pending.value and not got:
                    raise ValueError(f"ring buffer '{ring.map.name}': next record is "
                                     f"{pending.value} bytes, not {size} (dtype {dt}); read it "
                                     "with read()")
        finally:
            self._release()
        return arr[:got] if got < cap else arr

    def consume_array(self, callback: Callable[[numpy.ndarray], Any], dtype: Any = None, *,
                      map: Optional[MapBase] = None) -> int:
        """Hand the available fixed-size records to ``callback`` as read-only numpy arrays
        laid over the ring itself: no copy at all, **valid only during the call**.

        ``dtype``: a numpy dtype or ctypes structure; default: the ring's ``event_type``. Each
        array is a strided view (the kernel's 8-byte record headers sit between records); a
        discarded record starts a new array. Stops before a record of another size (it stays in
        the ring: ValueError if it comes first). Rings in ``add()`` order (or only ``map``'s).
        Returns the number of records handed over. An exception from the callback propagates;
        the records of the array it was given are consumed; ``close()`` in the callback stops
        after it. Copy what you keep (``arr.copy()``, or ``read_array()``): an array kept past
        the call keeps the ring mapped (reading it never faults), but newer records overwrite
        its memory. Needs numpy.
        """
        import numpy as np

        lease = self._take()
        self._manager(lease)
        rings = self._rings if map is None else [r for r in self._rings if r.map is map]
        if not rings:
            raise ValueError(f"map '{map.name}' is not in this ring buffer")  # type: ignore
        dt: Any
        if dtype is not None:
            dt = as_dtype(dtype, rings[0].map)
        else:
            dt = self._dtypes.get(rings[0].ctype)
            if dt is None:
                dt = self._dtypes[rings[0].ctype] = dtype_for(
                    rings[0].ctype, f"ring buffer '{rings[0].map.name}'")
        size = dt.itemsize
        if size == 0:
            raise ValueError(f"consume_array: dtype {dt} has no size")
        stride = (size + _HDR + 7) & ~7
        mem = self._mem
        self._acquire()
        try:
            runs = self._runs
            if runs is None:
                runs = self._runs = ((ctypes.c_size_t * _RUNS)(), (ctypes.c_size_t * _RUNS)(),
                                     (ctypes.c_ulong * _RUNS)(), ctypes.c_ulong())
            starts, counts, ends, end = runs
            pending, pending_ref = self._pending
            total = 0
            for ring in rings:
                area = ring.area
                while not lease.closed:
                    n = lib.lbpy_ring_runs(ring.reader, size, starts, counts, ends, _RUNS,
                                           1 << 62, ctypes.byref(end), pending_ref)
                    i = -1
                    try:
                        for i, start, count in zip(range(n), starts[:n], counts[:n]):  # noqa: B007
                            # LIFETIME: the array holds a slice of the ring's root view, which
                            # holds the lease: a kept array keeps the ring mapped.
                            part = area[start:start + (count - 1) * stride + size]
                            callback(np.ndarray((count,), dt, part, 0, (stride,)))
                            total += count
                    except BaseException as e:
                        if mem is None or closed_stop(e, mem):  # close() in a callback
                            if i > 0:
                                lib.lbpy_ring_commit(ring.reader, ends[i - 1])
                            return total
                        if i >= 0:  # the array given to the failing call is consumed
                            lib.lbpy_ring_commit(ring.reader, ends[i])
                        raise
                    lib.lbpy_ring_commit(ring.reader, end.value)
                    if pending.value and not total:
                        raise ValueError(f"ring buffer '{ring.map.name}': next record is "
                                         f"{pending.value} bytes, not {size} (dtype {dt}); "
                                         "read it with read()")
                    if n < _RUNS:
                        break
        finally:
            self._release()
        return total

    # --- asyncio (the event loop's reader on the epoll fd, no thread)

    async def __aiter__(self) -> AsyncIterator[Any]:
        """``async for event in rb``: copies of the records (``bytes``, or ``event_type``
        instances, ``(event, tail)`` with ``tail=True``), in ring order; waits in the event
        loop when the rings are empty; ends when the buffer is closed."""
        while True:
            got = False
            for ring in list(self._rings):
                records = self._read_one(ring)
                if records is None:
                    return  # closed
                got = got or bool(records)
                layout = ring.layout
                for rec in records:
                    if layout is None:
                        yield rec
                    elif ring.tail:
                        yield layout.decode(rec), layout.tail(rec)
                    else:
                        yield layout.decode(rec)
            if not got:
                # LIFETIME: the lease is held while waiting only, not while suspended at a
                # yield (a loop left with break would keep the buffer's memory until collected)
                lease = self._lease
                if lease is None:
                    return
                await wait_readable(self._epoll_fd(lease), lease.wakeup_fd())
                del lease

    def _read_one(self, ring: _Ring) -> Optional[list[bytes]]:
        """Every record of one ring as bytes; None once the buffer is closed."""
        lease = self._lease
        if lease is None:
            return None
        self._manager(lease)
        self._acquire()
        try:
            return None if lease.closed else self._read_ring(ring, 1 << 62)
        finally:
            self._release()

    # --- backpressure

    def stats(self) -> list[RingStats]:
        """Size, positions and fill level of each ring, in ``add()`` order (``ring__*``)."""
        lease = self._take()
        ptr = self._manager(lease)
        out = []
        self._acquire()
        try:
            for r in self._rings:
                ring = lib.ring_buffer__ring(ptr, r.index)
                out.append(RingStats(r.map.name, lib.ring__size(ring),
                                     lib.ring__producer_pos(ring), lib.ring__consumer_pos(ring),
                                     lib.ring__avail_data_size(ring)))
        finally:
            self._release()
        return out

    def close(self) -> None:
        """Close the buffer (``ring_buffer__free`` and the rings' unmapping, once nothing uses
        them); idempotent. Safe anywhere: inside one of its callbacks (polling stops after
        it), from another thread or a signal handler (a running ``poll()`` returns 0, the next
        call raises ClosedError). Views handed to callbacks are released; what was derived
        from them keeps the rings mapped until it is gone."""
        super().close()

    def _closing(self) -> None:
        mem, self._mem = self._mem, None
        if mem is not None:
            mem.close()
        for ring in self._rings:
            ring.dispatch = None
            ring.area = None
        self._out = None
