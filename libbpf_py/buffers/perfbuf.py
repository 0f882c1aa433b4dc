"""Consuming BPF perf buffers (``BPF_MAP_TYPE_PERF_EVENT_ARRAY``) from Python.

One perf ring per CPU, filled by ``bpf_perf_event_output()``. Like ``RingBuffer``: per-event
callbacks ``callback(cpu, data)`` (a zero-copy view, **valid only during the call**, or an
``event_type`` ctypes instance over it), batches (``read()``, ``read_array()``: one C call per
CPU ring, no Python call per record), ``fileno()`` and asyncio. Samples the kernel could not
store are reported by ``lost_callback(cpu, count)`` (and summed in ``lost``).

Note: the kernel pads every sample so that its 4-byte size field plus the data end 8-byte
aligned: a 16-byte event arrives with 20 bytes of data (libbpf passes the same size on).

Wakeups: by default (libbpf's choice) the kernel wakes the reader for every sample: one interrupt
and one epoll return per event, which bounds throughput. ``wakeup_events=N`` wakes every N
samples per CPU (``wakeup_bytes=B``: when B bytes wait); then ``poll(timeout)`` also consumes
what is left when the timeout expires, so no sample waits longer than the timeout.
"""

from __future__ import annotations

import ctypes

from array import array
from itertools import repeat

from ._base import (EventLayout, PolledBuffer, check_count, check_timeout, closed_stop,
                    release, wait_readable)
from .._ffi import lib
from .._ffi.stream import perf_event_mmap_page
from .._lease import Lease
from ..errors import BpfError, with_context
from ..maps import MapBase
from .ringbuf import (_UL, _position, as_dtype, dtype_for, resolve_event_type,
                      split_records)

__all__ = ["PerfBuffer"]

TYPE_CHECKING = False  # typing/numpy are not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import Any, Optional, Union

    import numpy

    Callback = Callable[..., Any]  # (cpu, data), (cpu, event) or (cpu, event, tail)
    LostCallback = Callable[[int, int], Any]

PERF_EVENT_ARRAY = 4  # enum bpf_map_type BPF_MAP_TYPE_PERF_EVENT_ARRAY
_read_all = lib.lbpy_perf_read_all
_PEEK = 1024  # samples found per lbpy_perf_peek call by the callback path
_SCRATCH = 65536  # a perf record (so a sample) is at most 64 KiB: its u16 header size


def _online_cpus() -> list[int]:
    """CPUs in /sys/devices/system/cpu/online ("0-3,5"): libbpf opens one buffer per online
    CPU, in this order."""
    with open("/sys/devices/system/cpu/online") as f:
        text = f.read().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


class PerfBuffer(PolledBuffer):
    """Events from a perf event array map, one ring per CPU.

    ``PerfBuffer(map, callback, *, lost_callback=None, page_count=64, event_type=None,
    tail=False, wakeup_events=1, wakeup_bytes=None)``. Wraps ``perf_buffer__new_raw`` (through
    the shim's ``lbpy_perf_buffer_new``: libbpf's default perf_event_attr with the chosen wakeup).
    Valid after load; opening the per-CPU perf events needs root (or CAP_PERFMON / a permissive
    perf_event_paranoid). ``page_count``: pages per CPU ring, a power of two (at most 2**20).
    Keeps the map and the callbacks alive until ``close()``; the events and rings are freed
    once no operation or kept view uses them (``_lease``).
    """

    _what = "perf buffer"

    def __init__(self, map: MapBase, callback: Optional[Callback] = None, *,
                 lost_callback: Optional[LostCallback] = None, page_count: int = 64,
                 event_type: Union[type, str, None] = None, tail: bool = False,
                 wakeup_events: int = 1, wakeup_bytes: Optional[int] = None) -> None:
        super().__init__()
        self._lease = None  # set last: a refused argument leaves nothing to close
        if not isinstance(map, MapBase):
            raise TypeError(f"map must be a libbpf_py Map, not {type(map).__name__}")
        if map._type != PERF_EVENT_ARRAY:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a PERF_EVENT_ARRAY")
        for name, cb in (("callback", callback), ("lost_callback", lost_callback)):
            if cb is not None and not callable(cb):
                raise TypeError(f"{name} must be callable, not {type(cb).__name__}")
        self._what = what = f"perf buffer '{map.name}'"
        check_count(page_count, "page_count", what, lo=1, hi=_MAX_PAGES)
        if page_count & (page_count - 1):
            raise ValueError(f"{what}: page_count must be a power of two, not {page_count!r}")
        check_count(wakeup_events, "wakeup_events", what, lo=1, hi=_U32)
        if wakeup_bytes is not None:
            check_count(wakeup_bytes, "wakeup_bytes", what, lo=1, hi=_U32)
        ctype = resolve_event_type(event_type, map)
        self._layout = EventLayout(ctype, what, bool(tail)) if ctype is not None else None
        if tail and self._layout is None:
            raise ValueError(f"{what}: tail=True needs an event_type")
        self._tail = bool(tail)
        self._map = map
        self._ctype = ctype
        self._callback = callback
        self._lost_callback = lost_callback
        self._dtype: Any = None
        self._out: Any = None  # (out array, address, length, itemsize) of the last read_array
        pending = ctypes.c_uint()
        self._refs = (pending, ctypes.byref(pending))  # lbpy_perf_read_all's first pending
        #: Samples reported lost by the kernel since creation (all CPUs).
        self.lost = 0
        # libbpf's perf_buffer keeps the map fd it was given and, when freed, deletes the
        # map's entries for its CPUs. The lease may free it after a newer PerfBuffer filled
        # them: so it gets a duplicate of the fd, which close() empties of its entries and then
        # turns into /dev/null (perf_buffer__free's deletes then fail harmlessly).
        import os

        self._map_fd = os.dup(map.fd)
        try:
            ptr = lib.lbpy_perf_buffer_new(
                self._map_fd, page_count,
                wakeup_bytes if wakeup_bytes is not None else wakeup_events,
                int(wakeup_bytes is not None))
        except BpfError as e:
            os.close(self._map_fd)
            raise with_context(e, what) from None
        # LIFETIME: libbpf's perf_buffer (per-CPU events, their mappings, the epoll fd) is
        # freed with the lease, once no operation or view uses it; then the fd duplicate.
        lease = Lease(what)
        lease.add(os.close, self._map_fd)
        lease.add(lib.perf_buffer__free, ptr)
        self._ptr = ptr
        self._buffers = self._map_buffers()
        # lbpy_perf_read_all's inputs and outputs: one C call reads every CPU ring
        nb = len(self._buffers)
        if nb and len({size for _, _, size in self._buffers}) != 1:
            raise RuntimeError(f"{what}: per-CPU rings of different sizes")  # libbpf: never
        self._ring_size = self._buffers[0][2] if nb else 0
        self._bases = array(_UL, [base for _, base, _ in self._buffers])
        self._counts = array(_UL, bytes(8 * nb))
        self._losts = array("Q", bytes(8 * nb))
        self._all = (self._bases.buffer_info()[0], nb, self._counts.buffer_info()[0],
                     self._losts.buffer_info()[0])
        self._dispatch = [self._make_dispatch(lease, *b) for b in self._buffers] \
            if callback is not None else None
        self._lease = lease

    def _map_buffers(self) -> list[tuple[int, int, int]]:
        """(cpu, base, size) of each per-CPU ring (``perf_buffer__buffer``): libbpf opens one
        per online CPU, in order."""
        out = []
        cpus = _online_cpus()
        for idx in range(lib.perf_buffer__buffer_cnt(self._ptr)):
            base, size = ctypes.c_void_p(), ctypes.c_size_t()
            lib.perf_buffer__buffer(self._ptr, idx, ctypes.byref(base), ctypes.byref(size))
            out.append((cpus[idx] if idx < len(cpus) else idx, base.value or 0, size.value))
        return out

    def _make_dispatch(self, lease: Lease, cpu: int, base: int,
                       size: int) -> Callable[[], tuple[int, bool]]:
        """A function running the callback on every available sample of one CPU ring, in order
        (lost counts reported in place); returns (samples handled, stopped).

        Like RingBuffer's: lbpy_perf_peek lists samples without consuming them, Python calls
        the callback with a read-only slice of the ring's data area (a root view of the lease,
        released by close(): the loop then stops) or an ``event_type`` copy, lbpy_perf_commit
        consumes. A sample wrapping around the ring's end comes alone, copied to a scratch
        buffer. An exception stops after its sample and propagates.
        LIFETIME: the closure holds ``lease``: the ring stays mapped while it runs.
        """
        callback, layout, tail = self._callback, self._layout, self._tail
        assert callback is not None  # made only for a PerfBuffer with a callback
        area = lease.view(base + _page_size(), size)
        scratch = (ctypes.c_ubyte * _SCRATCH)()
        scratch_view = memoryview(scratch).cast("B").toreadonly()
        starts, stops = array(_UL, bytes(8 * _PEEK)), array(_UL, bytes(8 * _PEEK))
        ends = (ctypes.c_ulonglong * _PEEK)()
        s_addr, t_addr = starts.buffer_info()[0], stops.buffer_info()[0]
        end, lost, short = ctypes.c_ulonglong(), ctypes.c_ulonglong(), ctypes.c_uint()
        end_ref, lost_ref, short_ref = ctypes.byref(end), ctypes.byref(lost), ctypes.byref(short)
        peek, commit = lib.lbpy_perf_peek, lib.lbpy_perf_commit
        min_len = 0
        if layout is not None:
            copy, rec_size, min_len = layout.ctype.from_buffer_copy, layout.size, layout.fixed
            variable = layout.variable or tail  # tail: every record takes the slower path

        def deliver(view: Any, ln: int) -> Any:
            """Call the callback on one sample (a view of the ring or of scratch)."""
            if layout is None:
                return callback(cpu, view)
            if ln >= rec_size:
                e = copy(view)
            else:
                e = copy(view[:ln].tobytes() + bytes(rec_size - ln))
            return callback(cpu, e, view[layout.tail_at:ln].tobytes()) if tail \
                else callback(cpu, e)

        def wrapped(ln: int) -> Any:
            """The one sample copied to scratch (it wrapped around the ring's end)."""
            if lease.closed:
                return _CLOSED
            v = scratch_view[:ln]
            try:
                return deliver(v, ln)
            finally:
                release(v)

        def dispatch() -> tuple[int, bool]:
            count = 0
            # LIFETIME: locals, not the closure's cells (faster), for the loop's duration
            cb, view = callback, area
            while True:
                n = peek(base, size, s_addr, t_addr, ends, _PEEK, min_len, scratch, _SCRATCH,
                         end_ref, lost_ref, short_ref)
                if lost.value:
                    commit(base, end.value)
                    self._on_lost(cpu, lost.value)
                    if lease.closed:
                        return count, True
                    continue
                if not n:
                    commit(base, end.value)  # records of other types before the stop
                    if short.value and layout is not None:
                        raise layout.too_short(short.value)
                    return count, False
                s = starts[:n]
                start = it = None
                try:
                    if s[0] == size:
                        start = size
                        rc = wrapped(stops[0] - size)
                        if rc is _CLOSED:
                            return count, True
                        if rc is not None and type(rc) is int and rc < 0:
                            commit(base, ends[0])
                            return count + 1, True
                    elif layout is None:
                        for start, stop in zip(s, stops[:n]):
                            v = view[start:stop]
                            rc = cb(cpu, v)
                            try:
                                v.release()
                            except BufferError:  # exported (a numpy array over it): it stays
                                pass
                            if rc is not None and type(rc) is int and rc < 0:
                                i = s.index(start) + 1
                                commit(base, ends[i - 1])
                                return count + i, True
                    elif not variable:
                        # The loop runs in C (map, filter): see RingBuffer's
                        it = iter(s)
                        for rc in filter(None, map(cb, repeat(cpu),
                                                   map(copy, repeat(view), it))):
                            if type(rc) is int and rc < 0:
                                i = _position(it, n)
                                commit(base, ends[i - 1])
                                return count + i, True
                    else:
                        for start, stop in zip(s, stops[:n]):
                            rc = deliver(view[start:stop], stop - start)
                            if rc is not None and type(rc) is int and rc < 0:
                                i = s.index(start) + 1
                                commit(base, ends[i - 1])
                                return count + i, True
                except BaseException as e:
                    # The sample being handled when ``e`` came is consumed, unless ``e`` is the
                    # loop noticing close() before handing that sample over.
                    stopped = closed_stop(e, lease)
                    if it is not None:
                        i = _position(it, n) - stopped
                    else:
                        i = 0 if start is None else s.index(start) + (not stopped)
                    if i:
                        commit(base, ends[i - 1])
                    if stopped:
                        return count + i, True
                    raise
                commit(base, end.value)
                count += n
                if lease.closed:
                    return count, True
                # peek stops early before a wrapped sample: ask again

        return dispatch

    def _on_lost(self, cpu: int, count: int) -> None:
        self.lost += count
        if self._lost_callback is not None:
            self._lost_callback(cpu, count)

    # --- per-event callbacks

    def _consume(self, lease: Lease) -> int:
        """Run the callback on every available sample of every CPU ring without waiting;
        returns how many. Lost counts go to ``lost_callback`` in order. A callback returning a
        negative int stops (its sample is consumed); an exception stops and propagates;
        ``close()`` in a callback stops after it."""
        dispatchers = self._dispatch
        if dispatchers is None:
            if any(_waiting(base) for _, base, _ in self._buffers):
                raise TypeError(f"{self._what} has no callback: read it with read(), "
                                "read_array() or async for")
            return 0
        total = 0
        for dispatch in dispatchers:
            n, stopped = dispatch()
            total += n
            if stopped:
                break
        return total

    consume = PolledBuffer.consume  # for the docs: see _consume

    def fileno(self) -> int:
        """The epoll fd (``perf_buffer__epoll_fd``), readable when a CPU ring woke up."""
        return self._epoll_fd(self._take())

    def _epoll_fd(self, lease: Lease) -> int:
        return lib.perf_buffer__epoll_fd(self._ptr)

    # --- batches (src/perfbuf.c's lbpy_perf_read_all: one C call for every CPU ring, GIL released)

    def read(self, timeout: Optional[float] = 0) -> list[tuple[int, bytes]]:
        """Every available sample as ``(cpu, bytes)`` (copies, CPU by CPU; data sizes include
        the kernel's padding). ``timeout``: seconds to wait first (0: don't, None: until data).
        Lost samples go to ``lost_callback``/``lost``. Callbacks are not called."""
        timeout = check_timeout(timeout, f"{self._what}: read")
        lease = self._take()
        if not self._wait(lease, timeout):
            return []
        self._acquire()
        try:
            waiting = sum(_waiting(base) for _, base, _ in self._buffers)
            if not waiting or lease.closed:
                return []
            buf = bytearray(waiting)
            lens = (ctypes.c_uint * (waiting // 8))()
            n = self._read_all(ctypes.addressof(ctypes.c_char.from_buffer(buf)), waiting,
                               ctypes.addressof(lens), len(lens), 0)
            records = split_records(buf, lens, n)
        finally:
            self._release()
        out: list[tuple[int, bytes]] = []
        at = 0
        for (cpu, _, _), count in zip(self._buffers, self._counts):
            out += [(cpu, rec) for rec in records[at:at + count]]
            at += count
        self._report_lost()
        return out

    def _read_all(self, buf: int, cap: int, lens: Optional[int], max_records: int,
                  rec_size: int) -> int:
        """lbpy_perf_read_all over every CPU ring (one C call, GIL released); the caller holds
        the lease and the lock. Per-ring counts in ``_counts``, lost samples in ``_losts``,
        the first pending length in ``_refs[0]``."""
        bases, nb, counts, losts = self._all
        return _read_all(bases, nb, self._ring_size, buf, cap, lens, max_records, rec_size,
                         counts, losts, self._refs[1])

    def _report_lost(self) -> None:
        """Hand the lost counts lbpy_perf_read_all found to ``lost_callback``, CPU by CPU."""
        losts = self._losts
        if any(losts):
            for i, (cpu, _, _) in enumerate(self._buffers):
                n, losts[i] = losts[i], 0
                if n:
                    self._on_lost(cpu, n)

    def read_array(self, dtype: Any = None, *, timeout: Optional[float] = 0,
                   out: Optional[numpy.ndarray] = None) -> numpy.ndarray:
        """Every available fixed-size sample as a numpy structured array, copied once (CPU by
        CPU, one C call for all of them). ``dtype``: default the ``event_type``'s; a sample of
        another size stops the read of its CPU ring and stays there (ValueError if nothing else
        was read). ``out``: a C-contiguous 1-D array to fill (at most ``len(out)`` samples)
        instead of a new one; the result is then ``out[:n]``. Lost samples go to
        ``lost_callback``/``lost``."""
        if type(timeout) is not int or timeout:  # 0, the default: nothing to check
            timeout = check_timeout(timeout, f"{self._what}: read_array")
        lease = self._lease
        if lease is None:
            lease = self._take()  # raises ClosedError
        cached = self._out
        if out is not None and cached is not None and out is cached[0]:
            arr, addr, cap, rec = cached  # the same array again: already checked
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
                dt = as_dtype(dtype, self._map)
            else:
                dt = self._dtype
                if dt is None:
                    dt = self._dtype = dtype_for(self._ctype, self._what)
            rec = dt.itemsize
            if rec == 0:
                raise ValueError(f"read_array: dtype {dt} has no size")
            if not self._wait(lease, timeout):
                return (out if out is not None else np.empty(0, dt))[:0]
            if out is None:
                # Capacity: the bytes waiting now / (header 8 + raw size 4 + rec, padded to 8).
                per = (rec + 4 + 7) // 8 * 8 + 8
                arr = np.empty(sum(_waiting(base) for _, base, _ in self._buffers) // per, dt)
            else:
                arr = out
                # LIFETIME: keeps the caller's array alive: the next call with the same array
                # skips the checks.
                self._out = (arr, arr.ctypes.data, len(arr), rec)
            addr, cap = arr.ctypes.data, len(arr)
        self._acquire()
        try:
            got = 0 if lease.closed else self._read_all(addr, cap * rec, None, cap, rec)
        finally:
            self._release()
        self._report_lost()
        stuck = self._refs[0].value
        if got == 0 and stuck:
            raise ValueError(f"{self._what}: next sample is {stuck} bytes of data, not a "
                             f"{rec}-byte {dt} (read it with read())")
        return arr[:got] if got < cap else arr

    def _has_data(self, lease: Lease) -> bool:
        return any(_waiting(base) for _, base, _ in self._buffers)

    # --- asyncio (the event loop's reader on the epoll fd, no thread)

    async def __aiter__(self) -> AsyncIterator[tuple[Any, ...]]:
        """``async for cpu, event in pb``: copies (``bytes`` or ``event_type`` instances;
        ``cpu, event, tail`` with ``tail=True``); ends when the buffer is closed."""
        layout, tail = self._layout, self._tail
        while True:
            if self._lease is None:
                return
            batch = self.read()
            for cpu, rec in batch:
                if layout is None:
                    yield cpu, rec
                elif tail:
                    yield cpu, layout.decode(rec), layout.tail(rec)
                else:
                    yield cpu, layout.decode(rec)
            if not batch:
                # LIFETIME: the lease is held while waiting only, not while suspended at a
                # yield (a loop left with break would keep the buffer's memory until collected)
                lease = self._lease
                if lease is None:
                    return
                await wait_readable(self._epoll_fd(lease), lease.wakeup_fd())
                del lease

    def close(self) -> None:
        """Close the buffer (``perf_buffer__free``: closes the per-CPU events and unmaps their
        rings, once nothing uses them); idempotent. Safe anywhere: inside a callback or
        ``lost_callback`` (polling stops after it), from another thread or a signal handler
        (a running ``poll()`` returns 0, the next call raises ClosedError)."""
        super().close()

    def _closing(self) -> None:
        self._dispatch = None
        self._out = None
        # What perf_buffer__free would do to the map, now (see __init__): no sample goes to
        # this buffer's events any more, whenever the lease frees them.
        import os

        key = ctypes.c_int()
        for cpu, _, _ in self._buffers:
            key.value = cpu
            lib.bpf_map_delete_elem(self._map_fd, ctypes.byref(key))
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.dup2(null, self._map_fd, inheritable=False)
        finally:
            os.close(null)


_CLOSED = object()  # wrapped(): the buffer was closed before the sample was handed over
_U32 = 2**32 - 1
_MAX_PAGES = 2**20  # per CPU ring (4 GiB with 4 KiB pages): libbpf's mmap size must not wrap


_HEAD = perf_event_mmap_page.data_head.offset  # type: ignore[attr-defined]
_TAIL = perf_event_mmap_page.data_tail.offset  # type: ignore[attr-defined]


def _waiting(base: int) -> int:
    """Bytes waiting in a perf ring: data_head - data_tail of its perf_event_mmap_page."""
    return ctypes.c_uint64.from_address(base + _HEAD).value - \
        ctypes.c_uint64.from_address(base + _TAIL).value


def _page_size() -> int:
    import mmap

    return mmap.PAGESIZE
