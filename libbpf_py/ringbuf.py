"""Consuming BPF ring buffers (``BPF_MAP_TYPE_RINGBUF``) from Python.

Several ring buffer maps, one callback each, one epoll fd (libbpf's ``struct ring_buffer``
manager provides the epoll fd and the ``ring__*`` statistics). Three ways to read, all on the same
rings (they share the consumer position):

- per-event callbacks: ``poll()``/``consume()`` call ``callback(data)`` for every record. ``data``
  is a ``memoryview`` of the record, or with ``event_type=`` a ctypes instance laid over it: both
  are **zero-copy views valid only during the call** (they point into the ring's shared memory,
  which the kernel reuses after the callback returns): copy what you keep (``bytes(data)``,
  ``MyStruct.from_buffer_copy(data)``). Return ``None`` (or anything that is not a negative int)
  to go on; a negative int stops consumption. An exception raised by a callback stops
  consumption and is re-raised from ``poll()``/``consume()``.
- batches: ``read()`` returns a list of ``bytes``, ``read_array()`` a numpy structured array of
  fixed-size records, copied once from the ring by the C shim (no Python call per record).
- asyncio: ``await rb.poll_async()``, ``await rb.read_async()`` and ``async for event in rb``,
  driven by the event loop's reader on the epoll fd (no thread).
"""

from __future__ import annotations

import ctypes

from ._buffer import PolledBuffer, wait_readable
from ._ffi import lib
from ._ffi.stream import ring_buffer_opts, ring_buffer_sample_fn
from ._ffi.types import make_opts
from .errors import BpfError, ClosedError, with_context
from .map import Map

__all__ = ["RingBuffer", "RingStats"]

TYPE_CHECKING = False  # typing/numpy are not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import Any, Optional, Union

    import numpy

    Callback = Callable[[Any], Any]
    EventType = Union[type, str]

RINGBUF = 27  # enum bpf_map_type BPF_MAP_TYPE_RINGBUF
_HDR = 8  # BPF_RINGBUF_HDR_SZ

_read = lib.lbpy_ring_read


# --- helpers shared with perfbuf.py


def resolve_event_type(event_type: Optional[EventType], map: Map) -> Any:
    """A ctypes type for ``event_type``: a ctypes type as is, or a BTF name ("struct event")
    resolved in the BTF of the map's object. None stays None (raw records)."""
    if event_type is None:
        return None
    if isinstance(event_type, str):
        from ._dwarf import object_ctype

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
    from ._types import numpy_dtype

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


def as_dtype(dtype: Any, map: Map) -> numpy.dtype:
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


def _no_sample(_ctx: Any, _data: Any, _size: int) -> int:
    return 0


# LIFETIME: module-level, so alive as long as any ring_buffer that holds it. libbpf never calls it:
# RingBuffer runs the callbacks itself (see _make_dispatch); ring_buffer__new needs a callback.
_NO_SAMPLE = ring_buffer_sample_fn(_no_sample)


class _Ring:
    __slots__ = ("map", "ctype", "reader", "index", "dispatch")

    def __init__(self, map: Map, ctype: Any, index: int) -> None:
        self.map = map
        self.ctype = ctype
        self.index = index
        # LIFETIME: shim.c's own mapping of the ring, unmapped by RingBuffer.close().
        self.reader: Any = None
        self.dispatch: Optional[Callable[[], int]] = None


def _make_dispatch(reader: Any, callback: Callback, ctype: Any, what: str) -> Callable[[], int]:
    """A function that runs ``callback`` on every available record of one ring, in order, and
    returns how many it handled.

    Per-event callbacks without a C-to-Python transition per record: lbpy_ring_peek lists up to
    _PEEK records (offsets and lengths, nothing consumed), Python calls the callback with a
    read-only slice of the ring's mapping (or an ``event_type`` instance over it), and
    lbpy_ring_commit then consumes them. A callback that raises or returns a negative int stops
    after its record (consumed, like libbpf's ring_buffer__consume); the exception propagates.
    """
    size = ctypes.c_size_t()
    data = lib.lbpy_ring_data(reader, ctypes.byref(size))
    # LIFETIME: views into the reader's mapping; valid until lbpy_ring_close (RingBuffer.close()).
    # cast("B"): a ctypes array exports format "<B", which memoryview can index only as "B"
    area = memoryview((ctypes.c_ubyte * (2 * size.value)).from_address(data)).cast("B").toreadonly()
    offs = (ctypes.c_size_t * _PEEK)()
    lens = (ctypes.c_uint * _PEEK)()
    ends = (ctypes.c_ulong * _PEEK)()
    end = ctypes.c_ulong()
    end_ref = ctypes.byref(end)
    peek, commit = lib.lbpy_ring_peek, lib.lbpy_ring_commit
    if ctype is not None:
        from_address, need = ctype.from_address, ctypes.sizeof(ctype)
        name = getattr(ctype, "__name__", str(ctype))

    def dispatch() -> int:
        count = 0
        while True:
            n = peek(reader, offs, lens, ends, _PEEK, end_ref)
            i = -1
            try:
                if ctype is None:
                    for i, off, ln in zip(range(n), offs[:n], lens[:n]):
                        rc = callback(area[off:off + ln])
                        if rc is not None and type(rc) is int and rc < 0:
                            commit(reader, ends[i])
                            return count + i + 1
                else:
                    for i, off, ln in zip(range(n), offs[:n], lens[:n]):
                        if ln < need:
                            raise ValueError(f"{what}: record of {ln} bytes is smaller than "
                                             f"{name} ({need} bytes)")
                        rc = callback(from_address(data + off))
                        if rc is not None and type(rc) is int and rc < 0:
                            commit(reader, ends[i])
                            return count + i + 1
            except BaseException:
                if i >= 0:
                    commit(reader, ends[i])  # the failing record is consumed
                raise
            commit(reader, end.value)  # also frees trailing discarded records
            count += n
            if n < _PEEK:
                return count

    return dispatch


class RingBuffer(PolledBuffer):
    """Events from one or more ring buffer maps, each with its own callback.

    ``RingBuffer(map, callback, event_type=None)`` or ``RingBuffer()`` then ``add(...)``. Wraps
    ``ring_buffer__new``/``ring_buffer__add`` (the epoll fd, ``ring__*`` statistics) and maps
    each ring for shim.c's readers. Valid after load (needs the maps' fds; mapping a ring needs
    no privilege beyond holding its fd). Keeps the maps (and so their object) and the callbacks
    alive until ``close()``, which unmaps the rings: views handed out are then invalid.
    """

    def __init__(self, map: Optional[Map] = None, callback: Optional[Callback] = None, *,
                 event_type: Optional[EventType] = None) -> None:
        self._ptr: Any = None
        self._rings: list[_Ring] = []
        self._closed = False
        self._poller: Any = None
        self._dtypes: dict[Any, Any] = {}
        self._out: Any = None  # (out array, address, length, itemsize) of the last read_array
        self._runs: Any = None  # consume_array's lbpy_ring_runs arrays
        self._areas: dict[int, memoryview] = {}
        pending = ctypes.c_uint()
        self._pending = (pending, ctypes.byref(pending))
        if map is not None:
            self.add(map, callback, event_type=event_type)
        elif callback is not None:
            raise TypeError("RingBuffer(map, callback): a callback needs a map")

    def add(self, map: Map, callback: Optional[Callback] = None, *,
            event_type: Optional[EventType] = None) -> None:
        """Add a ring buffer map and the callback for its records (``ring_buffer__add``).

        ``event_type``: a ctypes type, or a BTF type name ("struct event") of the map's object:
        the callback then gets that type laid over the record (zero-copy, valid during the
        call), ``read_array()`` its dtype and ``async for`` copies of it. Without a callback the
        map is read only by ``read()``/``read_array()``/``async for`` (``poll()`` raises).
        """
        if self._closed:
            raise ClosedError("ring buffer is closed")
        if not isinstance(map, Map):
            raise TypeError(f"map must be a libbpf_py Map, not {type(map).__name__}")
        if map._type != RINGBUF:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a RINGBUF")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        ctype = resolve_event_type(event_type, map)
        what = f"ring buffer '{map.name}'"
        fd = map.fd
        ring = _Ring(map, ctype, len(self._rings))
        try:
            ring.reader = lib.lbpy_ring_open(fd)
            if self._ptr is None:
                opts = make_opts(ring_buffer_opts)
                self._ptr = lib.ring_buffer__new(fd, _NO_SAMPLE, None, ctypes.byref(opts))
            else:
                lib.ring_buffer__add(self._ptr, fd, _NO_SAMPLE, None)
        except BpfError as e:
            if ring.reader is not None:
                lib.lbpy_ring_close(ring.reader)
            raise with_context(e, what) from None
        if callback is not None:
            ring.dispatch = _make_dispatch(ring.reader, callback, ctype, what)
        self._rings.append(ring)

    def _handle(self) -> Any:
        if self._ptr is None:
            if self._closed:
                raise ClosedError("ring buffer is closed")
            raise ValueError("ring buffer has no map: add(map, callback) first")
        return self._ptr

    # --- per-event callbacks

    def consume(self) -> int:
        """Run the callbacks on every available record without waiting; returns how many.

        Rings in ``add()`` order, records in ring order. A callback returning a negative int
        stops (its record is consumed); an exception from a callback stops and propagates.
        """
        self._handle()
        total = 0
        for ring in self._rings:
            if ring.dispatch is None:
                if self._avail(ring):
                    raise TypeError(f"ring buffer '{ring.map.name}' has no callback: read it "
                                    "with read(), read_array() or async for")
                continue
            n = ring.dispatch()
            total += n
        return total

    def fileno(self) -> int:
        """The epoll fd (``ring_buffer__epoll_fd``), readable when records are ready."""
        return lib.ring_buffer__epoll_fd(self._handle())

    # --- batches (shim.c's lbpy_ring_read: one C call per ring, GIL released)

    def _has_data(self) -> bool:
        return any(self._avail(r) for r in self._rings)

    def _avail(self, ring: _Ring) -> int:
        return lib.ring__avail_data_size(lib.ring_buffer__ring(self._handle(), ring.index))

    def read(self, timeout: float = 0, *, max_records: Optional[int] = None) -> list[bytes]:
        """Every available record of every ring, as a list of ``bytes`` (copies).

        ``timeout``: seconds to wait for data first (0: don't wait, None: until data comes).
        Discarded records are skipped. Callbacks are not called.
        """
        self._handle()
        self._wait(timeout)
        left = (1 << 62) if max_records is None else max_records
        out: list[bytes] = []
        for ring in self._rings:
            while left > 0:
                got = self._read_ring(ring, left)
                if not got:
                    break
                out += got
                left -= len(got)
        return out

    def _read_ring(self, ring: _Ring, limit: int) -> list[bytes]:
        """Up to ``limit`` records of one ring, as bytes (one lbpy_ring_read call)."""
        avail = self._avail(ring)
        if not avail:
            return []
        buf = bytearray(avail)
        lens = (ctypes.c_uint * min(avail // _HDR, limit))()
        pending, pending_ref = self._pending
        n = _read(ring.reader, ctypes.addressof(ctypes.c_char.from_buffer(buf)), avail, lens,
                  len(lens), 0, pending_ref)
        return split_records(buf, lens, n)

    def read_array(self, dtype: Any = None, *, timeout: float = 0, map: Optional[Map] = None,
                   out: Optional[numpy.ndarray] = None) -> numpy.ndarray:
        """Every available fixed-size record as a numpy structured array, copied once.

        ``dtype``: a numpy dtype, a ctypes structure or a BTF name ("struct event"); default: the
        ring's ``event_type``. Reads
        every ring (or only ``map``'s), whose records must all be ``dtype.itemsize`` bytes: it
        stops before a record of another size, which stays in the ring (read it with
        ``read()``); ValueError when such a record comes first. ``out``: a C-contiguous 1-D
        array to fill (its dtype is used; at most ``len(out)`` records are read) instead of a
        new one; the result is then ``out[:n]``. Needs numpy.
        """
        self._handle()
        rings = self._rings if map is None else [r for r in self._rings if r.map is map]
        if not rings:
            raise ValueError(f"map '{map.name}' is not in this ring buffer")  # type: ignore
        cached = self._out
        if out is not None and cached is not None and out is cached[0]:
            arr, base, cap, size = cached  # the same array again: already checked
            dt = arr.dtype
            self._wait(timeout)
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
            self._wait(timeout)
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
        for ring in rings:
            if got >= cap:
                break
            got += _read(ring.reader, base + got * size, (cap - got) * size, None, cap - got,
                         size, pending_ref)
            if pending.value and not got:
                raise ValueError(f"ring buffer '{ring.map.name}': next record is "
                                 f"{pending.value} bytes, not {size} (dtype {dt}); read it "
                                 "with read()")
        return arr[:got] if got < cap else arr

    def consume_array(self, callback: Callable[[numpy.ndarray], Any], dtype: Any = None, *,
                      map: Optional[Map] = None) -> int:
        """Hand the available fixed-size records to ``callback`` as read-only numpy arrays
        laid over the ring itself: no copy at all, **valid only during the call**.

        ``dtype``: a numpy dtype or ctypes structure; default: the ring's ``event_type``. Each
        array is a strided view (the kernel's 8-byte record headers sit between records); a
        discarded record starts a new array. Stops before a record of another size (it stays in
        the ring: ValueError if it comes first). Rings in ``add()`` order (or only ``map``'s).
        Returns the number of records handed over. An exception from the callback propagates;
        the records of the array it was given are consumed. Copy what you keep
        (``arr.copy()``, or ``read_array()``). Needs numpy.
        """
        import numpy as np

        self._handle()
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
        runs = self._runs
        if runs is None:
            runs = self._runs = ((ctypes.c_size_t * _RUNS)(), (ctypes.c_size_t * _RUNS)(),
                                 (ctypes.c_ulong * _RUNS)(), ctypes.c_ulong())
        starts, counts, ends, end = runs
        pending, pending_ref = self._pending
        total = 0
        for ring in rings:
            area = self._area(ring)
            while True:
                n = lib.lbpy_ring_runs(ring.reader, size, starts, counts, ends, _RUNS, 1 << 62,
                                       ctypes.byref(end), pending_ref)
                i = -1
                try:
                    for i, start, count in zip(range(n), starts[:n], counts[:n]):  # noqa: B007
                        callback(np.ndarray((count,), dt, area, start, (stride,)))
                        total += count
                except BaseException:
                    if i >= 0:  # the array given to the failing call is consumed
                        lib.lbpy_ring_commit(ring.reader, ends[i])
                    raise
                lib.lbpy_ring_commit(ring.reader, end.value)
                if pending.value and not total:
                    raise ValueError(f"ring buffer '{ring.map.name}': next record is "
                                     f"{pending.value} bytes, not {size} (dtype {dt}); read "
                                     "it with read()")
                if n < _RUNS:
                    break
        return total

    def _area(self, ring: _Ring) -> memoryview:
        """A read-only view of the ring's data area, mapped twice (shim.c's mapping).
        LIFETIME: valid until close() unmaps it."""
        area = self._areas.get(ring.index)
        if area is None:
            size = ctypes.c_size_t()
            data = lib.lbpy_ring_data(ring.reader, ctypes.byref(size))
            area = self._areas[ring.index] = memoryview(
                (ctypes.c_ubyte * (2 * size.value)).from_address(data)).cast("B").toreadonly()
        return area

    # --- asyncio (the event loop's reader on the epoll fd, no thread)

    async def __aiter__(self) -> AsyncIterator[Any]:
        """``async for event in rb``: copies of the records (``bytes``, or ``event_type``
        instances), in ring order; waits in the event loop when the rings are empty."""
        while True:
            self._handle()
            got = False
            for ring in self._rings:
                records = self._read_ring(ring, 1 << 62)
                got = got or bool(records)
                ctype = ring.ctype
                for rec in records:
                    yield rec if ctype is None else ctype.from_buffer_copy(rec)
            if not got:
                await wait_readable(self.fileno())

    # --- backpressure

    def stats(self) -> list[RingStats]:
        """Size, positions and fill level of each ring, in ``add()`` order (``ring__*``)."""
        ptr = self._handle()
        out = []
        for r in self._rings:
            ring = lib.ring_buffer__ring(ptr, r.index)
            out.append(RingStats(r.map.name, lib.ring__size(ring), lib.ring__producer_pos(ring),
                                 lib.ring__consumer_pos(ring), lib.ring__avail_data_size(ring)))
        return out

    def close(self) -> None:
        """Free the ring buffer manager (``ring_buffer__free``) and the batch mappings;
        idempotent. Views handed to callbacks must not be used after this."""
        ptr, self._ptr = self._ptr, None
        self._closed = True
        self._areas.clear()
        for r in self._rings:
            reader, r.reader = r.reader, None
            if reader is not None:
                lib.lbpy_ring_close(reader)
        if ptr is not None:
            lib.ring_buffer__free(ptr)
        self._rings = []
