"""W2 ring buffer throughput, libbpf_py: RingBuffer(map, callback).consume().

    python ringbuf_libbpf_py.py OBJ K TRIGGERS WARMUP [unpack|from_bytes]

Same loop as stream/c/consumer.c (bench/stream/py/stream_common.py's). The callback gets a
memoryview of each event and adds event.val (offset 8) to a global: "unpack" with a pre-bound
struct.Struct("=Q").unpack_from(data, 8), "from_bytes" with int.from_bytes(data[8:16],
"little"). Prints one JSON line.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import libbpf_py

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stream" / "py"))
from stream_common import CFG_DROPS, report, start, timed, trigger_for  # noqa: E402

total = 0
unpack_from = struct.Struct("=Q").unpack_from


def on_event_unpack(data):
    global total
    total += unpack_from(data, 8)[0]


def on_event_from_bytes(data):
    global total
    total += int.from_bytes(data[8:16], "little")


def main() -> None:
    global total
    path, k, triggers, warmup = sys.argv[1], *map(int, sys.argv[2:5])
    variant = sys.argv[5] if len(sys.argv) > 5 else "unpack"
    callback = on_event_from_bytes if variant == "from_bytes" else on_event_unpack
    trigger = trigger_for("ring")
    with libbpf_py.load(path) as obj, start(obj, "ring", k), \
            libbpf_py.RingBuffer(obj.maps["rb"], callback) as rb:
        timed(trigger, rb.consume, warmup)  # warm-up
        total = 0
        timing = timed(trigger, rb.consume, triggers)
        report(timing, total, obj.maps["cfg"][CFG_DROPS])


if __name__ == "__main__":
    main()
