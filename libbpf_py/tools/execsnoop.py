"""execsnoop: trace exec() calls system-wide, one line per exec, like bcc's execsnoop.

Attaches to the ``syscalls:sys_enter_execve`` / ``sys_exit_execve`` tracepoints and streams one
ring buffer event per exec. Needs root (CAP_BPF + CAP_PERFMON) and tracefs.

    python -m libbpf_py execsnoop [-p PID] [-d SECONDS] [--json] [-x] [-T]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
from typing import Any, Optional, TextIO

import libbpf_py

from . import object_path

HEADER = struct.Struct("=IIIiII16s")  # struct event up to args (execsnoop.h)
TRACEFS = "/sys/kernel/tracing"


def decode(data: memoryview) -> dict[str, Any]:
    """One ring buffer record -> a dict (pid, ppid, uid, ret, comm, args)."""
    pid, ppid, uid, ret, argc, size, comm = HEADER.unpack_from(data)
    raw = bytes(data[HEADER.size: HEADER.size + size])
    args = [a.decode(errors="replace") for a in raw.split(b"\0")[:argc]]
    return {"pid": pid, "ppid": ppid, "uid": uid, "ret": ret,
            "comm": comm.split(b"\0", 1)[0].decode(errors="replace"), "args": args}


def _ensure_tracefs() -> None:
    if not os.path.isdir(os.path.join(TRACEFS, "events")) and os.geteuid() == 0:
        os.system(f"mount -t tracefs nodev {TRACEFS} 2>/dev/null")


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="execsnoop", description="Trace exec() syscalls.")
    p.add_argument("-p", "--pid", type=int, default=0, help="only execs by this process")
    p.add_argument("-d", "--duration", type=float, default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("-x", "--fails", action="store_true", help="include failed execs")
    p.add_argument("-T", "--time", action="store_true", help="print a timestamp column")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    return p.parse_args(argv)


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Trace until the duration ends (or Ctrl-C); returns the number of events printed."""
    _ensure_tracefs()
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

    with libbpf_py.load(object_path("execsnoop")) as obj:
        obj.maps["config"][0] = opts.pid
        obj.attach()
        with libbpf_py.RingBuffer(obj.maps["events"], on_event) as rb:
            print("Tracing exec()... Hit Ctrl-C to end.", file=sys.stderr, flush=True)
            if not opts.json:
                stamp = f"{'TIME':<9}" if opts.time else ""
                out.write(f"{stamp}{'PCOMM':<16} {'PID':<7} {'PPID':<7} {'RET':>3} ARGS\n")
                out.flush()
            deadline = None if opts.duration is None else time.monotonic() + opts.duration
            try:
                while deadline is None or time.monotonic() < deadline:
                    left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                    rb.poll(timeout=max(left, 0))
                rb.consume()
            except KeyboardInterrupt:
                pass
    return printed


def main(argv: Optional[list[str]] = None) -> int:
    opts = parse_args(argv)
    try:
        run(opts)
    except (libbpf_py.BpfError, FileNotFoundError) as e:
        print(f"execsnoop: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
