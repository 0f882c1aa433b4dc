"""Reading the kernel's trace pipe (``bpf_printk()`` output) from Python.

``TracePipe`` opens ``<tracefs>/trace_pipe`` and yields ``TraceLine``s: task, pid, cpu, flags,
timestamp and message (``bpf_trace_printk: `` prefix removed). Reading consumes the lines: the
kernel's global trace pipe is one buffer, drained by every reader (``cat trace_pipe``, bpftool,
another tool). ``TracePipe(private=True)`` (or ``instance="name"``) reads a tracefs instance of
its own instead (``instances/<name>``, a buffer of its own with the ``bpf_trace_printk`` event
enabled): it sees every ``bpf_printk()`` line and drains nobody else's; the instance is removed
on ``close()``. Needs root and tracefs.
"""

from __future__ import annotations

import os
import select

from ..errors import Closeable
from ..features import tracefs_path

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


class TracePipe(Closeable):
    """The kernel trace pipe, read line by line:
    ``with TracePipe() as tp: for ln in tp.lines(): ...``.

    ``TracePipe()`` reads the global pipe (shared: every reader drains it). ``private=True``
    makes a tracefs instance of its own, named ``libbpf_py-<pid>-<n>``; ``instance="name"``
    uses (or makes) ``instances/<name>``. In an instance the ``bpf_trace/bpf_trace_printk``
    event is enabled, so ``bpf_printk()`` lines arrive there as well as in the global buffer
    (the kernel enables the event there when a program using it loads). An instance this
    TracePipe made is removed by ``close()``. ``path`` opens another file instead.
    """

    _made = 0  # instances made by this process (names)

    def __init__(self, path: Optional[str] = None, *, private: bool = False,
                 instance: Optional[str] = None) -> None:
        self._fd = -1
        self._buf = b""
        self.instance: Optional[str] = None  #: the instance's directory, if any
        self._remove = False  # whether close() removes self.instance (we made it)
        if private or instance is not None:
            if path is not None:
                raise ValueError("give path=, or private=/instance=, not both")
            if private and instance is None:
                TracePipe._made += 1
                instance = f"libbpf_py-{os.getpid()}-{TracePipe._made}"
            path = self._make_instance(str(instance))
        elif path is None:
            path = os.path.join(_tracefs(), "trace_pipe")
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except BaseException:
            self._remove_instance()
            raise

    def _make_instance(self, name: str) -> str:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"tracefs instance name {name!r} is not a directory name")
        where = os.path.join(_tracefs(), "instances", name)
        try:
            os.mkdir(where)
            self._remove = True
        except FileExistsError:
            pass  # someone's instance: read it, leave it
        self.instance = where
        try:
            with open(os.path.join(where, "events", "bpf_trace", "bpf_trace_printk", "enable"),
                      "w") as f:
                f.write("1")
        except BaseException:
            self._remove_instance()
            raise
        return os.path.join(where, "trace_pipe")

    def _remove_instance(self) -> None:
        where, remove = self.instance, self._remove
        self._remove = False
        if where is not None and remove:
            try:
                os.rmdir(where)  # tracefs removes an instance (its files included) this way
            except FileNotFoundError:
                pass

    def fileno(self) -> int:
        """The trace pipe's fd (readable when lines are ready)."""
        if self._fd < 0:
            from ..errors import ClosedError

            raise ClosedError("trace pipe is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

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
        """Close the trace pipe, and remove the instance it made; idempotent."""
        fd, self._fd = self._fd, -1
        try:
            if fd >= 0:
                os.close(fd)
        finally:
            self._remove_instance()

    def __enter__(self) -> TracePipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _left_open(self) -> bool:  # Closeable's finalizer
        return self._fd >= 0 or bool(self._remove)

    def __repr__(self) -> str:
        where = f" instance {self.instance}" if self.instance else ""
        return f"<TracePipe{where}{' closed' if self._fd < 0 else ''}>"


def _tracefs() -> str:
    tracefs = tracefs_path()
    if tracefs is None:
        raise FileNotFoundError("tracefs is not mounted (mount -t tracefs nodev "
                                "/sys/kernel/tracing)")
    return tracefs
