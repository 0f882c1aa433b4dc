"""W2 side experiment: the per-event cost of libbpf_py's RingBuffer callback wrapper, measured
in ONE process against the bare-ctypes floor and candidate wrappers (A/B, so host noise cancels).

    python ringbuf_wrapper_ab.py OBJ K CYCLES

Several ring_buffer managers are opened on the same ring buffer map and used in turn, one per
trigger (getppid() -> K events -> that manager's consume()). Every variant's callback sums
event.val; each variant's sum is checked. Prints one JSON object per variant.

Variants (all except the first call libbpf through libbpf_py._ffi.lib directly):
  libbpf_py           RingBuffer(map, cb).consume(), the public API; cb gets a memoryview
  floor               raw CFUNCTYPE, body c_uint64.from_address(data + 8).value (no memoryview)
  cached-type         like libbpf_py's wrapper, but the (c_char * size) type is cached
  ring-view           one memoryview over the whole ring mapping made once; per event a slice
                      mv[off:off + size], released after the call
  ring-view-lean      same slice, not released; no per-event counter (consume()'s return value
                      counts), `rc is None` fast path
"""
import ctypes
import json
import os
import statistics
import struct
import sys
import time
from pathlib import Path

import libbpf_py
from libbpf_py._ffi import lib
from libbpf_py._ffi.stream import ring_buffer_sample_fn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stream" / "py"))
from stream_common import CFG_DROPS, start  # noqa: E402

path, K, CYCLES = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
unpack_from = struct.Struct("=Q").unpack_from
totals = {}


def summer(name):
    totals[name] = 0

    def cb(data):
        totals[name] += unpack_from(data, 8)[0]
    return cb


def cached_type(callback, state):
    types = {}

    def on_sample(_ctx, data, size):
        t = types.get(size)
        if t is None:
            t = types[size] = ctypes.c_char * size
        try:
            rc = callback(memoryview(t.from_address(data)).cast("B"))
        except BaseException as e:  # noqa: BLE001
            state["error"] = e
            return -1
        state["count"] += 1
        if type(rc) is int and rc < 0:
            return rc
        return 0
    return on_sample


def ring_view(callback, state, release=True, count=True):
    # The ring's data area is mapped twice back to back, so a record never wraps: one view of
    # 2 * size bytes covers every record. Its base is found at the first record: libbpf stores
    # the consumer position only after the callback returns, so during the callback
    # data == base + (consumer_pos & mask) + 8 (BPF_RINGBUF_HDR_SZ).
    view = None
    base = limit = 0

    def setup(data):
        nonlocal view, base, limit
        ring = lib.ring_buffer__ring(state["rb"], 0)
        rsize = lib.ring__size(ring)
        base = data - 8 - (lib.ring__consumer_pos(ring) & (rsize - 1))
        limit = 2 * rsize
        view = memoryview((ctypes.c_char * limit).from_address(base)).cast("B")

    if release:
        def on_sample(_ctx, data, size):
            off = data - base
            if view is None or off < 0 or off + size > limit:
                setup(data)
                off = data - base
            rec = view[off:off + size]
            try:
                rc = callback(rec)
            except BaseException as e:  # noqa: BLE001
                state["error"] = e
                return -1
            finally:
                rec.release()
            state["count"] += 1
            if type(rc) is int and rc < 0:
                return rc
            return 0
    else:
        def on_sample(_ctx, data, size):
            off = data - base
            if view is None or off < 0 or off + size > limit:
                setup(data)
                off = data - base
            try:
                rc = callback(view[off:off + size])
            except BaseException as e:  # noqa: BLE001
                state["error"] = e
                return -1
            if rc is None:
                return 0
            if type(rc) is int and rc < 0:
                return rc
            return 0
    return on_sample


def raw_manager(fd, on_sample, state):
    cb = ring_buffer_sample_fn(on_sample)
    state["cb"] = cb  # keep alive
    state["rb"] = lib.ring_buffer__new(fd, cb, None, None)
    rb = state["rb"]
    consume = lib.ring_buffer__consume
    return lambda: consume(rb)


with libbpf_py.load(path) as obj, start(obj, "ring", K):
    cfg = obj.maps.cfg
    fd = obj.maps.rb.fd
    consumers = {}
    keep = []
    rbuf = libbpf_py.RingBuffer(obj.maps.rb, summer("libbpf_py"))
    consumers["libbpf_py"] = rbuf.consume

    totals["floor"] = 0
    u64_at = ctypes.c_uint64.from_address

    def floor_cb(_ctx, data, _size):
        totals["floor"] += u64_at(data + 8).value
        return 0

    for name, make in (("floor", lambda cb, st: floor_cb),
                       ("cached-type", cached_type),
                       ("ring-view", ring_view),
                       ("ring-view-lean", lambda cb, st: ring_view(cb, st, False, False))):
        st = {"count": 0, "error": None}
        keep.append(st)
        consumers[name] = raw_manager(fd, make(summer(name) if name != "floor" else None, st),
                                      st)

    names = list(consumers)
    ns = {n: [] for n in names}
    warm = 2 * len(names)
    for i in range(CYCLES * len(names) + warm):
        name = names[i % len(names)]
        os.getppid()
        t0 = time.perf_counter_ns()
        n = consumers[name]()
        dt = time.perf_counter_ns() - t0
        if n < 0:
            sys.exit(f"{name}: consume failed {n}")
        if i >= warm:
            ns[name].append(dt / K)
    drops = cfg[CFG_DROPS]
    per_trigger = K * (K + 1) // 2
    for st in keep:
        lib.ring_buffer__free(st["rb"])
    rbuf.close()
    for name in names:
        ratios = [a / f for a, f in zip(ns[name], ns["floor"])]
        print(json.dumps({
            "variant": name, "cycles": len(ns[name]), "ns_median": statistics.median(ns[name]),
            "ns_min": min(ns[name]), "x_floor": statistics.median(ratios),
            "sum_ok": totals[name] > 0 and totals[name] % per_trigger == 0
            and totals[name] // per_trigger == len(ns[name]) + 2, "drops": drops}))
