"""execsnoop: trace exec() calls system-wide, one line per exec, like bcc's execsnoop.

Attaches to the ``syscalls:sys_enter_execve`` / ``sys_exit_execve`` tracepoints and streams one
ring buffer event per exec. Needs root (CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py execsnoop [-p PID] [-d SECONDS] [--json] [-x] [-T]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from typing import Any, Optional, TextIO

import libbpf_py

from . import object_path
from ._common import add_common_args, cstr, ensure_tracefs, poll_until, run_main

HEADER = struct.Struct("=IIIiII16s")  # struct event up to args (execsnoop.h)


def decode(data: memoryview) -> dict[str, Any]:
    """One ring buffer record -> a dict (pid, ppid, uid, ret, comm, args)."""
    pid, ppid, uid, ret, argc, size, comm = HEADER.unpack_from(data)
    raw = bytes(data[HEADER.size: HEADER.size + size])
    args = [a.decode(errors="replace") for a in raw.split(b"\0")[:argc]]
    return {"pid": pid, "ppid": ppid, "uid": uid, "ret": ret,
            "comm": cstr(comm), "args": args}


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

    def on_event(data: memoryview) -> None:
        nonlocal printed
        ev = decode(data)
        if ev["ret"] != 0 and not opts.fails:
            return
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

    with libbpf_py.load(object_path("execsnoop")) as obj:
        obj.maps["config"][0] = opts.pid
        obj.attach()
        with libbpf_py.RingBuffer(obj.maps["events"], on_event) as rb:
            poll_until(rb, opts.duration, "exec()", header)
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("execsnoop", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
