"""profile: a CPU profiler sampling kernel and user stacks, like bcc's profile.

Opens a software cpu-clock perf event on every online CPU, sampling ``-F HZ`` times a second
(default 49), and attaches ``SEC("perf_event")`` ``do_perf_event`` to each. Every sample stores
the interrupted task's user and kernel stacks in a stack trace map (``bpf_get_stackid``) and
counts it under {pid, user stack id, kernel stack id, comm}. At the end (``-d SECONDS`` or
Ctrl-C) the stacks are symbolized with :mod:`libbpf_py.utils.symbols` (kernel: ``/proc/kallsyms``;
user: the ELF symbols of the process's executable and libraries, PIE or not) and printed like
bcc's profile: each stack innermost frame first, then ``- comm (pid)`` and the count; with
``-f`` in folded form for flame graphs (``comm;root;...;leaf count``, user frames then kernel
frames; ``-a`` suffixes kernel frames with ``_[k]``, ``--delimited`` puts ``-`` between the
two; stacks that print the same, differing only in addresses within the same functions, are
shown once with their counts summed); with ``--json`` one object per stored stack, innermost
frame first, each frame's address, symbol, offset and module. User stacks are walked with
frame pointers: code built without them (``-fomit-frame-pointer``, the default at -O2) shows
only its innermost frame. Processes must still be running at the end for their user frames to
be resolved. The settings are ``const volatile`` globals set before load. Written against its
skeleton (``profile_skel``). Needs root (CAP_BPF + CAP_PERFMON).

    python -m libbpf_py profile [-p PID | -L TID] [-U | -K] [-F HZ | -c PERIOD] [-C CPU]
                                [-I] [-f] [-a] [--delimited] [--stack-storage-size N]
                                [-d SECONDS | duration] [--json]
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from typing import Any, Optional, TextIO

from libbpf_py.attach.perf_event import online_cpus
from libbpf_py.utils.symbols import KernelSymbols, Symbol, UserSymbols

from ._common import add_common_args, interval_loop, positive_float, positive_int, run_main
from .profile_skel import Profile

STACK_NOT_COLLECTED = -1000  # profile.bpf.c: a stack -U or -K did not ask for


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="profile", description="Profile CPU usage by sampling "
                                "stack traces at a timed interval.")
    add_common_args(p)
    p.add_argument("-L", "--tid", type=positive_int, default=0, help="only this thread")
    which = p.add_mutually_exclusive_group()
    which.add_argument("-U", "--user-stacks-only", action="store_true",
                       help="user stacks only (no kernel stacks)")
    which.add_argument("-K", "--kernel-stacks-only", action="store_true",
                       help="kernel stacks only (no user stacks)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("-F", "--frequency", type=positive_int, default=None,
                      help="sample this many times a second on each CPU (default 49)")
    rate.add_argument("-c", "--count", type=positive_int, default=None,
                      help="sample every this many nanoseconds of CPU time (cpu-clock period)")
    p.add_argument("-I", "--include-idle", action="store_true",
                   help="include the CPU idle stacks (pid 0)")
    p.add_argument("-f", "--folded", action="store_true",
                   help="folded output for flame graphs: comm;frames... count")
    p.add_argument("-a", "--annotations", action="store_true",
                   help="suffix kernel frames with _[k]")
    p.add_argument("--delimited", action="store_true",
                   help="a '-' between user and kernel stacks (bcc's profile -d)")
    p.add_argument("--stack-storage-size", type=positive_int, default=16384,
                   help="how many distinct stacks can be stored (default 16384)")
    p.add_argument("-C", "--cpu", type=int, default=None, help="sample this CPU only")
    p.add_argument("seconds", nargs="?", type=positive_float, default=None, metavar="duration",
                   help="as -d: stop after this many seconds (bcc's positional duration)")
    opts = p.parse_args(argv)
    if opts.seconds is not None:
        if opts.duration is not None:
            p.error("give the duration once: -d SECONDS or a positional duration")
        opts.duration = opts.seconds
    return opts


def _stack_error(stack_id: int) -> bool:
    """A stack that was wanted but not stored (-ENOMEM: storage full, -EEXIST: collision).
    -EFAULT is no error: the sample had no such stack (a kernel thread has no user stack, a
    sample taken in user mode no kernel stack)."""
    return stack_id < 0 and stack_id not in (-errno.EFAULT, STACK_NOT_COLLECTED)


def _caller(sym: Optional[Symbol]) -> Optional[Symbol]:
    """The symbol of a return address looked up one byte before it, with the offset put back:
    a call that never returns may be a function's last instruction, its return address then
    the next function's first byte."""
    return Symbol(sym.name, sym.offset + 1, sym.module) if sym is not None else None


class _Resolver:
    """Frames of one run: kernel symbols read once, each process's symbols read once.

    Stacks are innermost first: the first address is where the sample hit, the others are
    return addresses (resolved through ``_caller``)."""

    def __init__(self) -> None:
        self._kernel: Optional[KernelSymbols] = None
        self._users: dict[int, Optional[UserSymbols]] = {}

    def kernel(self, addrs: tuple[int, ...]) -> list[tuple[int, Optional[Symbol]]]:
        if not addrs:
            return []
        if self._kernel is None:
            self._kernel = KernelSymbols()
        resolve = self._kernel.resolve
        return [(a, resolve(a) if i == 0 else _caller(resolve(a - 1)))
                for i, a in enumerate(addrs)]

    def user(self, pid: int, addrs: tuple[int, ...]) -> list[tuple[int, Optional[Symbol]]]:
        if not addrs:
            return []
        if pid not in self._users:
            try:
                self._users[pid] = UserSymbols(pid)
            except OSError:  # the process is gone: its frames stay unresolved
                self._users[pid] = None
        syms = self._users[pid]
        if syms is None:
            return [(a, None) for a in addrs]
        return [(a, syms.resolve(a) if i == 0 else _caller(syms.resolve(a - 1)))
                for i, a in enumerate(addrs)]


def _ranges(cpus: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    parts: list[str] = []
    for cpu in cpus:
        if parts and int(parts[-1].rpartition("-")[2]) == cpu - 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{cpu}"
        else:
            parts.append(str(cpu))
    return ",".join(parts)


def _frame_json(addr: int, sym: Optional[Symbol]) -> dict[str, Any]:
    if sym is None:
        return {"address": addr, "symbol": None, "offset": None, "module": None}
    return {"address": addr, "symbol": sym.name, "offset": sym.offset, "module": sym.module}


def run(opts: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """Sample until the duration ends (or Ctrl-C), then print the counted stacks."""
    want_user, want_kernel = not opts.kernel_stacks_only, not opts.user_stacks_only
    freq = opts.frequency if opts.frequency is not None or opts.count is not None else 49
    cpus = online_cpus()
    if opts.cpu is not None:
        if opts.cpu not in cpus:
            raise ValueError(f"CPU {opts.cpu} is not online (online: {_ranges(cpus)})")
        cpus = [opts.cpu]
    with Profile.open() as opened:
        opened.rodata.target_tgid = opts.pid
        opened.rodata.target_tid = opts.tid
        opened.rodata.user_stacks = int(want_user)
        opened.rodata.kernel_stacks = int(want_kernel)
        opened.rodata.include_idle = int(opts.include_idle)
        opened.maps.stack_traces.max_entries = opts.stack_storage_size
        with opened.load() as skel:
            # LIFETIME: each Link owns its perf event fd; detached (and the fds closed) below,
            # or by closing the skeleton if something fails first.
            links = skel.progs.do_perf_event.attach_perf_events(
                sample_freq=freq or 0, sample_period=opts.count or 0, cpus=cpus)
            who = (f"process {opts.pid}" if opts.pid else f"thread {opts.tid}" if opts.tid
                   else "all threads")
            stacks = "user + kernel" if want_user and want_kernel else (
                "user" if want_user else "kernel")
            rate = f"{freq} Hertz" if freq else f"a period of {opts.count} ns"
            where = f" on CPU {opts.cpu}" if opts.cpu is not None else ""
            what = f"{who}{where} at {rate} by {stacks} stacks"

            def report() -> None:
                for link in links:
                    link.detach()
                _print_stacks(skel, opts, want_user, want_kernel, out)

            interval_loop(None, opts.duration, what, report)


def _print_stacks(skel: Profile, opts: argparse.Namespace, want_user: bool,
                  want_kernel: bool, out: TextIO) -> None:
    stack_traces, resolver = skel.maps.stack_traces, _Resolver()
    counts = sorted(skel.maps.counts.items(), key=lambda kv: kv[1])  # like bcc: least first
    missing = 0

    def addrs(stack_id: int) -> tuple[int, ...]:
        if stack_id < 0:
            return ()
        return stack_traces.get(stack_id, ())  # (gone if a collision replaced it)

    merged: dict[str, int] = {}  # printed stack -> count: stacks that differ only in
    # addresses within the same functions print the same, and are shown once
    for key, count in counts:
        pid, comm = key.pid, key.comm.decode(errors="replace")
        user_id, kernel_id = key.user_stack_id, key.kernel_stack_id
        user_err = want_user and _stack_error(user_id)
        kernel_err = want_kernel and _stack_error(kernel_id)
        missing += user_err + kernel_err
        user = resolver.user(pid, addrs(user_id)) if want_user else []
        kernel = resolver.kernel(addrs(kernel_id)) if want_kernel else []
        both = want_user and want_kernel and user_id >= 0 and kernel_id >= 0
        if opts.json:
            record: dict[str, Any] = {"pid": pid, "comm": comm, "count": count}
            if want_user:
                record["user_stack"] = [_frame_json(a, s) for a, s in user]
                record["user_stack_missing"] = user_err
            if want_kernel:
                record["kernel_stack"] = [_frame_json(a, s) for a, s in kernel]
                record["kernel_stack_missing"] = kernel_err
            out.write(json.dumps(record) + "\n")
            continue
        k_suffix = "_[k]" if opts.annotations else ""
        user_names = [s.name if s else "[unknown]" for _a, s in user]
        kernel_names = [(s.name if s else "[unknown]") + k_suffix for _a, s in kernel]
        if opts.folded:  # root first: user frames, then kernel frames
            line = [comm]
            if want_user:
                line.extend(["[Missed User Stack]"] if user_err else reversed(user_names))
            if want_kernel:
                if opts.delimited and both:
                    line.append("-")
                line.extend(["[Missed Kernel Stack]"] if kernel_err else reversed(kernel_names))
            text = ";".join(line)
        else:  # innermost first: kernel frames, then user frames
            lines: list[str] = []
            if want_kernel:
                lines.extend(["[Missed Kernel Stack]"] if kernel_err else kernel_names)
            if want_user:
                if opts.delimited and both:
                    lines.append("--")
                lines.extend(["[Missed User Stack]"] if user_err else user_names)
            lines.append(f"{'-':<16} {comm} ({pid})")
            text = "".join(f"    {x}\n" for x in lines)
        merged[text] = merged.get(text, 0) + count
    for text, count in sorted(merged.items(), key=lambda kv: kv[1]):
        out.write(f"{text} {count}\n" if opts.folded else f"{text}        {count}\n\n")
    out.flush()
    if missing:
        print(f"WARNING: {missing} stack traces could not be displayed. Consider increasing "
              "--stack-storage-size.", file=sys.stderr)


def main(argv: Optional[list[str]] = None) -> int:
    return run_main("profile", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
