"""syscount: count system calls per syscall or per process, like bcc's syscount.

Attaches to ``raw_syscalls:sys_enter`` / ``sys_exit``; counts (and with ``-L`` the total time
of) completed calls in a hash map, read and cleared with ``pop_all()`` every interval and printed
as a top-N table. The filters are ``const volatile`` globals set before load. Syscall names come
from the table of this machine's architecture (``syscalls.py``: x86_64, aarch64). Written against
its skeleton (``syscount_skel``). Needs root (CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py syscount [-p PID] [-i SECONDS] [-d SECONDS] [-T TOP] [-x] [-e ERRNO]
                                 [-L [-m]] [-P] [-l] [--json] [--prometheus [HOST]:PORT]
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Optional, TextIO

from ._common import (add_common_args, ensure_tracefs, interval_loop, positive_float,
                      positive_int, run_main)
from .syscalls import syscall_name, syscall_names
from .syscount_skel import Data, Syscount

if TYPE_CHECKING:
    from libbpf_py.gen.skeleton_runtime import TypedMap


def _errno(text: str) -> int:
    if text.isdigit():
        return int(text)
    code = getattr(errno, text.upper(), None)
    if not isinstance(code, int):
        raise argparse.ArgumentTypeError(f"unknown errno {text!r} (give a number or a name "
                                         "like ENOENT)")
    return code


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="syscount", description="Count system calls.")
    add_common_args(p)
    p.add_argument("-i", "--interval", type=positive_float, default=None,
                   help="print a summary every this many seconds")
    p.add_argument("-T", "--top", type=positive_int, default=10, help="print only the top N rows")
    p.add_argument("-x", "--failures", action="store_true", help="only failed syscalls")
    p.add_argument("-e", "--errno", type=_errno, default=0,
                   help="only syscalls failing with this errno (number or name, e.g. ENOENT)")
    p.add_argument("-L", "--latency", action="store_true", help="also total time in syscalls")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="latency in milliseconds (default: microseconds)")
    p.add_argument("-P", "--process", action="store_true", help="count by process, not syscall")
    p.add_argument("-l", "--list", action="store_true", help="print the syscall table and exit")
    p.add_argument("--prometheus", metavar="[HOST]:PORT", default=None,
                   help="serve the counts as Prometheus counters (syscount_calls_total) at "
                   "http://HOST:PORT/metrics instead of printing them (needs the exporter "
                   "extra: pip install 'libbpf_py[exporter]')")
    return p.parse_args(argv)


def read_counts(counts: TypedMap[int, Data]) -> dict[int, tuple[int, int, str]]:
    """key (syscall number or pid) -> (count, total_ns, comm), read and deleted in one pass."""
    return {key: (d.count, d.total_ns, d.comm.decode(errors="replace"))
            for key, d in counts.pop_all().items()}


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Count until the duration ends (or Ctrl-C), printing a table every interval."""
    if opts.list:
        for nr, name in sorted(syscall_names().items()):
            out.write(f"{nr:<6} {name}\n")
        return
    ensure_tracefs()
    syscall_names()  # fail early on an architecture without a table
    unit, div = ("ms", 1e6) if opts.milliseconds else ("us", 1e3)

    with Syscount.open() as opened:
        rodata = opened.rodata
        rodata.targ_tgid = opts.pid
        rodata.targ_failed = opts.failures
        rodata.targ_by_process = opts.process
        rodata.targ_latency = opts.latency
        rodata.targ_errno = opts.errno
        skel = opened.load()
    with skel:
        counts = skel.maps.counts
        skel.attach()
        if opts.prometheus:
            serve_prometheus(opts, counts)
            return

        def report() -> None:
            rows = read_counts(counts)
            order = sorted(rows.items(), key=lambda kv: kv[1][1 if opts.latency else 0],
                           reverse=True)[:opts.top]
            now = time.time()
            if opts.json:
                for key, (n, total, comm) in order:
                    row: dict[str, Any] = {"time": now, "count": n}
                    if opts.process:
                        row.update(pid=key, comm=comm)
                    else:
                        row.update(nr=key, syscall=syscall_name(key))
                    if opts.latency:
                        row["total_ns"] = total
                    out.write(json.dumps(row) + "\n")
                out.flush()
                return
            out.write(f"[{time.strftime('%H:%M:%S', time.localtime(now))}]\n")
            what = f"{'PID':<6} {'COMM':<15}" if opts.process else "SYSCALL"
            lat = f" {f'TIME ({unit})':>16}" if opts.latency else ""
            out.write(f"{what:<22} {'COUNT':>8}{lat}\n")
            for key, (n, total, comm) in order:
                name = f"{key:<6} {comm:<15}" if opts.process else syscall_name(key)
                lat = f" {total / div:16.3f}" if opts.latency else ""
                out.write(f"{name:<22} {n:>8}{lat}\n")
            out.write("\n")
            out.flush()

        interval_loop(opts.interval, opts.duration, "syscalls", report)


def serve_prometheus(opts: argparse.Namespace, counts: TypedMap[int, Data]) -> None:
    """Serve ``counts`` as ``syscount_calls_total{syscall}`` (``{pid}`` with -P) until the
    duration ends or Ctrl-C; the map is not cleared (Prometheus counters only grow)."""
    from prometheus_client import CollectorRegistry, start_http_server

    from ..cli.exporter import listen_address
    from ..exporter import Label, MapMetric

    host, port = listen_address(opts.prometheus)
    label = Label("pid") if opts.process else Label("syscall", decode="syscall")
    registry = CollectorRegistry()
    registry.register(MapMetric(counts, "syscount_calls_total", value_field="count",
                                help="Completed system calls", labels=[label]))
    server, _thread = start_http_server(port, addr=host or "0.0.0.0", registry=registry)
    try:
        bound_host, bound_port = server.server_address[:2]
        print(f"Serving metrics on http://{bound_host!s}:{bound_port}/metrics",
              file=sys.stderr, flush=True)
        interval_loop(None, opts.duration, "syscalls", lambda: None)
    finally:
        server.shutdown()
        server.server_close()


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("syscount", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
