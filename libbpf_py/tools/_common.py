"""Pieces every built-in tool shares: tracefs, the argument conventions, the main loops."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional

import libbpf_py
from libbpf_py.features import tracefs_path

TRACEFS = "/sys/kernel/tracing"


def ensure_tracefs() -> None:
    """Mount tracefs at /sys/kernel/tracing when it is mounted nowhere and we are root."""
    if tracefs_path() is None and os.geteuid() == 0:
        os.system(f"mount -t tracefs nodev {TRACEFS} 2>/dev/null")


def has_tracepoint(category: str, name: str) -> bool:
    """Whether tracepoint ``category:name`` exists on this kernel (tracefs)."""
    tracefs = tracefs_path()
    return tracefs is not None and os.path.isdir(os.path.join(tracefs, "events", category, name))


def positive_int(text: str) -> int:
    """argparse type: an integer > 0 (pids, ports)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def port(text: str) -> int:
    """argparse type: a TCP/UDP port number (1..65535)."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (1..65535), not {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def add_common_args(p: argparse.ArgumentParser, *, pid: bool = True) -> None:
    """-p PID, -d SECONDS, --json: the options every tool takes."""
    if pid:
        p.add_argument("-p", "--pid", type=positive_int, default=0,
                       help="only this process (tgid)")
    p.add_argument("-d", "--duration", type=positive_float, default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def announce(what: str) -> None:
    """Tell the user (on stderr) that the programs are attached: tests wait for this line."""
    print(f"Tracing {what}... Hit Ctrl-C to end.", file=sys.stderr, flush=True)


@contextlib.contextmanager
def ctrl_c_stops() -> Iterator[threading.Event]:
    """An Event that Ctrl-C (SIGINT) sets, instead of raising KeyboardInterrupt mid-callback.

    A KeyboardInterrupt raised inside a ring buffer callback would lose that record; with this
    handler the main loop sees the request between polls and drains what already arrived.
    Outside the main thread (no signal handlers there) the Event is simply never set.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = signal.signal(signal.SIGINT, lambda _sig, _frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, old)


def poll_until(rb: libbpf_py.RingBuffer, duration: Optional[float], what: str,
               ready: Optional[Callable[[], None]] = None) -> None:
    """Announce ``what``, call ``ready()`` (print headers), then poll ``rb`` until ``duration``
    seconds have passed or Ctrl-C, and drain it."""
    deadline = None if duration is None else time.monotonic() + duration
    with ctrl_c_stops() as stop:
        announce(what)
        if ready is not None:
            ready()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            rb.poll(timeout=max(left, 0))  # a signal ends the wait early (EINTR)
    rb.consume()  # what arrived before the end


def interval_loop(interval: Optional[float], duration: Optional[float], what: str,
                  report: Callable[[], None], count: Optional[int] = None) -> None:
    """Announce ``what``, then call ``report()`` every ``interval`` seconds (if given), like
    bcc's tools: ``count`` reports and stop, or until ``duration`` seconds have passed or Ctrl-C,
    which end with a last report of what was counted since the previous one."""
    deadline = None if duration is None else time.monotonic() + duration
    done = 0
    with ctrl_c_stops() as stop:
        announce(what)
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            last = left is not None and (not interval or left <= interval)
            if stop.wait(left if last else interval):
                break  # Ctrl-C
            if last:
                break
            report()
            done += 1
            if count is not None and done >= count:
                return
    report()


def run_main(name: str, run: Callable[[Any], Any], opts: Any) -> int:
    """Run a tool; errors a user can act on become one line on stderr and exit status 1."""
    try:
        run(opts)
    except KeyboardInterrupt:  # Ctrl-C outside the main loop (which ends on it quietly)
        return 0
    except BrokenPipeError:  # `... | head`: the reader is gone, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (libbpf_py.BpfError, FileNotFoundError, ValueError) as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    return 0
