"""What the Python consumers of both ring buffer benchmarks share: bench/stream/py/worker.py and
bench/run.py's W2 scripts (bench/py/ringbuf_*.py, which put this directory on sys.path).

The layout of bench/stream/bpf/stream_bench.bpf.c (the one producer both suites load), how a
consumer configures it and triggers it, and the timed trigger/drain loop, the same loop as
bench/stream/c/consumer.c. libbpf_py is not imported here: the W2 ctypes floor uses this module
and must not import it. The per-event callbacks stay in the scripts: they are what is measured.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from libbpf_py import Link, Object

#: Indices in the producer's `cfg` ARRAY map.
CFG_TGID, CFG_K, CFG_DROPS, CFG_TRIGGERS = 0, 1, 2, 3

#: The producer's program for each buffer kind.
PROGRAM = {"ring": "ring_producer", "perf": "perf_producer"}


class Event(ctypes.Structure):
    """The producer's struct event (64 bytes); val, at offset 8, is what the consumers sum."""

    _fields_ = [("seq", ctypes.c_uint64), ("val", ctypes.c_uint64), ("pad", ctypes.c_uint64 * 6)]


def event_type(size: int) -> type:
    """The ring producer's event of ``size`` bytes (16, 64, 256 or 4096): seq, val, padding."""
    if size == 64:
        return Event
    fields = [("seq", ctypes.c_uint64), ("val", ctypes.c_uint64)]
    if size > 16:
        fields.append(("pad", ctypes.c_uint8 * (size - 16)))
    return type(f"Event{size}", (ctypes.Structure,), {"_fields_": fields})


def ring_program(size: int) -> str:
    """The ring producer program emitting events of ``size`` bytes."""
    return PROGRAM["ring"] if size == 64 else f"{PROGRAM['ring']}_{size}"


def trigger_for(kind: str) -> Callable[[], object]:
    """The syscall whose tracepoint makes the producer emit K events: getppid for the ring
    buffer, getpgid for the perf buffer."""
    return os.getppid if kind == "ring" else (lambda: os.getpgid(0))


def start(obj: Object, kind: str, k: int, size: int = 64) -> Link:
    """cfg <- {this process, K}, then attach kind's producer only (not Object.attach(): the
    other programs would fire on their own syscalls). Returns the link."""
    cfg = obj.maps["cfg"]
    cfg[CFG_TGID] = os.getpid()
    cfg[CFG_K] = k
    return obj.programs[ring_program(size) if kind == "ring" else PROGRAM[kind]].attach()


def timed(trigger: Callable[[], object], drain: Callable[[], int], rounds: int,
          now: Callable[[], int] = time.perf_counter_ns) -> dict[str, int]:
    """ROUNDS of trigger() then drain() (which returns the events it consumed): events, and
    trigger_ns and drain_ns summed on the clock now, and wall_ns of the whole loop. Consumers
    warm up with the same call (result dropped), so the warm-up runs exactly the timed code."""
    events = trigger_ns = drain_ns = 0
    wall = time.perf_counter_ns
    w0 = wall()
    for _ in range(rounds):
        t0 = now()
        trigger()
        t1 = now()
        n = drain()
        t2 = now()
        if n < 0:
            sys.exit(f"consume failed: {n}")
        events += n
        trigger_ns += t1 - t0
        drain_ns += t2 - t1
    return {"events": events, "trigger_ns": trigger_ns, "drain_ns": drain_ns,
            "wall_ns": wall() - w0}


def report(timing: dict[str, int], total: int, drops: int, **extra: int) -> None:
    """The one JSON line a consumer prints (its harness reads the last line)."""
    print(json.dumps({**timing, "sum": total, "drops": drops, **extra}))
