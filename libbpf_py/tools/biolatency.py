"""biolatency: block device I/O latency as a log2 histogram, like bcc's biolatency.

Times each block request from issue (or, with ``-Q``, from insertion into the OS queue) to
completion, through the BTF tracepoints ``tp_btf/block_rq_issue``, ``block_rq_insert`` and
``block_rq_complete`` (needs kernel BTF), and prints the histogram every interval or at the end,
for all disks, one disk (``--disk``) or each disk (``-D``). I/O completes in interrupt context,
so there is no per-process filter. The settings are ``const volatile`` globals set before load;
the histograms, ``{dev, slot} -> count`` in one hash map, are read and cleared at once with
``pop_all()``. Written against its skeleton (``biolatency_skel``). Needs root (CAP_BPF +
CAP_PERFMON).

    python -m libbpf_py biolatency [-m] [-Q] [-D] [--disk NAME] [-T] [-d SECONDS] [--json]
                                   [interval [count]]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Optional, TextIO

from libbpf_py import features
from libbpf_py.utils.histogram import format_log2_hist, format_log2_hists, log2_buckets

from ._common import add_common_args, interval_loop, positive_float, positive_int, run_main
from .biolatency_skel import Biolatency, BiolatencyOpen, HistKey

MINORBITS = 20  # the kernel's dev_t: major << 20 | minor


def disk_dev(name: str) -> int:
    """The kernel dev_t of block device ``name`` ("loop0", "vda", "/dev/vda")."""
    base = os.path.basename(name)
    try:
        with open(f"/sys/class/block/{base}/dev") as f:
            major, minor = (int(x) for x in f.read().split(":"))
    except FileNotFoundError:
        raise ValueError(f"no block device {name!r} (see /sys/class/block)") from None
    return (major << MINORBITS) | minor


def disk_name(dev: int) -> str:
    """The name of the block device with kernel dev_t ``dev`` ("?" + numbers when unknown)."""
    major, minor = dev >> MINORBITS, dev & ((1 << MINORBITS) - 1)
    try:
        return os.path.basename(os.readlink(f"/sys/dev/block/{major}:{minor}"))
    except OSError:
        return f"?{major}:{minor}"


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="biolatency",
                                description="Summarize block device I/O latency as a histogram.")
    add_common_args(p, pid=False)
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="histogram in milliseconds (default: microseconds)")
    p.add_argument("-Q", "--queued", action="store_true", help="include OS queued time")
    p.add_argument("-D", "--disks", action="store_true", help="one histogram per disk")
    p.add_argument("--disk", default=None, help="only this disk (e.g. sda, loop0)")
    p.add_argument("-T", "--timestamp", action="store_true", help="print a time before each")
    p.add_argument("interval", nargs="?", type=positive_float, default=None,
                   help="print histograms every this many seconds")
    p.add_argument("count", nargs="?", type=positive_int, default=None,
                   help="stop after this many outputs")
    return p.parse_args(argv)


def by_dev(counts: dict[HistKey, int]) -> dict[int, dict[int, int]]:
    """{dev: {slot: count}} of the histogram map's elements (dev 0 when not per disk)."""
    out: dict[int, dict[int, int]] = {}
    for key, count in counts.items():
        out.setdefault(key.dev, {})[key.slot] = count
    return out


def open_skeleton() -> BiolatencyOpen:
    """The skeleton opened with the block_rq_insert/issue programs that match the kernel's
    tracepoints: (struct request_queue *, struct request *) before 5.11, (struct request *)
    since (``features.tp_btf_args``); the others' autoload off. The caller owns it."""
    opened = Biolatency.open()
    try:
        progs = opened.progs
        for tp, one_arg, two_args in (
                ("block_rq_insert", progs.on_block_rq_insert, progs.on_block_rq_insert_two_args),
                ("block_rq_issue", progs.on_block_rq_issue, progs.on_block_rq_issue_two_args)):
            (one_arg if features.tp_btf_args(tp) == 2 else two_args).autoload = False
    except BaseException:
        opened.close()
        raise
    return opened


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Measure until the duration ends (or Ctrl-C), printing histograms every interval."""
    unit = "msecs" if opts.milliseconds else "usecs"
    dev = disk_dev(opts.disk) if opts.disk else 0
    with open_skeleton() as opened:
        opened.rodata.targ_dev = dev
        opened.rodata.targ_ms = opts.milliseconds
        opened.rodata.targ_per_disk = opts.disks
        opened.rodata.targ_queued = opts.queued
        skel = opened.load()
    with skel:
        hist = skel.maps.hist
        skel.attach()

        def report() -> None:
            hists = by_dev(hist.pop_all())
            if opts.timestamp and not opts.json:
                out.write(f"{time.strftime('%H:%M:%S')}\n")
            if opts.json:
                for key in sorted(hists):
                    row = {"time": time.time(), "unit": unit,
                           "buckets": log2_buckets(hists[key])}
                    if opts.disks:
                        row["disk"] = disk_name(key)
                    out.write(json.dumps(row) + "\n")
            elif opts.disks:
                out.write(format_log2_hists(hists, unit, section_header="disk",
                                            section_format=disk_name) + "\n")
            else:
                out.write(format_log2_hist(hists.get(0, {}), unit) + "\n")
            out.flush()

        interval_loop(opts.interval, opts.duration, "block device I/O", report, opts.count)


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("biolatency", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
