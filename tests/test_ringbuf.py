"""Ring buffer streaming end to end: a tracepoint program emits, Python receives exact events."""

from __future__ import annotations

import asyncio
import ctypes
import os
import select
import signal
import struct
import textwrap
import threading
import time
from pathlib import Path

import pytest

import libbpf_py
from libbpf_py import ClosedError, RingBuffer

from conftest import python_child

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


# --- stream_events.bpf.c: producers with discarded and odd-sized records (any kernel with a ring
# buffer: a bounded loop of at most MAX_K records per call)

CFG_TGID, CFG_K, CFG_DISCARD_EVERY, CFG_ODD_EVERY, CFG_RB_FAILS, CFG_FIRST = 0, 1, 2, 3, 4, 6
MAX_K = 64  # stream_events.bpf.c: records per call


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
    """The program emits records seq 1..k (see stream_events.bpf.c), MAX_K per getppid()."""
    cfg = obj.maps["cfg"]
    cfg[CFG_DISCARD_EVERY] = discard_every
    cfg[CFG_ODD_EVERY] = odd_every
    for first in range(0, k, MAX_K):
        cfg[CFG_FIRST], cfg[CFG_K] = first, min(MAX_K, k - first)
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
        _fields_ = [("raw", ctypes.c_char * 16), ("more", ctypes.c_uint32)]

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


# --- lifetimes, threads and signals: each case runs in a child process (conftest.python_child:
# a crash fails the test naming the signal, a hang fails it too)

RING_CHILD = """
import collections, ctypes, gc, os, signal, struct, sys, threading, time
import libbpf_py
from libbpf_py import ClosedError, RingBuffer
obj = libbpf_py.load(sys.argv[1])
cfg = obj.maps["cfg"]
cfg[0] = os.getpid()
obj.attach()

def emit(k, discard_every=0):  # as emit() above
    cfg[2] = discard_every
    for first in range(0, k, 64):
        cfg[6], cfg[1] = first, min(64, k - first)
        os.getppid()

class Event(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("seq", ctypes.c_uint32), ("val", ctypes.c_uint64)]

def attempt(read):
    try:
        return read()
    except ValueError as e:
        return "ValueError: " + str(e)

def mappings():
    with open("/proc/self/maps") as f:
        return sum("anon_inode:bpf-map" in line for line in f)
"""


def ring_child(bpf_path, code: str) -> list[str]:
    """Run ``code`` after RING_CHILD (stream_events loaded and attached) in a child; its lines."""
    return python_child(RING_CHILD + textwrap.dedent(code),
                        str(bpf_path("stream_events"))).splitlines()


@pytest.mark.parametrize("typed", [False, True], ids=["memoryview", "typed"])
def test_close_inside_callback_stops_after_it(bpf_path, typed: bool) -> None:
    assert ring_child(bpf_path, f"""
        seen = []
        def cb(e):
            seen.append(e.seq if {typed} else struct.unpack_from("=I", e, 4)[0])
            if len(seen) == 2:
                rb.close()
        rb = RingBuffer(obj.maps["rb"], cb, event_type=Event if {typed} else None)
        emit(5)
        print(rb.poll(1.0), seen)
        try:
            rb.poll(0)
        except ClosedError as e:
            print("ClosedError:", e)
        rb.close()
        rb2 = RingBuffer(obj.maps["rb"], lambda e: seen.append(-1))
        print(rb2.consume(), seen[-1])  # the records after the closing one are still there
    """) == ["2 [1, 2]", "ClosedError: ring buffer is closed", "3 -1"]


def test_close_inside_consume_array_callback(bpf_path) -> None:
    pytest.importorskip("numpy")
    assert ring_child(bpf_path, """
        got = []
        def cb(arr):
            got.append(arr["seq"].tolist())
            rb.close()
        rb = RingBuffer(obj.maps["rb"], event_type=Event)
        emit(10, discard_every=4)  # three runs of records: 1-3, 5-7, 9-10
        print(rb.consume_array(cb), got)
        try:
            rb.consume_array(cb)
        except ClosedError:
            print("closed")
    """) == ["3 [[1, 2, 3]]", "closed"]


def test_views_raise_after_their_callback(bpf_path) -> None:
    """A view handed to a callback is released when the call returns: using it later raises
    ValueError, before and after close() and after the object is gone."""
    released = "ValueError: operation forbidden on released memoryview object"
    assert ring_child(bpf_path, """
        kept = []
        rb = RingBuffer(obj.maps["rb"], kept.append)
        emit(3)
        print(rb.poll(1.0), len(kept))
        print(attempt(lambda: bytes(kept[0])))
        rb.close()
        print(attempt(lambda: kept[1][0]))
        obj.close()
        del rb, obj
        gc.collect()
        print(attempt(lambda: kept[2].tobytes()))
    """) == ["3 3", released, released, released]


def test_kept_records_outlive_close_and_object(bpf_path) -> None:
    """What a callback keeps never reads unmapped memory: typed events are copies (writable,
    valid for ever); slices of a view and consume_array's arrays keep the ring mapped until
    they are gone, and the last of them unmaps it."""
    pytest.importorskip("numpy")
    assert ring_child(bpf_path, """
        typed, parts, arrays = [], [], []
        with RingBuffer(obj.maps["rb"], typed.append, event_type=Event) as rb:
            emit(3)
            rb.consume()
        rb = RingBuffer(obj.maps["rb"], lambda d: parts.append(d[4:16]))
        emit(2)
        rb.consume()
        rb.close()
        rb = RingBuffer(obj.maps["rb"], event_type=Event)
        emit(2)
        rb.consume_array(arrays.append)
        typed[0].val = 7  # a copy: writable
        obj.close()
        del rb, obj
        gc.collect()
        print([(e.seq, e.val) for e in typed])
        print([struct.unpack("=IQ", p) for p in parts], [a["seq"].tolist() for a in arrays])
        print(mappings())  # the rings the kept views need, nothing else
        del parts
        gc.collect()
        print(mappings())
        del arrays
        gc.collect()
        print(mappings())
    """) == ["[(1, 7), (2, 6), (3, 9)]", "[(1, 3), (2, 6)] [[1, 2]]", "4", "2", "0"]
    # kept views hold src/ringbuf.c's mapping of their ring (2 mappings each), nothing else


def test_close_from_another_thread_during_poll(bpf_path) -> None:
    """Another thread closes the buffer while poll() waits or runs callbacks: the poller returns
    (what it handled) and its next call raises ClosedError; the rings are unmapped once it is
    done. 40 rounds at varying moments."""
    assert ring_child(bpf_path, """
        outcomes = collections.Counter()
        for i in range(40):
            handled = []
            rb = RingBuffer(obj.maps["rb"], lambda d: handled.append(d[4]))
            def poller():
                try:
                    while True:
                        rb.poll(None if i % 2 else 5.0)
                except ClosedError:
                    outcomes["ClosedError"] += 1
                except BaseException as e:
                    outcomes[repr(e)] += 1
            t = threading.Thread(target=poller)
            t.start()
            if i % 4 < 2:
                emit(5000)  # close while callbacks run
                time.sleep(0.0005 * i)
            else:
                time.sleep(0.01)  # close while it waits
            rb.close()
            t.join(10)
            outcomes["stuck" if t.is_alive() else "joined"] += 1
            del rb
            gc.collect()
        print(sorted(outcomes.items()), mappings() - 1)  # only .bss left mapped
    """) == ["[('ClosedError', 40), ('joined', 40)] 0"]


def test_signal_handler_closes_the_buffer(bpf_path) -> None:
    """A signal handler closing the buffer mid-dispatch (it runs between two callbacks' bytecodes)
    or during a blocking poll: polling stops, nothing faults."""
    assert ring_child(bpf_path, """
        signal.signal(signal.SIGUSR1, lambda *a: rb.close())
        seen = []
        def cb(d):
            seen.append(d[4])
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGUSR1)
        rb = RingBuffer(obj.maps["rb"], cb)
        emit(10)
        print(rb.poll(1.0), seen)
        rb = RingBuffer(obj.maps["rb"], cb)
        print(rb.consume())  # the 7 records after the closing callback's
        signal.signal(signal.SIGALRM, lambda *a: rb.close())
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        print(rb.poll(None), time.monotonic() - t0 < 5)
    """) == ["3 [1, 2, 3]", "7", "0 True"]


def test_ctrl_c_during_blocking_poll_leaves_it_usable(bpf_path) -> None:
    assert ring_child(bpf_path, """
        seen = []
        rb = RingBuffer(obj.maps["rb"], lambda d: seen.append(d[4]))
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        try:
            rb.poll(None)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", time.monotonic() - t0 < 5)
        emit(3)
        print(rb.poll(None), seen)
    """) == ["KeyboardInterrupt True", "3 [1, 2, 3]"]


def test_two_threads_polling_one_buffer(bpf_path) -> None:
    """Two threads poll the same buffer while records come: every record is handled exactly
    once (one poll at a time: the other waits for it)."""
    assert ring_child(bpf_path, """
        got = []
        errors = []
        rb = RingBuffer(obj.maps["rb"], lambda d: got.append(d[4] | d[5] << 8))
        stop = threading.Event()
        def poller():
            try:
                while not stop.is_set():
                    rb.poll(0.01)
            except BaseException as e:
                errors.append(e)
        threads = [threading.Thread(target=poller) for _ in range(2)]
        for t in threads:
            t.start()
        for _ in range(20):
            emit(500)
            time.sleep(0.002)
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        rb.consume()
        print(errors, collections.Counter(got) == collections.Counter(list(range(1, 501)) * 20))
    """) == ["[] True"]


def test_absurd_arguments(stream) -> None:
    for bad in ("", "struct", 42, ctypes.c_char * 0):
        with pytest.raises((ValueError, TypeError), match="event_type"):
            RingBuffer(stream.maps["rb"], lambda e: None, event_type=bad)
    with RingBuffer(stream.maps["rb"], lambda d: None) as rb:
        for timeout in (float("nan"), -1, -0.5, "1", True):
            with pytest.raises((ValueError, TypeError), match="timeout"):
                rb.poll(timeout)  # type: ignore[arg-type]
            with pytest.raises((ValueError, TypeError), match="timeout"):
                rb.read(timeout)  # type: ignore[arg-type]
        for n in (-1, 1.5, "3"):
            with pytest.raises((ValueError, TypeError), match="max_records"):
                rb.read(max_records=n)  # type: ignore[arg-type]
        emit(stream, 3)
        assert rb.read(max_records=0) == []
        assert len(rb.read(max_records=2**70)) == 3
        emit(stream, 1)
        assert rb.poll(float("inf")) == 1  # no limit, like None


def test_poll_inside_its_own_callback_is_refused(stream) -> None:
    """A callback polling its own buffer would get the records being handled again: it raises
    RuntimeError (from the callback, so it propagates); the buffer stays usable."""
    seen: list[int] = []

    def cb(data: memoryview) -> None:
        seen.append(data[4])
        rb.poll(0)

    with RingBuffer(stream.maps["rb"], cb) as rb:
        emit(stream, 3)
        with pytest.raises(RuntimeError, match="from inside one of its own callbacks"):
            rb.consume()
        assert seen == [1]
        assert len(rb.read()) == 2  # the failing callback's record was consumed


# --- variable-length and union events (issue 11): tests/bpf/stream_varlen.bpf.c

VL_TGID, VL_KIND, VL_ARGS = 0, 1, 2
EXEC, FLEX, UNION, WHOLE = 0, 1, 2, 3


def args_pattern(n: int) -> bytes:
    """stream_varlen's exec_event.args: "a\\0bb\\0ccc\\0..." cut at n bytes."""
    out = b"".join(bytes([ord("a") + i % 26]) * (i + 1) + b"\0" for i in range(12))
    return out[:n]


@pytest.fixture
def varlen(bpf_path):
    with libbpf_py.load(bpf_path("stream_varlen")) as obj:
        obj.maps["cfg"][VL_TGID] = os.getpid()
        obj.attach()
        yield obj


def emit_varlen(obj, kind: int, n: int = 0) -> None:
    """One getppid(): the program emits one record of ``kind`` (n: args/data bytes)."""
    obj.maps["cfg"][VL_KIND] = kind
    obj.maps["cfg"][VL_ARGS] = n
    os.getppid()


def test_variable_length_records_fixed_part_and_tail(varlen) -> None:
    """execsnoop's shape: a header and `char args[64]` that the producer cuts at args_size.
    tail=True gives the fixed part (zero-filled past the record) and the bytes from args on."""
    comm = Path("/proc/self/comm").read_text().strip().encode()[:15]
    got = []
    with RingBuffer(varlen.maps["rb"], lambda e, tail: got.append((e, tail)),
                    event_type="struct exec_event", tail=True) as rb:
        for n in (5, 0, 64):
            emit_varlen(varlen, EXEC, n)
        assert rb.consume() == 3
    assert [(e.pid, e.args_size, e.comm, tail) for e, tail in got] == \
        [(os.getpid(), n, comm, args_pattern(n)) for n in (5, 0, 64)]
    # the instance is a copy of the record, zero past its end
    assert bytes(got[0][0])[24:] == args_pattern(5) + bytes(59)
    assert got[2][0].args == b"a"  # the char array reads as a C string: the tail is the data
    assert args_pattern(64).split(b"\0")[:3] == [b"a", b"bb", b"ccc"]


def test_short_record_without_tail_says_what_to_do(varlen) -> None:
    with RingBuffer(varlen.maps["rb"], lambda e: None, event_type="struct exec_event") as rb:
        emit_varlen(varlen, EXEC, 5)
        with pytest.raises(ValueError, match=r"record of 29 bytes is smaller than exec_event "
                           r"\(88 bytes\); if the producer truncates its trailing array 'args'.*"
                           r"pass tail=True"):
            rb.consume()
    with RingBuffer(varlen.maps["rb"], lambda e, t: None, event_type="struct union_event",
                    tail=True) as rb:
        emit_varlen(varlen, FLEX, 0)  # 8 bytes: shorter than any union_event
        with pytest.raises(ValueError, match="record of 8 bytes is smaller than union_event"):
            rb.consume()


def test_flexible_array_member(varlen) -> None:
    """`__u8 data[]`: the type is the 8-byte header; tail=True adds the data after it."""
    got, plain = [], []
    with RingBuffer(varlen.maps["rb"], lambda e, tail: got.append((e.pid, e.len, tail)),
                    event_type="struct flex_event", tail=True) as rb:
        for n in (3, 0, 64):
            emit_varlen(varlen, FLEX, n)
        assert rb.consume() == 3
    assert got == [(os.getpid(), n, bytes(range(n))) for n in (3, 0, 64)]
    with RingBuffer(varlen.maps["rb"], lambda e: plain.append((e.len, ctypes.sizeof(e))),
                    event_type="struct flex_event") as rb:
        emit_varlen(varlen, FLEX, 10)
        assert rb.consume() == 1
    assert plain == [(10, 8)]


def test_union_events(varlen) -> None:
    """A struct with a union member, and a record that is a union."""
    got = []
    with RingBuffer(varlen.maps["rb"], lambda e: got.append((e.kind, e.v.u, e.v.s, e.v.text)),
                    event_type="struct union_event") as rb:
        emit_varlen(varlen, UNION)
        assert rb.consume() == 1
    assert got == [(2, 0x41424344, 0x41424344, b"DCBA")]
    got.clear()
    with RingBuffer(varlen.maps["rb"], lambda w: got.append((w.hdr.kind, w.hdr.n, list(w.raw))),
                    event_type="union whole_event") as rb:
        emit_varlen(varlen, WHOLE)
        assert rb.consume() == 1
    assert got == [(3, 7, [3, 0, 0, 0, 7, 0, 0, 0] + [0xEE] * 8)]


def test_variable_length_async_and_read(varlen) -> None:
    async def main() -> list[tuple[int, bytes]]:
        out = []
        with RingBuffer(varlen.maps["rb"], event_type="struct exec_event", tail=True) as rb:
            asyncio.get_running_loop().call_later(0.05, emit_varlen, varlen, EXEC, 9)
            async for e, tail in rb:
                out.append((e.args_size, tail))
                break
        return out

    assert asyncio.run(main()) == [(9, args_pattern(9))]
    with RingBuffer(varlen.maps["rb"]) as rb:
        emit_varlen(varlen, EXEC, 7)
        (rec,) = rb.read()
    assert len(rec) == 24 + 7 and rec[24:] == args_pattern(7)


@pytest.mark.parametrize("how", ["stop", "raise"])
def test_typed_callback_stop_and_exception_consume_their_record(stream, how: str) -> None:
    """The typed path runs its loop in C (map/filter): a negative return or an exception still
    stops right after that record, which is consumed."""
    seen: list[int] = []

    def cb(e: Event) -> int:
        seen.append(e.seq)
        if e.seq == 2:
            if how == "raise":
                raise KeyError("boom from a typed callback")
            return -1
        return 0

    with RingBuffer(stream.maps["rb"], cb, event_type=Event) as rb:
        emit(stream, 5)
        if how == "raise":
            with pytest.raises(KeyError, match="boom from a typed callback"):
                rb.consume()
        else:
            assert rb.consume() == 2
        assert seen == [1, 2]
        assert rb.consume() == 3
    assert seen == [1, 2, 3, 4, 5]
