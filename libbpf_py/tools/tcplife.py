"""tcplife: one line per closed TCP session, with its bytes and lifespan, like bcc's tcplife.

Uses only the ``sock:inet_sock_set_state`` tracepoint (no kprobes): the socket's birth is
stamped in its early states, the owning process is named when it connects (SYN_SENT) or closes
after the peer (LAST_ACK), and on CLOSE the byte counters of ``struct tcp_sock`` (read with
CO-RE) and the lifespan are streamed through a ring buffer. Sessions that started before the
tool are not shown. The byte counts are the kernel's (``tcp_info``'s ``bytes_acked`` and
``bytes_received``, as bcc shows them): they include the sequence numbers of FIN, and of SYN
on the connecting side. Events decode into the skeleton's ``Event``; the filters are ``const
volatile`` globals set before load. Written against its skeleton (``tcplife_skel``). Needs root
(CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py tcplife [-p PID] [-L PORT] [-D PORT] [-4|-6] [-w] [-T] [-d SECONDS]
                                [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any, Optional, TextIO

import libbpf_py

from ._common import add_common_args, ensure_tracefs, poll_until, port, run_main
from .tcpconnect import address
from .tcplife_skel import Event, Tcplife


def decode(event: Event) -> dict[str, Any]:
    """One event -> a dict (pid, comm, ip, laddr, lport, raddr, rport, tx_bytes, rx_bytes,
    span_ns)."""
    family = event.family
    return {"pid": event.pid, "comm": event.comm.decode(errors="replace"),
            "ip": 6 if family == socket.AF_INET6 else 4,
            "laddr": address(family, event.laddr), "lport": event.lport,
            "raddr": address(family, event.raddr), "rport": event.rport,
            "tx_bytes": event.tx_bytes, "rx_bytes": event.rx_bytes, "span_ns": event.span_ns}


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

    def on_event(event: Event) -> None:
        nonlocal printed
        ev = decode(event)
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

    with Tcplife.open() as opened:
        opened.rodata.targ_tgid = opts.pid
        opened.rodata.targ_family = (socket.AF_INET if opts.ipv4 else
                                     socket.AF_INET6 if opts.ipv6 else 0)
        opened.rodata.targ_lport = opts.localport
        opened.rodata.targ_rport = opts.remoteport
        skel = opened.load()
    with skel:
        skel.attach()
        with libbpf_py.RingBuffer(skel.maps.events, on_event, event_type=Event) as rb:
            poll_until(rb, opts.duration, "TCP sessions", header)
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("tcplife", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
