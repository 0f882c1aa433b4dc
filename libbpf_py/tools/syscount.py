"""syscount: count system calls per syscall or per process, like bcc's syscount.

Attaches to ``raw_syscalls:sys_enter`` / ``sys_exit``; counts (and with ``-L`` the total time
of) completed calls in a hash map, printed every interval as a top-N table. Syscall names come
from the table of this machine's architecture (``syscalls.py``: x86_64, aarch64). Needs root
(CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py syscount [-p PID] [-i SECONDS] [-d SECONDS] [-T TOP] [-x] [-e ERRNO]
                                 [-L [-m]] [-P] [-l] [--json] [--prometheus [HOST]:PORT]
"""

from __future__ import annotations

import argparse
import errno
import json
import struct
import sys
import time
from typing import Any, Optional, TextIO

import libbpf_py

from . import object_path
from ._common import (add_common_args, cstr, ensure_tracefs, interval_loop, positive_float,
                      positive_int, run_main)
from .syscalls import syscall_name, syscall_names

DATA = struct.Struct("=QQ16s")  # struct data (syscount.bpf.c)
CFG_PID, CFG_FAILED, CFG_BY_PROCESS, CFG_LATENCY, CFG_ERRNO = range(5)


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


def read_counts(counts: libbpf_py.Map, *, clear: bool = True) -> dict[int, tuple[int, int, str]]:
    """key (syscall number or pid) -> (count, total_ns, comm), optionally clearing the map."""
    rows = {}
    for key, value in list(counts.items()):
        # bytes(): the raw struct, whether the map hands back bytes or a BTF-typed structure
        n, total, comm = DATA.unpack(bytes(value))
        rows[key] = (n, total, cstr(comm))
        if clear:
            counts.pop(key, None)
    return rows


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Count until the duration ends (or Ctrl-C), printing a table every interval."""
    if opts.list:
        for nr, name in sorted(syscall_names().items()):
            out.write(f"{nr:<6} {name}\n")
        return
    ensure_tracefs()
    syscall_names()  # fail early on an architecture without a table
    unit, div = ("ms", 1e6) if opts.milliseconds else ("us", 1e3)

    with libbpf_py.load(object_path("syscount")) as obj:
        config = obj.maps["config"]
        config[CFG_PID] = opts.pid
        config[CFG_FAILED] = int(opts.failures)
        config[CFG_BY_PROCESS] = int(opts.process)
        config[CFG_LATENCY] = int(opts.latency)
        config[CFG_ERRNO] = opts.errno
        counts = obj.maps["counts"]
        obj.attach()
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


def serve_prometheus(opts: argparse.Namespace, counts: libbpf_py.Map) -> None:
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
