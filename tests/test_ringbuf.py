"""Ring buffer streaming end to end: a tracepoint program emits, Python receives exact events."""

from __future__ import annotations

import asyncio
import ctypes
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
    with pytest.raises(TypeError, match="callback must be callable"):
        RingBuffer(traced.maps["events"], 42)
    with pytest.raises(TypeError, match="event_type must be a ctypes type"):
        RingBuffer(traced.maps["events"], lambda d: None, event_type=42)
    with pytest.raises(ValueError, match="no map"):
        RingBuffer().poll(0)
    rb = RingBuffer(traced.maps["events"], lambda d: None)
    rb.close()
    with pytest.raises(ClosedError, match="closed"):
        rb.poll(0)


# --- stream_events.bpf.c: bpf_loop producers with discarded and odd-sized records

CFG_TGID, CFG_K, CFG_DISCARD_EVERY, CFG_ODD_EVERY, CFG_RB_FAILS = 0, 1, 2, 3, 4


class Event(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("seq", ctypes.c_uint32), ("val", ctypes.c_uint64)]


ODD = struct.Struct("=IIQQ")  # struct odd_event


@pytest.fixture
def stream(bpf_path):
    """stream_events loaded and attached, filtered to this process; cfg set per test."""
    with libbpf_py.load(bpf_path("stream_events")) as obj:
        obj.maps["cfg"][CFG_TGID] = os.getpid()
        obj.attach()
        yield obj


def emit(obj, k: int, *, discard_every: int = 0, odd_every: int = 0) -> None:
    """One getppid(): the program emits records seq 1..k (see stream_events.bpf.c)."""
    cfg = obj.maps["cfg"]
    cfg[CFG_K] = k
    cfg[CFG_DISCARD_EVERY] = discard_every
    cfg[CFG_ODD_EVERY] = odd_every
    os.getppid()


def expected(k: int, *, discard_every: int = 0, odd_every: int = 0) -> list[bytes]:
    pid, out = os.getpid(), []
    for seq in range(1, k + 1):
        if odd_every and seq % odd_every == 0:
            out.append(ODD.pack(pid, seq, 3 * seq, seq))
        elif not (discard_every and seq % discard_every == 0):
            out.append(EVENT.pack(pid, seq, 3 * seq))
    return out


def test_typed_events_ctypes(stream) -> None:
    got: list[tuple[int, int, int]] = []
    with RingBuffer(stream.maps["rb"], lambda e: got.append((e.pid, e.seq, e.val)),
                    event_type=Event) as rb:
        emit(stream, 5)
        assert rb.consume() == 5
    assert got == [(os.getpid(), seq, 3 * seq) for seq in range(1, 6)]


def test_typed_events_btf_name(stream) -> None:
    with pytest.raises(ValueError, match="no such type"):
        RingBuffer(stream.maps["rb"], lambda e: None, event_type="struct nope")
    got: list[tuple[int, int, int]] = []
    with RingBuffer(stream.maps["rb"], lambda e: got.append((e.pid, e.seq, e.val)),
                    event_type="struct event") as rb:
        emit(stream, 3)
        assert rb.consume() == 3
        emit(stream, 4)
        arr = rb.read_array()
    assert got == [(os.getpid(), seq, 3 * seq) for seq in range(1, 4)]
    assert arr["seq"].tolist() == [1, 2, 3, 4]


def test_callback_sees_discarded_and_odd_records_correctly(stream) -> None:
    got: list[bytes] = []
    with RingBuffer(stream.maps["rb"], lambda d: got.append(bytes(d))) as rb:
        emit(stream, 20, discard_every=4, odd_every=3)
        assert rb.consume() == len(expected(20, discard_every=4, odd_every=3))
    assert got == expected(20, discard_every=4, odd_every=3)


def test_typed_callback_rejects_short_record(stream) -> None:
    class Big(ctypes.Structure):
        _fields_ = [("raw", ctypes.c_char * 20)]

    with RingBuffer(stream.maps["rb"], lambda e: None, event_type=Big) as rb:
        emit(stream, 1)
        with pytest.raises(ValueError, match="16 bytes is smaller than Big"):
            rb.consume()


def test_read_returns_bytes_skipping_discarded(stream) -> None:
    with RingBuffer(stream.maps["rb"]) as rb:
        assert rb.read() == []
        emit(stream, 50, discard_every=4, odd_every=7)
        assert rb.read() == expected(50, discard_every=4, odd_every=7)
        assert rb.read() == []
        emit(stream, 10)
        assert rb.read(max_records=4) == expected(10)[:4]
        assert rb.read() == expected(10)[4:]


def test_read_waits_with_timeout(stream) -> None:
    with RingBuffer(stream.maps["rb"]) as rb:
        timer = threading.Timer(0.1, emit, (stream, 3))
        timer.start()
        try:
            got = rb.read(timeout=5.0)
        finally:
            timer.join()
    assert got == expected(3)


def test_read_array_numpy(stream) -> None:
    np = pytest.importorskip("numpy")
    with RingBuffer(stream.maps["rb"], event_type=Event) as rb:
        emit(stream, 1000, discard_every=5)
        arr = rb.read_array()
        assert arr.dtype == np.dtype(Event) and len(arr) == 800
        seqs = [s for s in range(1, 1001) if s % 5]
        assert arr["seq"].tolist() == seqs
        assert arr["val"].tolist() == [3 * s for s in seqs]
        assert set(arr["pid"].tolist()) == {os.getpid()}
        assert len(rb.read_array()) == 0
        # an explicit dtype works without an event_type too
        emit(stream, 3)
        arr = rb.read_array(np.dtype([("pid", "<u4"), ("seq", "<u4"), ("val", "<u8")]))
        assert arr["seq"].tolist() == [1, 2, 3]


def test_read_array_stops_before_record_of_another_size(stream) -> None:
    pytest.importorskip("numpy")
    with RingBuffer(stream.maps["rb"], event_type=Event) as rb:
        emit(stream, 7, odd_every=3)  # seq 3 and 6 are 24-byte records
        assert rb.read_array()["seq"].tolist() == [1, 2]
        with pytest.raises(ValueError, match="next record is 24 bytes, not 16"):
            rb.read_array()
        assert rb.read(max_records=1) == [ODD.pack(os.getpid(), 3, 9, 3)]
        assert rb.read_array()["seq"].tolist() == [4, 5]
        assert rb.read() == expected(7, odd_every=3)[5:]


def test_consume_array_zero_copy(stream) -> None:
    np = pytest.importorskip("numpy")
    arrays: list[tuple[list[int], list[int], bool]] = []

    def cb(arr) -> None:
        arrays.append((arr["seq"].tolist(), arr["val"].tolist(), arr.flags.writeable))

    with RingBuffer(stream.maps["rb"], event_type=Event) as rb:
        assert rb.consume_array(cb) == 0 and arrays == []
        emit(stream, 10, discard_every=4)  # seq 4 and 8 discarded: three runs
        assert rb.consume_array(cb) == 8
        assert arrays == [([1, 2, 3], [3, 6, 9], False), ([5, 6, 7], [15, 18, 21], False),
                          ([9, 10], [27, 30], False)]
        arrays.clear()
        emit(stream, 5, odd_every=3)  # seq 3 is 24 bytes: stops before it
        assert rb.consume_array(cb) == 2 and arrays == [([1, 2], [3, 6], False)]
        with pytest.raises(ValueError, match="next record is 24 bytes, not 16"):
            rb.consume_array(cb)
        assert rb.read(max_records=1) == [ODD.pack(os.getpid(), 3, 9, 3)]
        total = 0

        def summed(arr) -> None:
            nonlocal total
            total += int(arr["val"].sum(dtype=np.uint64))

        assert rb.consume_array(summed) == 2 and total == 27  # seq 4 and 5
        emit(stream, 3)

        def boom(arr) -> None:
            raise RuntimeError("boom from consume_array")

        with pytest.raises(RuntimeError, match="boom from consume_array"):
            rb.consume_array(boom)
        assert rb.read() == []  # the array given to the failing call was consumed


def test_ring_stats(stream) -> None:
    with RingBuffer(stream.maps["rb"]) as rb:
        (s0,) = rb.stats()
        assert s0.map_name == "rb" and s0.size == 256 * 1024
        assert s0.avail == 0 and s0.producer_pos == s0.consumer_pos
        emit(stream, 10, odd_every=5)  # 8 x (8 + 16) + 2 x (8 + 24) bytes
        (s1,) = rb.stats()
        assert s1.avail == 8 * 24 + 2 * 32 == s1.producer_pos - s1.consumer_pos
        assert s1.producer_pos == s0.producer_pos + 256
        assert s1.fill == 256 / (256 * 1024)
        assert len(rb.read()) == 10
        (s2,) = rb.stats()
        assert s2.avail == 0 and s2.consumer_pos == s2.producer_pos == s1.producer_pos


def test_async_for_and_poll_async(stream) -> None:
    async def main() -> tuple[list[tuple[int, int]], int, list[int]]:
        loop = asyncio.get_running_loop()
        seen: list[int] = []
        with RingBuffer(stream.maps["rb"], event_type=Event) as rb:
            loop.call_later(0.05, emit, stream, 3)
            got = []
            async for e in rb:
                got.append((e.seq, e.val))
                if len(got) == 3:
                    break
        with RingBuffer(stream.maps["rb"], lambda e: seen.append(e.seq), event_type=Event) as rb:
            loop.call_later(0.05, emit, stream, 2)
            n = await asyncio.wait_for(rb.poll_async(), 5)
        return got, n, seen

    got, n, seen = asyncio.run(main())
    assert got == [(1, 3), (2, 6), (3, 9)]
    assert n == 2 and seen == [1, 2]


def test_read_async(stream) -> None:
    async def main() -> list[bytes]:
        with RingBuffer(stream.maps["rb"]) as rb:
            asyncio.get_running_loop().call_later(0.05, emit, stream, 4)
            return await asyncio.wait_for(rb.read_async(), 5)

    assert asyncio.run(main()) == expected(4)


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def test_memory_flat_over_a_million_events(stream) -> None:
    np = pytest.importorskip("numpy")
    total = 0

    def cb(e: Event) -> None:
        nonlocal total
        total += e.val

    k, rounds = 10000, 50
    with RingBuffer(stream.maps["rb"], cb, event_type=Event) as rb:
        for _ in range(3):  # warm up: caches, arenas
            emit(stream, k)
            rb.consume()
            emit(stream, k)
            rb.read_array()
        total = 0
        base = _rss_kib()
        n = sums = 0
        for _ in range(rounds):
            emit(stream, k)
            n += rb.consume()
            emit(stream, k)
            arr = rb.read_array()
            n += len(arr)
            sums += int(arr["val"].sum(dtype=np.uint64))
        growth = _rss_kib() - base
    assert stream.maps["cfg"][CFG_RB_FAILS] == 0
    assert n == 2 * k * rounds == 1_000_000
    assert total == sums == rounds * 3 * k * (k + 1) // 2
    assert growth < 8 * 1024, f"RSS grew by {growth} KiB over 1M events"


def test_callback_view_indexes_as_bytes(traced) -> None:
    """The view is a plain read-only byte view: indexing, slicing and tolist() work."""
    seen: list[tuple[str, bool, int, list[int]]] = []
    with RingBuffer(traced.maps["events"],
                    lambda d: seen.append((d.format, d.readonly, d[4], d[8:10].tolist()))) as rb:
        os.getppid()
        assert rb.poll(timeout=1.0) == 1
    assert seen == [("B", True, 1, [MAGIC & 0xFF, (MAGIC >> 8) & 0xFF])]
