"""W2 ring buffer throughput, libbpf_py: RingBuffer(map, callback).consume().

    python ringbuf_libbpf_py.py OBJ K TRIGGERS WARMUP [unpack|from_bytes]

Same loop as c/ringbuf.c. The callback gets a memoryview of each event and adds event.val
(offset 8) to a global: "unpack" with a pre-bound struct.Struct("=Q").unpack_from(data, 8),
"from_bytes" with int.from_bytes(data[8:16], "little"). Prints one JSON line.
"""
import json
import os
import struct
import sys
import time

import libbpf_py

path, k, triggers, warmup = sys.argv[1], *map(int, sys.argv[2:5])
variant = sys.argv[5] if len(sys.argv) > 5 else "unpack"
CFG_TGID, CFG_K, CFG_DROPS = 0, 1, 2

total = 0
unpack_from = struct.Struct("=Q").unpack_from


def on_event_unpack(data):
    global total
    total += unpack_from(data, 8)[0]


def on_event_from_bytes(data):
    global total
    total += int.from_bytes(data[8:16], "little")


callback = on_event_from_bytes if variant == "from_bytes" else on_event_unpack

with libbpf_py.load(path) as obj:
    cfg = obj.maps.cfg
    cfg[CFG_TGID] = os.getpid()
    cfg[CFG_K] = k
    obj.attach()
    with libbpf_py.RingBuffer(obj.maps.rb, callback) as rb:
        consume = rb.consume
        trigger = os.getppid
        now = time.perf_counter_ns
        for _ in range(warmup):
            trigger()
            consume()
        total = events = trigger_ns = drain_ns = 0
        for _ in range(triggers):
            t0 = now()
            trigger()
            t1 = now()
            n = consume()
            t2 = now()
            events += n
            trigger_ns += t1 - t0
            drain_ns += t2 - t1
        print(json.dumps({"events": events, "sum": total, "drops": cfg[CFG_DROPS],
                          "trigger_ns": trigger_ns, "drain_ns": drain_ns}))
