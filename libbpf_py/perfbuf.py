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

from ._ffi import lib
from .errors import BpfError, ClosedError, with_context
from .map import Map
from .ringbuf import as_dtype, dtype_for, resolve_event_type, split_records
from ._buffer import PolledBuffer, wait_readable

__all__ = ["PerfBuffer"]

TYPE_CHECKING = False  # typing/numpy are not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import Any, Optional, Union

    import numpy

    Callback = Callable[[int, Any], Any]
    LostCallback = Callable[[int, int], Any]

PERF_EVENT_ARRAY = 4  # enum bpf_map_type BPF_MAP_TYPE_PERF_EVENT_ARRAY
_read = lib.lbpy_perf_read
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
    wakeup_events=1, wakeup_bytes=None)``. Wraps ``perf_buffer__new_raw`` (through shim.c's
    ``lbpy_perf_buffer_new``: libbpf's default perf_event_attr with the chosen wakeup). Valid
    after load; opening the per-CPU perf events needs root (or CAP_PERFMON / a permissive
    perf_event_paranoid). ``page_count``: pages per CPU ring, a power of two. Keeps the map and
    the callbacks alive until ``close()``, which closes the events and unmaps the rings.
    """

    def __init__(self, map: Map, callback: Optional[Callback] = None, *,
                 lost_callback: Optional[LostCallback] = None, page_count: int = 64,
                 event_type: Union[type, str, None] = None, wakeup_events: int = 1,
                 wakeup_bytes: Optional[int] = None) -> None:
        self._ptr: Any = None
        if not isinstance(map, Map):
            raise TypeError(f"map must be a libbpf_py Map, not {type(map).__name__}")
        if map._type != PERF_EVENT_ARRAY:
            raise TypeError(f"map '{map.name}' is a {map.type.name}, not a PERF_EVENT_ARRAY")
        for name, cb in (("callback", callback), ("lost_callback", lost_callback)):
            if cb is not None and not callable(cb):
                raise TypeError(f"{name} must be callable, not {type(cb).__name__}")
        if not isinstance(page_count, int) or page_count <= 0 or page_count & (page_count - 1):
            raise ValueError(f"page_count must be a power of two, not {page_count!r}")
        if not isinstance(wakeup_events, int) or wakeup_events < 1:
            raise ValueError(f"wakeup_events must be an int >= 1, not {wakeup_events!r}")
        if wakeup_bytes is not None and (not isinstance(wakeup_bytes, int) or wakeup_bytes < 1):
            raise ValueError(f"wakeup_bytes must be an int >= 1, not {wakeup_bytes!r}")
        self._map = map
        self._what = f"perf buffer '{map.name}'"
        self._ctype = resolve_event_type(event_type, map)
        self._callback = callback
        self._lost_callback = lost_callback
        self._dtype: Any = None
        self._out: Any = None  # (out array, address, length, itemsize) of the last read_array
        pending, lost = ctypes.c_uint(), ctypes.c_ulonglong()
        self._refs = (pending, ctypes.byref(pending), lost, ctypes.byref(lost))
        self._poller: Any = None
        #: Samples reported lost by the kernel since creation (all CPUs).
        self.lost = 0
        try:
            self._ptr = lib.lbpy_perf_buffer_new(
                map.fd, page_count, wakeup_bytes if wakeup_bytes is not None else wakeup_events,
                int(wakeup_bytes is not None))
        except BpfError as e:
            raise with_context(e, self._what) from None
        self._buffers = self._map_buffers()
        self._dispatch = [self._make_dispatch(*b) for b in self._buffers] \
            if callback is not None else None

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

    def _make_dispatch(self, cpu: int, base: int, size: int) -> Callable[[], tuple[int, bool]]:
        """A function running the callback on every available sample of one CPU ring, in order
        (lost counts reported in place); returns (samples handled, stopped by the callback).

        Like RingBuffer: lbpy_perf_peek lists samples without consuming them, Python calls the
        callback with a read-only slice of the ring's mapping (a wrapped sample: of a scratch
        copy), lbpy_perf_commit consumes. An exception stops after its sample and propagates.
        """
        callback, ctype, what = self._callback, self._ctype, self._what
        assert callback is not None  # made only for a PerfBuffer with a callback
        data = base + _page_size()
        # LIFETIME: views into libbpf's mapping of the ring, valid until perf_buffer__free
        # (close()); the callbacks' views likewise.
        # cast("B"): a ctypes array exports format "<B", which memoryview can index only as "B"
        area = memoryview((ctypes.c_ubyte * size).from_address(data)).cast("B").toreadonly()
        scratch = (ctypes.c_ubyte * _SCRATCH)()
        scratch_view = memoryview(scratch).toreadonly()
        scratch_addr = ctypes.addressof(scratch)
        offs = (ctypes.c_size_t * _PEEK)()
        lens = (ctypes.c_uint * _PEEK)()
        ends = (ctypes.c_ulonglong * _PEEK)()
        end, lost = ctypes.c_ulonglong(), ctypes.c_ulonglong()
        end_ref, lost_ref = ctypes.byref(end), ctypes.byref(lost)
        peek, commit = lib.lbpy_perf_peek, lib.lbpy_perf_commit
        if ctype is not None:
            from_address, need = ctype.from_address, ctypes.sizeof(ctype)

        def view(off: int, ln: int) -> Any:
            if off == size:  # a sample that wrapped around the ring's end: its copy
                return scratch_view[:ln] if ctype is None else from_address(scratch_addr)
            return area[off:off + ln] if ctype is None else from_address(data + off)

        def dispatch() -> tuple[int, bool]:
            count = 0
            while True:
                n = peek(base, size, offs, lens, ends, _PEEK, scratch, _SCRATCH, end_ref,
                         lost_ref)
                if lost.value:
                    commit(base, end.value)
                    self._on_lost(cpu, lost.value)
                    continue
                i = -1
                try:
                    for i, off, ln in zip(range(n), offs[:n], lens[:n]):
                        if ctype is None:
                            rc = callback(cpu, area[off:off + ln] if off != size
                                          else view(off, ln))
                        else:
                            if ln < need:
                                raise ValueError(f"{what}: sample of {ln} bytes is smaller "
                                                 f"than {ctype.__name__} ({need} bytes)")
                            rc = callback(cpu, from_address(data + off) if off != size
                                          else view(off, ln))
                        if rc is not None and type(rc) is int and rc < 0:
                            commit(base, ends[i])
                            return count + i + 1, True
                except BaseException:
                    if i >= 0:
                        commit(base, ends[i])  # the failing sample is consumed
                    raise
                commit(base, end.value)
                if not n:
                    return count, False
                count += n  # peek stops early before a wrapped sample: ask again

        return dispatch

    def _on_lost(self, cpu: int, count: int) -> None:
        self.lost += count
        if self._lost_callback is not None:
            self._lost_callback(cpu, count)

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError("perf buffer is closed")
        return self._ptr

    # --- per-event callbacks

    def consume(self) -> int:
        """Run the callback on every available sample of every CPU ring without waiting;
        returns how many. Lost counts go to ``lost_callback`` in order. A callback returning a
        negative int stops (its sample is consumed); an exception stops and propagates."""
        self._handle()
        if self._dispatch is None:
            if any(_waiting(base) for _, base, _ in self._buffers):
                raise TypeError(f"{self._what} has no callback: read it with read(), "
                                "read_array() or async for")
            return 0
        total = 0
        for dispatch in self._dispatch:
            n, stopped = dispatch()
            total += n
            if stopped:
                break
        return total

    def fileno(self) -> int:
        """The epoll fd (``perf_buffer__epoll_fd``), readable when a CPU ring woke up."""
        return lib.perf_buffer__epoll_fd(self._handle())

    # --- batches (shim.c's lbpy_perf_read: one C call per CPU ring)

    def read(self, timeout: float = 0) -> list[tuple[int, bytes]]:
        """Every available sample as ``(cpu, bytes)`` (copies, CPU by CPU; data sizes include
        the kernel's padding). ``timeout``: seconds to wait first (0: don't, None: until data).
        Lost samples go to ``lost_callback``/``lost``. Callbacks are not called."""
        self._handle()
        self._wait(timeout)
        out: list[tuple[int, bytes]] = []
        pending = ctypes.c_uint()
        lost = ctypes.c_ulonglong()
        for cpu, base, size in self._buffers:
            waiting = _waiting(base)
            if not waiting:
                continue
            buf = bytearray(waiting)
            lens = (ctypes.c_uint * (waiting // 8))()
            lost.value = 0
            n = _read(base, size, ctypes.addressof(ctypes.c_char.from_buffer(buf)), waiting, lens,
                      len(lens), 0, ctypes.byref(pending), ctypes.byref(lost))
            out += [(cpu, rec) for rec in split_records(buf, lens, n)]
            if lost.value:
                self._on_lost(cpu, lost.value)
        return out

    def read_array(self, dtype: Any = None, *, timeout: float = 0,
                   out: Optional[numpy.ndarray] = None) -> numpy.ndarray:
        """Every available fixed-size sample as a numpy structured array, copied once (CPU by
        CPU). ``dtype``: default the ``event_type``'s; a sample of another size stops the read
        of its CPU ring and stays there (ValueError if nothing else was read). ``out``: a
        C-contiguous 1-D array to fill (at most ``len(out)`` samples) instead of a new one; the
        result is then ``out[:n]``. Lost samples go to ``lost_callback``/``lost``."""
        self._handle()
        cached = self._out
        if out is not None and cached is not None and out is cached[0]:
            arr, addr, cap, rec = cached  # the same array again: already checked
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
                dt = as_dtype(dtype, self._map)
            else:
                dt = self._dtype
                if dt is None:
                    dt = self._dtype = dtype_for(self._ctype, self._what)
            rec = dt.itemsize
            if rec == 0:
                raise ValueError(f"read_array: dtype {dt} has no size")
            self._wait(timeout)
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
        got = stuck = 0
        pending, pending_ref, lost, lost_ref = self._refs
        for cpu, base, size in self._buffers:
            if got >= cap:
                break
            got += _read(base, size, addr + got * rec, (cap - got) * rec, None, cap - got, rec,
                         pending_ref, lost_ref)
            if lost.value:
                n, lost.value = lost.value, 0
                self._on_lost(cpu, n)
            stuck = stuck or pending.value
        if got == 0 and stuck:
            raise ValueError(f"{self._what}: next sample is {stuck} bytes of data, not a "
                             f"{rec}-byte {dt} (read it with read())")
        return arr[:got] if got < cap else arr

    def _has_data(self) -> bool:
        return any(_waiting(base) for _, base, _ in self._buffers)

    # --- asyncio (the event loop's reader on the epoll fd, no thread)

    async def __aiter__(self) -> AsyncIterator[tuple[int, Any]]:
        """``async for cpu, event in pb``: copies (``bytes`` or ``event_type`` instances)."""
        ctype = self._ctype
        while True:
            batch = self.read()
            for cpu, rec in batch:
                yield cpu, (rec if ctype is None else ctype.from_buffer_copy(rec))
            if not batch:
                await wait_readable(self.fileno())

    def close(self) -> None:
        """Free the perf buffer (``perf_buffer__free``: closes the per-CPU events); idempotent.
        Views handed to callbacks must not be used after this."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._dispatch = None
            lib.perf_buffer__free(ptr)


def _waiting(base: int) -> int:
    """Bytes waiting in a perf ring: data_head - data_tail of its perf_event_mmap_page (at
    offsets 1024 and 1032, fixed by the kernel ABI)."""
    return ctypes.c_uint64.from_address(base + 1024).value - \
        ctypes.c_uint64.from_address(base + 1032).value


def _page_size() -> int:
    import mmap

    return mmap.PAGESIZE
