"""One bench/stream column: load, attach, then the same trigger/drain loop as c/consumer.c.

    python worker.py MODE OBJ K TRIGGERS WARMUP PAGES [WAKEUP]

MODE: ring:floor | ring:callback | ring:typed | ring:read | ring:read_array | ring:consume_array
      perf:floor | perf:callback | perf:typed | perf:read_array
Times are CPU time of the consuming thread (user + kernel, CLOCK_THREAD_CPUTIME_ID), plus the
wall time of the whole timed loop. ``floor``: the bare-ctypes reference (libbpf's ring_buffer/perf_buffer with a CFUNCTYPE callback
reading event.val with c_uint64.from_address; libbpf_py only loads the object, untimed). WAKEUP:
PerfBuffer(wakeup_events=WAKEUP) for the perf modes (default 1, libbpf's). Prints one JSON line.
"""
import ctypes
import json
import os
import struct
import sys
import time

import libbpf_py
from libbpf_py._ffi import lib
from libbpf_py._ffi import stream as t
from libbpf_py.perfbuf import PerfBuffer
from libbpf_py.ringbuf import RingBuffer

mode, path = sys.argv[1], sys.argv[2]
k, triggers, warmup, pages = map(int, sys.argv[3:7])
wakeup = int(sys.argv[7]) if len(sys.argv) > 7 else 1
kind, how = mode.split(":")
CFG_TGID, CFG_K, CFG_DROPS = 0, 1, 2


class Event(ctypes.Structure):
    _fields_ = [("seq", ctypes.c_uint64), ("val", ctypes.c_uint64), ("pad", ctypes.c_uint64 * 6)]


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


os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
with libbpf_py.load(path) as obj:
    cfg = obj.maps.cfg
    cfg[CFG_TGID] = os.getpid()
    cfg[CFG_K] = k
    prog = obj.programs["ring_producer" if kind == "ring" else "perf_producer"]
    link = prog.attach()
    trigger = os.getppid if kind == "ring" else (lambda: os.getpgid(0))
    buf = None
    if kind == "ring":
        if how == "floor":
            cb = t.ring_buffer_sample_fn(on_floor)
            ptr = lib.ring_buffer__new(obj.maps.rb.fd, cb, None, None)
            raw_consume = lib.ring_buffer__consume

            def drain():
                return raw_consume(ptr)
        elif how in ("callback", "typed"):
            buf = RingBuffer(obj.maps.rb, on_view if how == "callback" else on_typed,
                             event_type=Event if how == "typed" else None)
            drain = buf.consume
        else:
            buf = RingBuffer(obj.maps.rb, event_type=Event)
            if how == "read":
                read = buf.read

                def drain():
                    return len(read())
            elif how == "consume_array":
                consume_array = buf.consume_array

                def on_array(arr):
                    global total
                    total += int(arr["val"].sum())

                def drain():
                    return consume_array(on_array)
            else:
                import numpy as np

                read_array = buf.read_array
                out = np.empty(4 * k, np.dtype(Event))  # reused: no allocation per drain

                def drain():
                    global total
                    arr = read_array(out=out)
                    total += int(arr["val"].sum())
                    return len(arr)
    else:
        if how == "floor":
            cb = t.perf_buffer_sample_fn(on_floor_perf)
            ptr = lib.perf_buffer__new(obj.maps.pb.fd, pages, cb, t.perf_buffer_lost_fn(), None,
                                       None)
            raw_consume = lib.perf_buffer__consume

            def drain():
                raw_consume(ptr)
                return 0
        elif how in ("callback", "typed"):
            buf = PerfBuffer(obj.maps.pb, (lambda cpu, d: on_view(d)) if how == "callback"
                             else (lambda cpu, e: on_typed(e)),
                             event_type=Event if how == "typed" else None, page_count=pages,
                             wakeup_events=wakeup)
            drain = buf.consume
        else:
            import numpy as np

            buf = PerfBuffer(obj.maps.pb, event_type=Event, page_count=pages,
                             wakeup_events=wakeup)
            read_array = buf.read_array
            out = np.empty(4 * k, np.dtype(Event))  # reused: no allocation per drain

            def drain():
                global total
                arr = read_array(out=out)
                total += int(arr["val"].sum())
                return len(arr)
    now = time.thread_time_ns  # CPU time of this thread (user + kernel): see run.py
    wall = time.perf_counter_ns

    def rss_kib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)

    for _ in range(warmup):
        trigger()
        drain()
    total = events = trigger_ns = drain_ns = 0
    rss0 = rss_kib()
    w0 = wall()
    for _ in range(triggers):
        t0 = now()
        trigger()
        t1 = now()
        n = drain()
        t2 = now()
        events += n
        trigger_ns += t1 - t0
        drain_ns += t2 - t1
    wall_ns = wall() - w0
    if how == "floor" or how == "read":
        events = triggers * k if how == "floor" else events  # the floor counts nothing per event
    print(json.dumps({"events": events, "sum": total, "drops": cfg[CFG_DROPS],
                      "trigger_ns": trigger_ns, "drain_ns": drain_ns, "wall_ns": wall_ns,
                      "rss_growth_kib": rss_kib() - rss0}))
    if buf is not None:
        buf.close()
    elif kind == "ring":
        lib.ring_buffer__free(ptr)
    else:
        lib.perf_buffer__free(ptr)
    link.detach()
