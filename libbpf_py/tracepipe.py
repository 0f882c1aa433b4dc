"""Reading the kernel's trace pipe (``bpf_printk()`` output) from Python.

``TracePipe`` opens ``<tracefs>/trace_pipe`` and yields ``TraceLine``s: task, pid, cpu, flags,
timestamp and message (``bpf_trace_printk: `` prefix removed). Reading consumes the lines: the
kernel has one trace pipe, shared by every reader. Needs root and tracefs.
"""

from __future__ import annotations

import os
import select

from .features import tracefs_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Optional

__all__ = ["TraceLine", "TracePipe", "parse_line"]

_PRINTK = "bpf_trace_printk: "


class TraceLine(tuple):
    """One trace line: ``task``, ``pid``, ``cpu``, ``flags``, ``timestamp`` (s), ``message``."""

    __slots__ = ()
    task = property(lambda self: self[0])
    pid = property(lambda self: self[1])
    cpu = property(lambda self: self[2])
    flags = property(lambda self: self[3])
    timestamp = property(lambda self: self[4])
    message = property(lambda self: self[5])

    def __repr__(self) -> str:
        return (f"TraceLine(task={self.task!r}, pid={self.pid}, cpu={self.cpu}, "
                f"timestamp={self.timestamp}, message={self.message!r})")


def parse_line(line: str) -> Optional[TraceLine]:
    """Parse ``"  task-123  [001] d..31  5.123456: bpf_trace_printk: msg"``; None if it isn't
    one."""
    head, sep, message = line.rstrip("\n").partition(": ")
    if not sep:
        return None
    try:
        left, ts = head.rsplit(None, 1)
        task_pid, rest = left.split("[", 1)
        cpu_s, flags = rest.split("]", 1)
        task, _, pid_s = task_pid.strip().rpartition("-")
        result = (task, int(pid_s), int(cpu_s), flags.strip(), float(ts))
    except ValueError:
        return None
    if message.startswith(_PRINTK):
        message = message[len(_PRINTK):]
    return TraceLine((*result, message))


class TracePipe:
    """The kernel trace pipe, read line by line:
    ``with TracePipe() as tp: for ln in tp.lines(): ...``."""

    def __init__(self, path: Optional[str] = None) -> None:
        if path is None:
            tracefs = tracefs_path()
            if tracefs is None:
                raise FileNotFoundError("tracefs is not mounted (mount -t tracefs nodev "
                                        "/sys/kernel/tracing)")
            path = os.path.join(tracefs, "trace_pipe")
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._buf = b""

    def fileno(self) -> int:
        """The trace pipe's fd (readable when lines are ready)."""
        if self._fd < 0:
            from .errors import ClosedError

            raise ClosedError("trace pipe is closed")
        return self._fd

    def lines(self, timeout: Optional[float] = None) -> Iterator[TraceLine]:
        """Yield parsed lines until ``timeout`` seconds pass with nothing to read (None:
        forever)."""
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                parsed = parse_line(raw.decode(errors="replace"))
                if parsed is not None:
                    yield parsed
            if not select.select([self.fileno()], [], [], timeout)[0]:
                return
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return
            self._buf += chunk

    def close(self) -> None:
        """Close the trace pipe; idempotent."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> TracePipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
