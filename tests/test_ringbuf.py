"""Ring buffer streaming end to end: a tracepoint program emits, Python receives exact events."""

from __future__ import annotations

import os
import select
import signal
import struct
import threading
import time

import pytest

import libbpf_py
from libbpf_py import ClosedError, RingBuffer

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]

EVENT = struct.Struct("=IIQ")  # struct event { u32 pid; u32 seq; u64 magic; }
MAGIC = 0xFEEDF00DCAFE


@pytest.fixture
def traced(bpf_path):
    """The getppid program loaded, attached and filtered to this process."""
    with libbpf_py.load(bpf_path("getppid")) as obj:
        obj.maps["config"][0] = os.getpid()
        obj.attach()
        yield obj


def test_events_and_map_contents_exact(traced) -> None:
    got: list[tuple[int, int, int]] = []
    with RingBuffer(traced.maps["events"], lambda data: got.append(EVENT.unpack(data))) as rb:
        for _ in range(5):
            os.getppid()
        n = rb.poll(timeout=1.0)
        n += rb.consume()
    assert n == 5
    assert got == [(os.getpid(), seq, MAGIC) for seq in range(1, 6)]
    assert dict(traced.maps["counts"]) == {os.getpid(): 5}


def test_poll_times_out_with_zero(traced) -> None:
    with RingBuffer(traced.maps["events"], lambda d: None) as rb:
        t0 = time.monotonic()
        assert rb.poll(timeout=0.2) == 0
        assert time.monotonic() - t0 >= 0.15


def test_callback_exception_is_reraised_and_stops(traced) -> None:
    seen: list[int] = []

    def cb(data: memoryview) -> None:
        seen.append(EVENT.unpack(data)[1])
        if len(seen) == 2:
            raise RuntimeError("boom from callback")

    with RingBuffer(traced.maps["events"], cb) as rb:
        for _ in range(4):
            os.getppid()
        with pytest.raises(RuntimeError, match="boom from callback"):
            rb.poll(timeout=1.0)
        assert seen == [1, 2]  # consumption stopped at the failing record
        assert rb.consume() == 2  # the rest is still there
    assert seen == [1, 2, 3, 4]


def test_negative_return_stops_consumption(traced) -> None:
    seen: list[int] = []

    def cb(data: memoryview) -> int:
        seen.append(EVENT.unpack(data)[1])
        return -1 if len(seen) == 1 else 0

    with RingBuffer(traced.maps["events"], cb) as rb:
        os.getppid()
        os.getppid()
        rb.consume()
        assert seen == [1]
        rb.consume()
    assert seen == [1, 2]


def test_fileno_is_selectable(traced) -> None:
    with RingBuffer(traced.maps["events"], lambda d: None) as rb:
        assert select.select([rb], [], [], 0)[0] == []
        os.getppid()
        assert select.select([rb], [], [], 1.0)[0] == [rb]
        assert rb.consume() == 1


def test_blocking_poll_releases_gil(traced) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    with RingBuffer(traced.maps["events"], lambda d: None) as rb:
        t = threading.Thread(target=spin)
        t.start()
        try:
            rb.poll(timeout=0.3)
            before = ticks
            rb.poll(timeout=0.3)
            during = ticks - before
        finally:
            stop.set()
            t.join()
    assert during > 10000  # the other thread ran while poll() waited


def test_ctrl_c_interrupts_blocking_poll(traced) -> None:
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    with RingBuffer(traced.maps["events"], lambda d: None) as rb:
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            rb.poll()  # blocks without a timeout
        timer.join()
        assert time.monotonic() - t0 < 5


def test_two_maps_one_buffer(bpf_path) -> None:
    with libbpf_py.load(bpf_path("getppid")) as a, libbpf_py.load(bpf_path("getppid")) as b:
        got: dict[str, list[int]] = {"a": [], "b": []}
        for obj in (a, b):
            obj.maps["config"][0] = os.getpid()
            obj.attach()
        with RingBuffer() as rb:
            rb.add(a.maps["events"], lambda d: got["a"].append(EVENT.unpack(d)[1]))
            rb.add(b.maps["events"], lambda d: got["b"].append(EVENT.unpack(d)[1]))
            os.getppid()
            os.getppid()
            assert rb.poll(timeout=1.0) + rb.consume() == 4
    assert got == {"a": [1, 2], "b": [1, 2]}


def test_bad_use(traced) -> None:
    with pytest.raises(TypeError, match="not a RINGBUF"):
        RingBuffer(traced.maps["counts"], lambda d: None)
    with pytest.raises(TypeError, match="needs a callback"):
        RingBuffer(traced.maps["events"])
    with pytest.raises(ValueError, match="no map"):
        RingBuffer().poll(0)
    rb = RingBuffer(traced.maps["events"], lambda d: None)
    rb.close()
    with pytest.raises(ClosedError, match="closed"):
        rb.poll(0)
