"""tcplife: one line per closed TCP session, with its bytes and lifespan, like bcc's tcplife.

Uses only the ``sock:inet_sock_set_state`` tracepoint (no kprobes): the socket's birth is
stamped in its early states, the owning process is named when it connects (SYN_SENT) or closes
after the peer (LAST_ACK), and on CLOSE the byte counters of ``struct tcp_sock`` (read with
CO-RE) and the lifespan are streamed through a ring buffer. Sessions that started before the
tool are not shown. The byte counts are the kernel's (``tcp_info``'s ``bytes_acked`` and
``bytes_received``, as bcc shows them): they include the sequence numbers of FIN, and of SYN
on the connecting side. Needs root (CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py tcplife [-p PID] [-L PORT] [-D PORT] [-4|-6] [-w] [-T] [-d SECONDS]
                                [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
from typing import Any, Optional, TextIO

import libbpf_py

from . import object_path
from ._common import add_common_args, cstr, ensure_tracefs, poll_until, port, run_main

EVENT = struct.Struct("=QQQIHHH16s16s16s")  # struct event (tcplife.bpf.c)
CFG_PID, CFG_FAMILY, CFG_LPORT, CFG_RPORT = range(4)


def decode(data: memoryview) -> dict[str, Any]:
    """One ring buffer record -> a dict (pid, comm, ip, laddr, lport, raddr, rport, tx_bytes,
    rx_bytes, span_ns)."""
    span, rx, tx, pid, family, lport, rport, laddr, raddr, comm = EVENT.unpack_from(data)
    size = 16 if family == socket.AF_INET6 else 4
    return {"pid": pid, "comm": cstr(comm), "ip": 6 if size == 16 else 4,
            "laddr": socket.inet_ntop(family, laddr[:size]), "lport": lport,
            "raddr": socket.inet_ntop(family, raddr[:size]), "rport": rport,
            "tx_bytes": tx, "rx_bytes": rx, "span_ns": span}


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tcplife", description="Trace TCP sessions and summarize "
                                "their lifespan and throughput.")
    add_common_args(p)
    p.add_argument("-L", "--localport", type=port, default=0, help="only this local port")
    p.add_argument("-D", "--remoteport", type=port, default=0, help="only this remote port")
    fam = p.add_mutually_exclusive_group()
    fam.add_argument("-4", "--ipv4", action="store_true", help="only IPv4")
    fam.add_argument("-6", "--ipv6", action="store_true", help="only IPv6")
    p.add_argument("-w", "--wide", action="store_true", help="wide columns (fit IPv6 addresses)")
    p.add_argument("-T", "--time", action="store_true", help="print a TIME (HH:MM:SS) column")
    return p.parse_args(argv)


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Trace until the duration ends (or Ctrl-C); returns the number of events printed."""
    ensure_tracefs()
    printed = 0
    # bcc's columns: narrow by default, IPv6-wide with -w
    addr_w, comm_w = (39, 12) if opts.wide else (15, 10)

    def on_event(data: memoryview) -> None:
        nonlocal printed
        ev = decode(data)
        if opts.json:
            out.write(json.dumps(ev) + "\n")
        else:
            line = f"{time.strftime('%H:%M:%S')} " if opts.time else ""
            line += (f"{ev['pid']:<5} {ev['comm'][:comm_w]:<{comm_w}} "
                     f"{ev['laddr']:<{addr_w}} {ev['lport']:<5} "
                     f"{ev['raddr']:<{addr_w}} {ev['rport']:<5} "
                     f"{ev['tx_bytes'] // 1024:>5} {ev['rx_bytes'] // 1024:>5} "
                     f"{ev['span_ns'] / 1e6:.2f}")
            out.write(line + "\n")
        out.flush()
        printed += 1

    def header() -> None:
        if not opts.json:
            head = f"{'TIME':<8} " if opts.time else ""
            head += (f"{'PID':<5} {'COMM':<{comm_w}} {'LADDR':<{addr_w}} {'LPORT':<5} "
                     f"{'RADDR':<{addr_w}} {'RPORT':<5} {'TX_KB':>5} {'RX_KB':>5} MS")
            out.write(head + "\n")
            out.flush()

    with libbpf_py.load(object_path("tcplife")) as obj:
        config = obj.maps["config"]
        config[CFG_PID] = opts.pid
        config[CFG_FAMILY] = (socket.AF_INET if opts.ipv4 else
                              socket.AF_INET6 if opts.ipv6 else 0)
        config[CFG_LPORT] = opts.localport
        config[CFG_RPORT] = opts.remoteport
        obj.attach()
        with libbpf_py.RingBuffer(obj.maps["events"], on_event) as rb:
            poll_until(rb, opts.duration, "TCP sessions", header)
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("tcplife", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
