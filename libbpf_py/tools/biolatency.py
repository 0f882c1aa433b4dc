"""biolatency: block device I/O latency as a log2 histogram, like bcc's biolatency.

Times each block request from issue (or, with ``-Q``, from insertion into the OS queue) to
completion, through the BTF tracepoints ``tp_btf/block_rq_issue``, ``block_rq_insert`` and
``block_rq_complete`` (needs kernel BTF), and prints the histogram every interval or at the end,
for all disks, one disk (``--disk``) or each disk (``-D``). I/O completes in interrupt context,
so there is no per-process filter. Needs root (CAP_BPF + CAP_PERFMON).

    python -m libbpf_py biolatency [-m] [-Q] [-D] [--disk NAME] [-T] [-d SECONDS] [--json]
                                   [interval [count]]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from typing import Optional, TextIO

import libbpf_py
from libbpf_py import features
from libbpf_py.histogram import format_log2_hist, format_log2_hists, log2_buckets

from . import object_path
from ._common import add_common_args, interval_loop, positive_float, positive_int, run_main

CFG_DEV, CFG_MILLISECONDS, CFG_PER_DISK, CFG_QUEUED = range(4)
HIST_KEY = struct.Struct("=II")  # struct hist_key (biolatency.bpf.c)
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


def read_hists(hist: libbpf_py.Map, *, clear: bool = True) -> dict[int, dict[int, int]]:
    """dev (0 when not per disk) -> {slot: count}, optionally clearing the map."""
    out: dict[int, dict[int, int]] = {}
    for key, count in list(hist.items()):
        # bytes(): the raw struct, whether the map hands back bytes or a BTF-typed structure
        raw = bytes(key)
        dev, slot = HIST_KEY.unpack(raw)
        out.setdefault(dev, {})[slot] = count
        if clear:
            hist.pop(raw, None)
    return out


def load_object() -> libbpf_py.Object:
    """biolatency.bpf.o loaded with the block_rq_insert/issue programs that match the kernel's
    tracepoints: (struct request_queue *, struct request *) before 5.11, (struct request *)
    since (``features.tp_btf_args``). The caller owns it."""
    with libbpf_py.Object.open(object_path("biolatency")) as opened:
        for tp in ("block_rq_insert", "block_rq_issue"):
            two = features.tp_btf_args(tp) == 2
            opened.programs[f"on_{tp}{'' if two else '_two_args'}"].autoload = False
        return opened.load()


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Measure until the duration ends (or Ctrl-C), printing histograms every interval."""
    unit = "msecs" if opts.milliseconds else "usecs"
    dev = disk_dev(opts.disk) if opts.disk else 0
    with load_object() as obj:
        config = obj.maps["config"]
        config[CFG_DEV] = dev
        config[CFG_MILLISECONDS] = int(opts.milliseconds)
        config[CFG_PER_DISK] = int(opts.disks)
        config[CFG_QUEUED] = int(opts.queued)
        hist = obj.maps["hist"]
        obj.attach()

        def report() -> None:
            hists = read_hists(hist)
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
