"""execsnoop: trace exec() calls system-wide, one line per exec, like bcc's execsnoop.

Attaches to the ``syscalls:sys_enter_execve`` / ``sys_exit_execve`` tracepoints and streams one
ring buffer event per exec: a variable-length record, the fixed part of ``struct event`` then as
many bytes of arguments as were read, consumed with ``tail=True``. The filters are ``const
volatile`` globals set before load. Written against its skeleton (``execsnoop_skel``). Needs root
(CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py execsnoop [-p PID] [-d SECONDS] [--json] [-x] [-T]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Optional, TextIO

import libbpf_py

from ._common import add_common_args, ensure_tracefs, poll_until, run_main
from .execsnoop_skel import Event, Execsnoop


def decode(event: Event, tail: bytes) -> dict[str, Any]:
    """One record (its fixed part and the bytes of its arguments) -> a dict (pid, ppid, uid,
    ret, comm, args)."""
    args = [a.decode(errors="replace")
            for a in tail[:event.args_size].split(b"\0")[:event.args_count]]
    return {"pid": event.pid, "ppid": event.ppid, "uid": event.uid, "ret": event.retval,
            "comm": event.comm.decode(errors="replace"), "args": args}


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="execsnoop", description="Trace exec() syscalls.")
    add_common_args(p)
    p.add_argument("-x", "--fails", action="store_true", help="include failed execs")
    p.add_argument("-T", "--time", action="store_true", help="print a timestamp column")
    return p.parse_args(argv)


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Trace until the duration ends (or Ctrl-C); returns the number of events printed."""
    ensure_tracefs()
    printed = 0

    def on_event(event: Event, tail: bytes) -> None:
        nonlocal printed
        ev = decode(event, tail)
        if opts.json:
            ev["time"] = time.time()
            out.write(json.dumps(ev) + "\n")
        else:
            stamp = time.strftime("%H:%M:%S ") if opts.time else ""
            out.write(f"{stamp}{ev['comm']:<16} {ev['pid']:<7} {ev['ppid']:<7} {ev['ret']:>3} "
                      f"{' '.join(ev['args'])}\n")
        out.flush()
        printed += 1

    def header() -> None:
        if not opts.json:
            stamp = f"{'TIME':<9}" if opts.time else ""
            out.write(f"{stamp}{'PCOMM':<16} {'PID':<7} {'PPID':<7} {'RET':>3} ARGS\n")
            out.flush()

    with Execsnoop.open() as opened:
        opened.rodata.targ_tgid = opts.pid
        opened.rodata.ignore_failed = not opts.fails
        skel = opened.load()
    with skel:
        skel.attach()
        with libbpf_py.RingBuffer(skel.maps.events, on_event, event_type=Event,
                                  tail=True) as rb:
            poll_until(rb, opts.duration, "exec()", header)
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("execsnoop", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
