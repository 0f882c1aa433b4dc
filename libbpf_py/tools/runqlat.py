"""runqlat: scheduler run queue latency as a log2 histogram, like bcc's runqlat.

Measures how long runnable tasks wait for a CPU: from wakeup (or preemption) to running.
Attaches BTF tracepoints (``tp_btf/sched_wakeup``, ``sched_wakeup_new``, ``sched_switch``;
needs kernel BTF), aggregates in an array map of log2 slots, and prints the histogram every
interval or at the end. Needs root (CAP_BPF + CAP_PERFMON).

    python -m libbpf_py runqlat [-p PID] [-m] [-P|-L] [-T] [-d SECONDS] [--json]
                                [interval [count]]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from typing import Optional, TextIO

import libbpf_py
from libbpf_py.histogram import format_log2_hist, format_log2_hists, log2_buckets

from . import object_path
from ._common import add_common_args, interval_loop, positive_float, positive_int, run_main

CFG_PID, CFG_MILLISECONDS, CFG_PER = range(3)
PER_NONE, PER_PROCESS, PER_THREAD = range(3)
HIST_KEY = struct.Struct("=II")  # struct hist_key (runqlat.bpf.c)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="runqlat", description="Summarize run queue (scheduler) "
                                "latency as a histogram.")
    add_common_args(p)
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="histogram in milliseconds (default: microseconds)")
    per = p.add_mutually_exclusive_group()
    per.add_argument("-P", "--pids", action="store_true", help="one histogram per process")
    per.add_argument("-L", "--tids", action="store_true", help="one histogram per thread")
    p.add_argument("-T", "--timestamp", action="store_true", help="print a time before each")
    p.add_argument("interval", nargs="?", type=positive_float, default=None,
                   help="print a histogram every this many seconds")
    p.add_argument("count", nargs="?", type=positive_int, default=None,
                   help="stop after this many histograms")
    return p.parse_args(argv)


def read_hist(hist: libbpf_py.Map, *, clear: bool = True) -> list[int]:
    """The log2 slot counts of an array map, optionally zeroing them."""
    counts = [hist[i] for i in range(hist.max_entries)]
    if clear:
        for i, v in enumerate(counts):
            if v:
                hist[i] = 0
    return counts


def read_hists(hist_per: libbpf_py.Map, *, clear: bool = True) -> dict[int, dict[int, int]]:
    """pid or tid -> {slot: count} of the per-process/thread hash map, optionally clearing it."""
    out: dict[int, dict[int, int]] = {}
    for key, count in list(hist_per.items()):
        raw = bytes(key)  # the raw struct, whether the map gives bytes or a BTF-typed structure
        ident, slot = HIST_KEY.unpack(raw)
        out.setdefault(ident, {})[slot] = count
        if clear:
            hist_per.pop(raw, None)
    return out


def _with_comm(ident: int) -> str:
    try:
        with open(f"/proc/{ident}/comm") as f:
            return f"{ident} {f.read().strip()}"
    except OSError:  # gone by now
        return str(ident)


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Measure until the duration ends (or Ctrl-C), printing a histogram every interval."""
    unit = "msecs" if opts.milliseconds else "usecs"
    with libbpf_py.load(object_path("runqlat")) as obj:
        obj.maps["config"][CFG_PID] = opts.pid
        obj.maps["config"][CFG_MILLISECONDS] = int(opts.milliseconds)
        per = PER_PROCESS if opts.pids else PER_THREAD if opts.tids else PER_NONE
        obj.maps["config"][CFG_PER] = per
        hist, hist_per = obj.maps["hist"], obj.maps["hist_per"]
        section = "pid" if per == PER_PROCESS else "tid"
        obj.attach()

        def report() -> None:
            now = time.time()
            if opts.timestamp and not opts.json:
                out.write(f"{time.strftime('%H:%M:%S', time.localtime(now))}\n")
            if per == PER_NONE:
                counts = read_hist(hist)
                if opts.json:
                    out.write(json.dumps({"time": now, "unit": unit,
                                          "buckets": log2_buckets(counts)}) + "\n")
                else:
                    out.write(format_log2_hist(counts, unit) + "\n")
            else:
                hists = read_hists(hist_per)
                if opts.json:
                    for ident in sorted(hists):
                        out.write(json.dumps({"time": now, "unit": unit, section: ident,
                                              "buckets": log2_buckets(hists[ident])}) + "\n")
                else:
                    out.write(format_log2_hists(hists, unit, section_header=section,
                                                section_format=_with_comm) + "\n")
            out.flush()

        interval_loop(opts.interval, opts.duration, "run queue latency", report, opts.count)


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("runqlat", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
