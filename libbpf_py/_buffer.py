"""What the kernel-to-user event buffers share: waiting on an epoll fd, poll/consume, asyncio.

``RingBuffer`` and ``PerfBuffer`` subclass ``PolledBuffer`` and provide ``consume()``, ``read()``,
``fileno()``, ``_has_data()`` and ``close()``; waiting uses poll(2) on libbpf's epoll fd, which
releases the GIL and lets Python run signal handlers (Ctrl-C) between waits.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["PolledBuffer", "wait_readable"]


async def wait_readable(fd: int) -> None:
    """Wait until ``fd`` is readable, with the running event loop's reader (no thread)."""
    import asyncio

    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


class PolledBuffer:
    """Base of the event buffers: ``poll()``, waiting, asyncio, context manager."""

    _poller: Any = None

    # provided by subclasses
    def consume(self) -> int:
        raise NotImplementedError

    def read(self, timeout: float = 0) -> list[Any]:
        raise NotImplementedError

    def fileno(self) -> int:
        raise NotImplementedError

    def _has_data(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def poll(self, timeout: Optional[float] = None) -> int:
        """Wait up to ``timeout`` seconds (None: until data comes) and run the callbacks on what
        is ready (see ``consume()``); returns the number of events handled.

        Waits on libbpf's epoll fd (what ``ring_buffer__poll``/``perf_buffer__poll`` wait on);
        the GIL is released while waiting; Ctrl-C interrupts a blocking poll with
        KeyboardInterrupt.
        """
        n = self.consume()
        if n or timeout == 0:
            return n
        if timeout is None:
            while True:
                self._block(None)
                n = self.consume()
                if n:
                    return n
        self._block(timeout)
        return self.consume()

    def _block(self, timeout: Optional[float]) -> None:
        """Wait until the epoll fd is readable, up to ``timeout`` seconds (None: no limit).
        poll(2) releases the GIL; on EINTR Python runs the signal handlers (Ctrl-C raises
        KeyboardInterrupt) and retries."""
        poller = self._poller
        if poller is None:
            import select

            poller = self._poller = select.poll()
            poller.register(self.fileno(), select.POLLIN)
        poller.poll(None if timeout is None else max(0, int(timeout * 1000)))

    def _wait(self, timeout: Optional[float]) -> None:
        """Block until there is data, up to ``timeout`` seconds (0: don't wait)."""
        if timeout == 0 or self._has_data():
            return
        self._block(timeout)

    # --- asyncio (the event loop's reader on the epoll fd, no thread)

    async def poll_async(self) -> int:
        """Wait in the running event loop until events come, then consume them (callbacks)."""
        while True:
            n = self.consume()
            if n:
                return n
            await wait_readable(self.fileno())

    async def read_async(self) -> list[Any]:
        """Wait in the running event loop until events come, then ``read()`` them."""
        while True:
            out = self.read()
            if out:
                return out
            await wait_readable(self.fileno())

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass
