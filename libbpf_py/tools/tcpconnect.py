"""tcpconnect: trace active TCP connections (connect()), like bcc's tcpconnect.

Attaches to the ``sock:inet_sock_set_state`` tracepoint: a socket entering SYN_SENT names the
connecting process, and leaving SYN_SENT (established, or closed for a failed attempt) gives
the ports, addresses, outcome and connect latency, streamed through a ring buffer and decoded
into the skeleton's ``Event``. The filters are ``const volatile`` globals set before load. Written
against its skeleton (``tcpconnect_skel``). Needs root (CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py tcpconnect [-p PID] [-P PORT] [-4|-6] [-L] [-l] [-t] [-U] [-x]
                                   [-d SECONDS] [--json]
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
from .tcpconnect_skel import Event, Tcpconnect

TCP_ESTABLISHED = 1


def address(family: int, raw: Any) -> str:
    """A ``__u8 addr[16]`` member (IPv4: its first 4 bytes) -> its text form."""
    return socket.inet_ntop(family, bytes(raw)[:16 if family == socket.AF_INET6 else 4])


def decode(event: Event) -> dict[str, Any]:
    """One event -> a dict (pid, uid, comm, ip, saddr, sport, daddr, dport, established,
    latency_ns)."""
    family = event.family
    return {"pid": event.pid, "uid": event.uid, "comm": event.comm.decode(errors="replace"),
            "ip": 6 if family == socket.AF_INET6 else 4,
            "saddr": address(family, event.saddr), "sport": event.sport,
            "daddr": address(family, event.daddr), "dport": event.dport,
            "established": event.newstate == TCP_ESTABLISHED, "latency_ns": event.delta_ns}


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tcpconnect", description="Trace TCP connect()s.")
    add_common_args(p)
    p.add_argument("-P", "--port", type=port, default=0, help="only this destination port")
    fam = p.add_mutually_exclusive_group()
    fam.add_argument("-4", "--ipv4", action="store_true", help="only IPv4")
    fam.add_argument("-6", "--ipv6", action="store_true", help="only IPv6")
    p.add_argument("-L", "--lport", action="store_true", help="print the local port (LPORT)")
    p.add_argument("-l", "--latency", action="store_true", help="print the connect latency")
    p.add_argument("-t", "--timestamp", action="store_true", help="print a TIME(s) column")
    p.add_argument("-U", "--print-uid", action="store_true", help="print a UID column")
    p.add_argument("-x", "--failed", action="store_true",
                   help="only attempts that did not establish a connection")
    return p.parse_args(argv)


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Trace until the duration ends (or Ctrl-C); returns the number of events printed."""
    ensure_tracefs()
    printed = 0
    t0 = None

    def on_event(event: Event) -> None:
        nonlocal printed, t0
        ev = decode(event)
        if opts.failed and ev["established"]:
            return
        if opts.json:
            out.write(json.dumps(ev) + "\n")
        else:
            now = time.monotonic()
            t0 = now if t0 is None else t0
            line = f"{now - t0:<9.3f}" if opts.timestamp else ""
            line += f"{ev['uid']:<6} " if opts.print_uid else ""
            line += f"{ev['pid']:<6} {ev['comm'][:12]:<12} {ev['ip']:<2} {ev['saddr']:<16} "
            line += f"{ev['sport']:<6} " if opts.lport else ""
            line += f"{ev['daddr']:<16} {ev['dport']:<5}"
            line += f" {ev['latency_ns'] / 1e6:.3f}" if opts.latency else ""
            out.write(line.rstrip() + "\n")
        out.flush()
        printed += 1

    def header() -> None:
        if not opts.json:
            head = f"{'TIME(s)':<9}" if opts.timestamp else ""
            head += f"{'UID':<6} " if opts.print_uid else ""
            head += f"{'PID':<6} {'COMM':<12} {'IP':<2} {'SADDR':<16} "
            head += f"{'LPORT':<6} " if opts.lport else ""
            head += f"{'DADDR':<16} {'DPORT':<5}"
            head += " LAT(ms)" if opts.latency else ""
            out.write(head.rstrip() + "\n")
            out.flush()

    with Tcpconnect.open() as opened:
        opened.rodata.targ_tgid = opts.pid
        opened.rodata.targ_family = (socket.AF_INET if opts.ipv4 else
                                     socket.AF_INET6 if opts.ipv6 else 0)
        opened.rodata.targ_dport = opts.port
        skel = opened.load()
    with skel:
        skel.attach()
        with libbpf_py.RingBuffer(skel.maps.events, on_event, event_type=Event) as rb:
            poll_until(rb, opts.duration, "TCP connects", header)
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("tcpconnect", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
