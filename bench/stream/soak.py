#!/usr/bin/env python3
"""Soak: RingBuffer and PerfBuffer create -> poll -> close cycles in one process, fds and RSS
sampled as it goes (issue 10: no fd and no RSS growth).

    python bench/stream/soak.py [--cycles 10000] [--every 1000] [--k 64] [--numpy] OBJ

OBJ: tests/bpf/stream_events.bpf.c compiled (the test suite's cache has it, or
``clang -g -O2 -target bpf -I libbpf_py/include -c tests/bpf/stream_events.bpf.c``). Each cycle:
a RingBuffer on `rb` with a callback, K records emitted (getppid) and polled, closed; a
PerfBuffer on `pb` with a callback, K samples emitted (getpgid) and polled, closed. Every
record is counted and checked. ``--numpy``: also read a batch with ``read_array()`` each cycle
(the first call imports numpy: about 15 MiB of RSS, once). Prints one line per sample, then a
JSON summary (the last line); exits 1 if the fds or the RSS after the first sample grew.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import libbpf_py
from libbpf_py import PerfBuffer, RingBuffer

CFG_TGID, CFG_K = 0, 1


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("obj")
    ap.add_argument("--cycles", type=int, default=10000)
    ap.add_argument("--every", type=int, default=1000, help="sample fds and RSS every N cycles")
    ap.add_argument("--k", type=int, default=64, help="records per buffer per cycle")
    ap.add_argument("--numpy", action="store_true", help="also read_array() each cycle")
    ap.add_argument("--rss-slack-kib", type=int, default=1024,
                    help="RSS growth after the first sample that still counts as flat")
    a = ap.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one perf ring
    samples = []
    seen = 0
    t0 = time.monotonic()

    def count(*_: object) -> None:
        nonlocal seen
        seen += 1

    with libbpf_py.load(a.obj) as obj:
        cfg = obj.maps["cfg"]
        cfg[CFG_TGID] = os.getpid()
        cfg[CFG_K] = a.k
        obj.attach()
        samples.append({"cycle": 0, "fds": fds(), "rss_kib": rss_kib()})
        for cycle in range(1, a.cycles + 1):
            with RingBuffer(obj.maps["rb"], count) as rb:
                os.getppid()
                got = rb.poll(1.0)
                if a.numpy:
                    os.getppid()
                    got += len(rb.read_array("struct event", timeout=1.0))
            with PerfBuffer(obj.maps["pb"], count, page_count=8) as pb:
                os.getpgid(0)
                got += pb.poll(1.0)
            if got != (3 if a.numpy else 2) * a.k:
                print(f"cycle {cycle}: {got} records, expected {2 * a.k}", file=sys.stderr)
                return 1
            if cycle % a.every == 0:
                samples.append({"cycle": cycle, "fds": fds(), "rss_kib": rss_kib()})
                print(f"cycle {cycle}: fds {samples[-1]['fds']}, RSS {samples[-1]['rss_kib']} KiB",
                      flush=True)
    first = samples[1] if len(samples) > 1 else samples[0]
    fd_growth = max(s["fds"] for s in samples) - samples[0]["fds"]
    rss_growth = max(s["rss_kib"] for s in samples[1:] or samples) - first["rss_kib"]
    ok = fd_growth == 0 and rss_growth <= a.rss_slack_kib
    print(json.dumps({"cycles": a.cycles, "records": seen, "seconds": round(time.monotonic() - t0, 1),
                      "fd_growth": fd_growth, "rss_before_kib": samples[0]["rss_kib"],
                      "rss_first_sample_kib": first["rss_kib"],
                      "rss_growth_after_first_sample_kib": rss_growth, "ok": ok,
                      "samples": samples}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
