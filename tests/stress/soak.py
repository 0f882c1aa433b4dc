"""Soak: many create/use/close cycles in one process, with the process's open fds and RSS
sampled every ``sample`` cycles. Three phases:

- ``object``: open -> load -> attach -> trigger -> poll a RingBuffer -> close, on the suite's
  getppid object (a tracepoint program, a hash map, a ring buffer); each cycle checks that the
  program ran (one event, counted once).
- ``buffers``: Map.create (hash, one update and lookup) -> RingBuffer over a created ring ->
  PerfBuffer over a created perf event array -> close all.
- ``records``: on one loaded object (tests/bpf/stream_events.bpf.c, attached once), a
  RingBuffer with a callback, ``records`` records emitted (getppid) and polled, closed; a
  PerfBuffer likewise (getpgid); every record counted (none lost, none twice). With ``numpy``,
  also a batch read with ``RingBuffer.read_array()`` per cycle (numpy's import is about 15 MiB
  of RSS, once: before the first sample).

``ok``: the fd count at the end equals the count after the first sample, and RSS grew by at
most ``RSS_SLACK`` between the first sample and the last (allocator noise; a per-cycle leak of
even 100 bytes over 10,000 cycles is 1 MB).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
RSS_SLACK = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def run_phase(name: str, cycles: int, sample: int, cycle: Callable[[int], None]) -> dict[str, Any]:
    samples: list[tuple[int, int, int]] = []  # (cycle, fds, rss)
    started = time.monotonic()
    for i in range(1, cycles + 1):
        cycle(i)
        if i % sample == 0 or i == cycles:
            samples.append((i, fds(), rss()))
    base = samples[0]
    fd_growth = samples[-1][1] - base[1]
    rss_growth = samples[-1][2] - base[2]
    return {"phase": name, "cycles": cycles, "seconds": round(time.monotonic() - started, 1),
            "samples": samples, "fd_growth": fd_growth, "rss_growth": rss_growth,
            "ok": fd_growth == 0 and rss_growth <= RSS_SLACK}


def soak(cycles: int, sample: int, records: int = 64, numpy: bool = False) -> dict[str, Any]:
    import ctypes

    import libbpf_py
    from libbpf_py import MapType, PerfBuffer, RingBuffer
    from libbpf_py.maps import Map

    sys.path.insert(0, str(TESTS))
    from conftest import compile_bpf

    path = str(compile_bpf(TESTS / "bpf" / "getppid.bpf.c"))
    pid = os.getpid()

    def object_cycle(i: int) -> None:
        got: list[int] = []
        with libbpf_py.load(path) as obj:
            obj.maps["config"][0] = pid
            obj.attach()
            with RingBuffer(obj.maps["events"], lambda data: got.append(len(data))) as rb:
                os.getppid()
                rb.poll(timeout=0)
            assert got == [16], got  # struct event: one per getppid() of ours
            assert obj.maps["counts"][pid] == 1

    def buffers_cycle(i: int) -> None:
        with Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                        max_entries=16) as m:
            m[i % 16] = i
            assert m[i % 16] == i
        with Map.create(MapType.RINGBUF, key_size=0, value_size=0, max_entries=4096) as ring:
            with RingBuffer(ring, lambda data: None) as rb:
                rb.poll(timeout=0)
        ncpu = os.cpu_count() or 1
        with Map.create(MapType.PERF_EVENT_ARRAY, max_entries=ncpu) as events:
            with PerfBuffer(events, lambda cpu, data: None, page_count=1) as pb:
                pb.poll(timeout=0)

    stream_path = str(compile_bpf(TESTS / "bpf" / "stream_events.bpf.c"))
    # Loaded and attached for the records phase only: its programs fire on every getppid().
    stream: Any = None
    per_cycle = (3 if numpy else 2) * records
    counted = [0]

    def count(*_: object) -> None:
        counted[0] += 1

    def records_cycle(i: int) -> None:
        before = counted[0]
        got = 0
        with RingBuffer(stream.maps["rb"], count) as rb:
            os.getppid()
            got += rb.poll(timeout=1.0)
            if numpy:
                os.getppid()
                got += len(rb.read_array("struct event", timeout=1.0))
                counted[0] += records
        with PerfBuffer(stream.maps["pb"], count, page_count=8) as pb:
            os.getpgid(0)
            got += pb.poll(timeout=1.0)
        assert got == per_cycle == counted[0] - before, (i, got, counted[0] - before)

    # A first cycle of each outside the measurement: imports, bindings, caches.
    object_cycle(0)
    buffers_cycle(0)
    phases = [run_phase("object", cycles, sample, object_cycle),
              run_phase("buffers", cycles, sample, buffers_cycle)]
    affinity = os.sched_getaffinity(0)
    stream = libbpf_py.load(stream_path)
    try:
        cfg = stream.maps["cfg"]
        cfg[0], cfg[1] = pid, records  # CFG_TGID, CFG_K: records per getppid()/getpgid()
        stream.attach()
        os.sched_setaffinity(0, {min(affinity)})  # the perf samples all in one CPU's ring
        records_cycle(0)
        phases.append(run_phase("records", cycles, sample, records_cycle))
    finally:
        os.sched_setaffinity(0, affinity)
        stream.close()
    phases[-1]["records"] = counted[0] - per_cycle  # after the warm-up cycle
    return {"cycles": cycles, "sample": sample, "records_per_cycle": per_cycle,
            "numpy": numpy, "phases": phases, "ok": all(p["ok"] for p in phases)}


def print_soak(result: dict[str, Any]) -> None:
    for p in result["phases"]:
        extra = f", {p['records']} records counted" if "records" in p else ""
        print(f"{p['phase']}: {p['cycles']} cycles in {p['seconds']} s; fd growth "
              f"{p['fd_growth']}, RSS growth {p['rss_growth'] / 1024:.0f} KiB "
              f"({'ok' if p['ok'] else 'GREW'}){extra}")
        print("  cycle   fds   RSS KiB")
        for c, f, r in p["samples"]:
            print(f"  {c:5} {f:5} {r // 1024:9}")
