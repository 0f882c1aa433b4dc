"""opensnoop: trace open() system calls system-wide, one line per open, like bcc's opensnoop.

Attaches to the ``syscalls:sys_enter_open{,at,at2}`` / ``sys_exit_*`` tracepoints (``open`` only
where the architecture has it) and streams one ring buffer event per call, decoded into the
skeleton's ``Event``. The filters are ``const volatile`` globals set before load. Written against
its skeleton (``opensnoop_skel``). Needs root (CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py opensnoop [-p PID] [-d SECONDS] [-x] [-n NAME] [-T] [-U] [-e] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, TextIO

import libbpf_py

from ._common import add_common_args, ensure_tracefs, has_tracepoint, poll_until, run_main
from .opensnoop_skel import Event, Opensnoop


def decode(event: Event) -> dict[str, Any]:
    """One event -> a dict (pid, tid, uid, comm, fd, err, flags, path, ts_ns)."""
    ret = event.ret
    return {"ts_ns": event.ts_ns, "pid": event.pid, "tid": event.tid, "uid": event.uid,
            "comm": event.comm.decode(errors="replace"), "fd": ret if ret >= 0 else -1,
            "err": -ret if ret < 0 else 0, "flags": event.flags,
            "path": event.fname.decode(errors="replace")}


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="opensnoop", description="Trace open() system calls.")
    add_common_args(p)
    p.add_argument("-x", "--failed", action="store_true", help="only failed opens")
    p.add_argument("-n", "--name", default=None,
                   help="only processes whose name (comm) contains this")
    p.add_argument("-T", "--timestamp", action="store_true",
                   help="print a TIME(s) column (seconds since the first event)")
    p.add_argument("-U", "--print-uid", action="store_true", help="print a UID column")
    p.add_argument("-e", "--extended-fields", action="store_true",
                   help="print the open flags (octal)")
    return p.parse_args(argv)


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Trace until the duration ends (or Ctrl-C); returns the number of events printed."""
    ensure_tracefs()
    printed = 0
    first_ts = 0

    def on_event(event: Event) -> None:
        nonlocal printed, first_ts
        ev = decode(event)
        if opts.name and opts.name not in ev["comm"]:
            return
        if opts.json:
            out.write(json.dumps(ev) + "\n")
        else:
            first_ts = first_ts or ev["ts_ns"]
            line = f"{(ev['ts_ns'] - first_ts) / 1e9:<14.9f} " if opts.timestamp else ""
            line += f"{ev['uid']:<6} " if opts.print_uid else ""
            line += f"{ev['pid']:<6} {ev['comm']:<16} {ev['fd']:>4} {ev['err']:>3} "
            line += f"{ev['flags']:08o} " if opts.extended_fields else ""
            out.write(line + ev["path"] + "\n")
        out.flush()
        printed += 1

    def header() -> None:
        if not opts.json:
            head = f"{'TIME(s)':<14} " if opts.timestamp else ""
            head += f"{'UID':<6} " if opts.print_uid else ""
            head += f"{'PID':<6} {'COMM':<16} {'FD':>4} {'ERR':>3} "
            head += f"{'FLAGS':<8} " if opts.extended_fields else ""
            out.write(head + "PATH\n")
            out.flush()

    with Opensnoop.open() as opened:
        progs = opened.progs
        for call, enter, leave in (("open", progs.on_open_enter, progs.on_open_exit),
                                   ("openat", progs.on_openat_enter, progs.on_openat_exit),
                                   ("openat2", progs.on_openat2_enter, progs.on_openat2_exit)):
            # open(2) is x86_64-only; openat2 needs Linux 5.6
            if not has_tracepoint("syscalls", f"sys_enter_{call}"):
                enter.autoload = leave.autoload = False
        opened.rodata.targ_tgid = opts.pid
        opened.rodata.targ_failed = opts.failed
        skel = opened.load()
    with skel:
        skel.attach()
        with libbpf_py.RingBuffer(skel.maps.events, on_event, event_type=Event) as rb:
            poll_until(rb, opts.duration, "open() syscalls", header)
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("opensnoop", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
