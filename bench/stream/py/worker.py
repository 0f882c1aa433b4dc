"""One bench/stream column: load, attach, then the same trigger/drain loop as c/consumer.c.

    python worker.py MODE OBJ K TRIGGERS WARMUP PAGES [WAKEUP [SIZE]]

MODE: ring:floor | ring:callback | ring:typed | ring:read | ring:read_array | ring:consume_array
      perf:floor | perf:callback | perf:typed | perf:read_array
Times are CPU time of the consuming thread (user + kernel, CLOCK_THREAD_CPUTIME_ID), plus the
wall time of the whole timed loop. ``floor``: the bare-ctypes reference (libbpf's ring_buffer/perf_buffer with a CFUNCTYPE callback
reading event.val with c_uint64.from_address; libbpf_py only loads the object, untimed). WAKEUP:
PerfBuffer(wakeup_events=WAKEUP) for the perf modes (default 1, libbpf's); SIZE: the ring's event
size (64, 16, 256 or 4096). Prints one JSON line.
The layout, configuration and timed loop are stream_common's (shared with bench/run.py's W2).
"""
from __future__ import annotations

import ctypes
import os
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import libbpf_py
from libbpf_py._ffi import lib
from libbpf_py._ffi import stream as t
from libbpf_py.buffers.perfbuf import PerfBuffer
from libbpf_py.buffers.ringbuf import RingBuffer
from stream_common import CFG_DROPS, Event, event_type, report, start, timed, trigger_for

Drain = Callable[[], int]
Close = Callable[[], None]

total = 0
unpack_from = struct.Struct("=Q").unpack_from
u64_at = ctypes.c_uint64.from_address


def on_view(data):
    global total
    total += unpack_from(data, 8)[0]


def on_typed(e):
    global total
    total += e.val


def on_floor(ctx, data, size):
    global total
    total += u64_at(data + 8).value
    return 0


def on_floor_perf(ctx, cpu, data, size):
    global total
    total += u64_at(data + 8).value


def on_array(arr: Any) -> None:
    global total
    total += int(arr["val"].sum())


def array_drain(read_array: Callable[..., Any], k: int, ev: type = Event) -> Drain:
    """read_array() into one numpy array made here, summing val; returns the events read."""
    import numpy as np

    out = np.empty(4 * k, np.dtype(ev))  # reused: no allocation per drain

    def drain() -> int:
        arr = read_array(out=out)
        on_array(arr)
        return len(arr)
    return drain


def ring_floor(obj: libbpf_py.Object) -> tuple[Drain, Close]:
    cb = t.ring_buffer_sample_fn(on_floor)
    ptr = lib.ring_buffer__new(obj.maps["rb"].fd, cb, None, None)
    raw_consume = lib.ring_buffer__consume

    def drain() -> int:
        return raw_consume(ptr)

    def close(_cb: Any = cb) -> None:  # the default keeps the CFUNCTYPE alive as long as ptr
        lib.ring_buffer__free(ptr)
    return drain, close


def perf_floor(obj: libbpf_py.Object, pages: int) -> tuple[Drain, Close]:
    cb = t.perf_buffer_sample_fn(on_floor_perf)
    ptr = lib.perf_buffer__new(obj.maps["pb"].fd, pages, cb, t.perf_buffer_lost_fn(), None, None)
    raw_consume = lib.perf_buffer__consume

    def drain() -> int:
        raw_consume(ptr)
        return 0

    def close(_cb: Any = cb) -> None:  # the default keeps the CFUNCTYPE alive as long as ptr
        lib.perf_buffer__free(ptr)
    return drain, close


def ring_consumer(obj: libbpf_py.Object, how: str, k: int, size: int) -> tuple[Drain, Close]:
    if how == "floor":
        return ring_floor(obj)
    ev = event_type(size)
    if how in ("callback", "typed"):
        buf = RingBuffer(obj.maps["rb"], on_view if how == "callback" else on_typed,
                         event_type=ev if how == "typed" else None)
        return buf.consume, buf.close
    buf = RingBuffer(obj.maps["rb"], event_type=ev)
    if how == "read":
        read = buf.read

        def drain() -> int:
            return len(read())
    elif how == "consume_array":
        consume_array = buf.consume_array

        def drain() -> int:
            return consume_array(on_array)
    else:
        drain = array_drain(buf.read_array, k, ev)
    return drain, buf.close


def perf_consumer(obj: libbpf_py.Object, how: str, k: int, pages: int,
                  wakeup: int) -> tuple[Drain, Close]:
    if how == "floor":
        return perf_floor(obj, pages)
    if how in ("callback", "typed"):
        buf = PerfBuffer(obj.maps["pb"], (lambda cpu, d: on_view(d)) if how == "callback"
                         else (lambda cpu, e: on_typed(e)),
                         event_type=Event if how == "typed" else None, page_count=pages,
                         wakeup_events=wakeup)
        return buf.consume, buf.close
    buf = PerfBuffer(obj.maps["pb"], event_type=Event, page_count=pages, wakeup_events=wakeup)
    return array_drain(buf.read_array, k), buf.close


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def main() -> None:
    global total
    mode, path = sys.argv[1], sys.argv[2]
    k, triggers, warmup, pages = map(int, sys.argv[3:7])
    wakeup = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    size = int(sys.argv[8]) if len(sys.argv) > 8 else 64
    kind, how = mode.split(":")
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with libbpf_py.load(path) as obj:
        link = start(obj, kind, k, size)
        drain, close = (ring_consumer(obj, how, k, size) if kind == "ring"
                        else perf_consumer(obj, how, k, pages, wakeup))
        trigger = trigger_for(kind)
        timed(trigger, drain, warmup)  # warm-up
        total = 0
        rss0 = rss_kib()
        # CPU time of this thread (user + kernel): see run.py
        timing = timed(trigger, drain, triggers, now=time.thread_time_ns)
        if how == "floor":
            timing["events"] = triggers * k  # the floor counts nothing per event
        report(timing, total, obj.maps["cfg"][CFG_DROPS], rss_growth_kib=rss_kib() - rss0)
        close()
        link.detach()


if __name__ == "__main__":
    main()
