"""runqlat: scheduler run queue latency as a log2 histogram, like bcc's runqlat.

Measures how long runnable tasks wait for a CPU: from wakeup (or preemption) to running.
Attaches BTF tracepoints (``tp_btf/sched_wakeup``, ``sched_wakeup_new``, ``sched_switch``;
needs kernel BTF), aggregates in an array map of log2 slots, and prints the histogram every
interval or at the end. Needs root (CAP_BPF + CAP_PERFMON). The filters are ``const volatile``
globals set before load; the histograms, ``{id, slot} -> count`` in one hash map, are read and
cleared at once with ``pop_all()``. Written against its skeleton (``runqlat_skel``).

    python -m libbpf_py runqlat [-p PID] [-m] [-P|-L] [-T] [-d SECONDS] [--json]
                                [interval [count]]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional, TextIO

from libbpf_py.utils.histogram import format_log2_hist, format_log2_hists, log2_buckets

from ._common import add_common_args, interval_loop, positive_float, positive_int, run_main
from .runqlat_skel import HistKey, Per, Runqlat


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


def by_id(counts: dict[HistKey, int]) -> dict[int, dict[int, int]]:
    """{id: {slot: count}} of the histogram map's elements (id 0: the one histogram)."""
    out: dict[int, dict[int, int]] = {}
    for key, count in counts.items():
        out.setdefault(key.id, {})[key.slot] = count
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
    per = Per.PER_PROCESS if opts.pids else Per.PER_THREAD if opts.tids else Per.PER_NONE
    section = "pid" if per == Per.PER_PROCESS else "tid"
    with Runqlat.open() as opened:
        opened.rodata.targ_tgid = opts.pid
        opened.rodata.targ_ms = opts.milliseconds
        opened.rodata.targ_per = per
        skel = opened.load()
    with skel:
        hists = skel.maps.hists
        skel.attach()

        def report() -> None:
            now = time.time()
            if opts.timestamp and not opts.json:
                out.write(f"{time.strftime('%H:%M:%S', time.localtime(now))}\n")
            got = by_id(hists.pop_all())
            if per == Per.PER_NONE:
                counts = got.get(0, {})
                if opts.json:
                    out.write(json.dumps({"time": now, "unit": unit,
                                          "buckets": log2_buckets(counts)}) + "\n")
                else:
                    out.write(format_log2_hist(counts, unit) + "\n")
            else:
                if opts.json:
                    for ident in sorted(got):
                        out.write(json.dumps({"time": now, "unit": unit, section: ident,
                                              "buckets": log2_buckets(got[ident])}) + "\n")
                else:
                    out.write(format_log2_hists(got, unit, section_header=section,
                                                section_format=_with_comm) + "\n")
            out.flush()

        interval_loop(opts.interval, opts.duration, "run queue latency", report, opts.count)


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("runqlat", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
