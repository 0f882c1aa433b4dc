"""Perf buffer streaming end to end: bpf_perf_event_output from a tracepoint, exact samples."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import struct
import textwrap
import threading
import time

import pytest

import libbpf_py
from libbpf_py.errors import ClosedError
from libbpf_py.buffers.perfbuf import PerfBuffer

from conftest import python_child

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]

CFG_TGID, CFG_K, CFG_PERF_FAILS, CFG_FIRST = 0, 1, 5, 6
MAX_K = 64  # stream_events.bpf.c: samples per call
EVENT = struct.Struct("=IIQ")  # struct event { u32 pid; u32 seq; u64 val; }
PADDED = 20  # the kernel pads 4 (raw size) + 16 to 24: a 16-byte sample arrives as 20 bytes


class Event(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("seq", ctypes.c_uint32), ("val", ctypes.c_uint64)]


@pytest.fixture
def stream(bpf_path):
    with libbpf_py.load(bpf_path("stream_events")) as obj:
        obj.maps["cfg"][CFG_TGID] = os.getpid()
        obj.attach()
        yield obj


def emit(obj, k: int) -> None:
    """The program outputs samples seq 1..k (val = 3 * seq) on this CPU, MAX_K per getpgid()."""
    cfg = obj.maps["cfg"]
    for first in range(0, k, MAX_K):
        cfg[CFG_FIRST], cfg[CFG_K] = first, min(MAX_K, k - first)
        os.getpgid(0)


def pinned_cpu() -> int:
    return sorted(os.sched_getaffinity(0))[0]


@pytest.fixture
def on_one_cpu():
    """Pin the test to one CPU so every sample lands in one per-CPU ring, in order."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {pinned_cpu()})
    yield pinned_cpu()
    os.sched_setaffinity(0, old)


def samples(k: int) -> list[tuple[int, int, int]]:
    return [(os.getpid(), seq, 3 * seq) for seq in range(1, k + 1)]


def test_callback_gets_cpu_and_data(stream, on_one_cpu) -> None:
    got: list[tuple[int, int, tuple[int, int, int]]] = []
    with PerfBuffer(stream.maps["pb"],
                    lambda cpu, d: got.append((cpu, len(d), EVENT.unpack_from(d)))) as pb:
        emit(stream, 5)
        assert pb.poll(timeout=1.0) == 5
    assert got == [(on_one_cpu, PADDED, s) for s in samples(5)]
    assert stream.maps["cfg"][CFG_PERF_FAILS] == 0


def test_typed_events(stream, on_one_cpu) -> None:
    got: list[tuple[int, int, int, int]] = []
    with PerfBuffer(stream.maps["pb"], lambda cpu, e: got.append((cpu, e.pid, e.seq, e.val)),
                    event_type=Event) as pb:
        emit(stream, 4)
        assert pb.consume() == 4
    assert got == [(on_one_cpu, *s) for s in samples(4)]


def test_typed_events_btf_name(stream, on_one_cpu) -> None:
    np = pytest.importorskip("numpy")
    got: list[tuple[int, int]] = []
    with PerfBuffer(stream.maps["pb"], lambda cpu, e: got.append((e.seq, e.val)),
                    event_type="struct event") as pb:
        emit(stream, 3)
        assert pb.consume() == 3
        emit(stream, 2)
        arr = pb.read_array()
    assert got == [(1, 3), (2, 6), (3, 9)]
    assert arr.dtype.itemsize == 16 and arr["seq"].tolist() == [1, 2] and np is not None


def test_lost_samples_are_counted_exactly(stream, on_one_cpu) -> None:
    lost: list[tuple[int, int]] = []
    got: list[int] = []
    # One page per CPU (4 KiB: 128 samples of 32 bytes): 1000 samples in one burst overflow it.
    with PerfBuffer(stream.maps["pb"], lambda cpu, d: got.append(EVENT.unpack_from(d)[1]),
                    lost_callback=lambda cpu, n: lost.append((cpu, n)), page_count=1) as pb:
        emit(stream, 1000)
        pb.consume()
        fails = stream.maps["cfg"][CFG_PERF_FAILS]
        assert 0 < fails < 1000
        emit(stream, 1)  # the kernel writes the LOST record before the next sample that fits
        pb.consume()
    assert lost == [(on_one_cpu, fails)]
    assert pb.lost == fails
    assert len(got) == 1000 - fails + 1
    assert got[:-1] == list(range(1, 1001 - fails)) and got[-1] == 1


def _misalign(stream, pb) -> None:
    """Overflow the 4 KiB ring, then let the kernel write its 24-byte LOST record: from then on
    the 32-byte samples are off the ring's alignment and one per pass straddles its end."""
    emit(stream, 1000)
    pb.read()
    emit(stream, 1)
    pb.read()


@pytest.mark.parametrize("typed", [False, True], ids=["memoryview", "typed"])
def test_samples_wrapping_around_the_ring_end(stream, on_one_cpu, typed: bool) -> None:
    np = pytest.importorskip("numpy")
    got: list[tuple[int, int]] = []
    if typed:
        def cb(cpu: int, e: Event) -> None:
            got.append((e.seq, e.val))
    else:
        def cb(cpu: int, d: memoryview) -> None:
            got.append(EVENT.unpack_from(d)[1:])
    with PerfBuffer(stream.maps["pb"], cb, event_type=Event if typed else None,
                    page_count=1) as pb:
        _misalign(stream, pb)
        assert pb.lost == stream.maps["cfg"][CFG_PERF_FAILS] > 0
        for _ in range(5):  # 3 x 5 x 100 x 32 bytes: over ten passes over 4 KiB
            emit(stream, 100)
            assert pb.consume() == 100
            assert got == [(s, 3 * s) for s in range(1, 101)]
            got.clear()
            emit(stream, 100)
            assert [(cpu, len(d), d[:16]) for cpu, d in pb.read()] == \
                [(on_one_cpu, PADDED, EVENT.pack(*x)) for x in samples(100)]
            emit(stream, 100)
            arr = pb.read_array(np.dtype(Event))
            assert arr["seq"].tolist() == list(range(1, 101))
            assert arr["val"].tolist() == [3 * s for s in range(1, 101)]


def test_exception_stops_and_is_reraised(stream, on_one_cpu) -> None:
    seen: list[int] = []

    def cb(cpu: int, d: memoryview) -> None:
        seen.append(EVENT.unpack_from(d)[1])
        if len(seen) == 2:
            raise RuntimeError("boom from perf callback")

    with PerfBuffer(stream.maps["pb"], cb) as pb:
        emit(stream, 4)
        with pytest.raises(RuntimeError, match="boom from perf callback"):
            pb.poll(timeout=1.0)
        assert seen == [1, 2]
        assert pb.consume() == 2
    assert seen == [1, 2, 3, 4]


def test_lost_callback_exception_is_reraised(stream, on_one_cpu) -> None:
    def lost_cb(cpu: int, n: int) -> None:
        raise RuntimeError(f"lost {n}")

    with PerfBuffer(stream.maps["pb"], lambda cpu, d: None, lost_callback=lost_cb,
                    page_count=1) as pb:
        emit(stream, 1000)
        pb.consume()
        fails = stream.maps["cfg"][CFG_PERF_FAILS]
        emit(stream, 1)
        with pytest.raises(RuntimeError, match=f"lost {fails}"):
            pb.consume()


def test_read_and_read_array(stream, on_one_cpu) -> None:
    np = pytest.importorskip("numpy")
    with PerfBuffer(stream.maps["pb"], event_type=Event) as pb:
        assert pb.read() == []
        emit(stream, 3)
        # the 4 bytes of padding the kernel adds are not zeroed: compare the event itself
        assert [(cpu, len(d), d[:16]) for cpu, d in pb.read()] == \
            [(on_one_cpu, PADDED, EVENT.pack(*s)) for s in samples(3)]
        emit(stream, 500)
        arr = pb.read_array()
        assert arr.dtype == np.dtype(Event)
        assert arr["seq"].tolist() == list(range(1, 501))
        assert arr["val"].tolist() == [3 * s for s in range(1, 501)]
        assert len(pb.read_array()) == 0


def test_read_array_batch_reports_lost(stream, on_one_cpu) -> None:
    pytest.importorskip("numpy")
    lost: list[tuple[int, int]] = []
    with PerfBuffer(stream.maps["pb"], event_type=Event, page_count=1,
                    lost_callback=lambda cpu, n: lost.append((cpu, n))) as pb:
        emit(stream, 1000)
        first = pb.read_array()
        fails = stream.maps["cfg"][CFG_PERF_FAILS]
        emit(stream, 1)
        second = pb.read_array()
    assert first["seq"].tolist() == list(range(1, 1001 - fails))
    assert second["seq"].tolist() == [1]
    assert lost == [(on_one_cpu, fails)] and pb.lost == fails


def test_batched_wakeups(stream, on_one_cpu) -> None:
    import select

    got: list[int] = []
    with PerfBuffer(stream.maps["pb"], lambda cpu, d: got.append(EVENT.unpack_from(d)[1]),
                    wakeup_events=10) as pb:
        emit(stream, 9)
        assert select.select([pb], [], [], 0.2)[0] == []  # 9 < 10: no wakeup yet
        assert pb.poll(timeout=0.05) == 9  # the timeout consumes what waits
        emit(stream, 10)
        assert select.select([pb], [], [], 1.0)[0] == [pb]
        assert pb.poll(timeout=1.0) == 10
    assert got == list(range(1, 10)) + list(range(1, 11))


def test_wakeup_bytes(stream, on_one_cpu) -> None:
    import select

    with PerfBuffer(stream.maps["pb"], lambda cpu, d: None, wakeup_bytes=32 * 20) as pb:
        emit(stream, 10)  # 10 x 32 bytes < 640
        assert select.select([pb], [], [], 0.2)[0] == []
        emit(stream, 20)
        assert select.select([pb], [], [], 1.0)[0] == [pb]
        assert pb.consume() == 30


def test_asyncio(stream, on_one_cpu) -> None:
    async def main() -> tuple[list[tuple[int, int]], int]:
        loop = asyncio.get_running_loop()
        got = []
        with PerfBuffer(stream.maps["pb"], event_type=Event) as pb:
            loop.call_later(0.05, emit, stream, 3)
            async for cpu, e in pb:
                got.append((cpu, e.seq))
                if len(got) == 3:
                    break
        seen: list[int] = []
        with PerfBuffer(stream.maps["pb"], lambda cpu, e: seen.append(e.seq),
                        event_type=Event) as pb:
            loop.call_later(0.05, emit, stream, 2)
            n = await asyncio.wait_for(pb.poll_async(), 5)
        assert seen == [1, 2]
        return got, n

    got, n = asyncio.run(main())
    assert got == [(on_one_cpu, 1), (on_one_cpu, 2), (on_one_cpu, 3)] and n == 2


def test_blocking_poll_releases_gil(stream) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    with PerfBuffer(stream.maps["pb"], lambda cpu, d: None) as pb:
        t = threading.Thread(target=spin)
        t.start()
        try:
            pb.poll(timeout=0.3)
            before = ticks
            assert pb.poll(timeout=0.3) == 0
            during = ticks - before
        finally:
            stop.set()
            t.join()
    assert during > 10000  # the other thread ran while poll() waited


def test_ctrl_c_interrupts_blocking_poll(stream) -> None:
    """SIGINT during poll(None): KeyboardInterrupt promptly, and the buffer still works."""
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    seen: list[int] = []
    with PerfBuffer(stream.maps["pb"], lambda cpu, d: seen.append(d[4])) as pb:
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            pb.poll()
        timer.join()
        assert time.monotonic() - t0 < 5
        emit(stream, 3)
        assert pb.poll(None) == 3 and seen == [1, 2, 3]


def test_bad_use(stream) -> None:
    with pytest.raises(TypeError, match="not a PERF_EVENT_ARRAY"):
        PerfBuffer(stream.maps["rb"], lambda cpu, d: None)
    with pytest.raises(ValueError, match="power of two"):
        PerfBuffer(stream.maps["pb"], lambda cpu, d: None, page_count=3)
    with pytest.raises(ValueError, match="wakeup_events"):
        PerfBuffer(stream.maps["pb"], lambda cpu, d: None, wakeup_events=0)
    with pytest.raises(TypeError, match="lost_callback must be callable"):
        PerfBuffer(stream.maps["pb"], lambda cpu, d: None, lost_callback=1)
    pb = PerfBuffer(stream.maps["pb"])
    emit(stream, 1)
    with pytest.raises(TypeError, match="has no callback"):
        pb.poll(timeout=1.0)
    pb.close()
    with pytest.raises(ClosedError, match="closed"):
        pb.poll(0)


def test_callback_view_indexes_as_bytes(stream, on_one_cpu) -> None:
    """The view is a plain read-only byte view: indexing and slicing work."""
    seen: list[tuple[str, bool, int]] = []
    with PerfBuffer(stream.maps["pb"], lambda cpu, d: seen.append((d.format, d.readonly,
                                                                   d[4]))) as pb:
        emit(stream, 2)
        assert pb.poll(timeout=1.0) == 2
    assert seen == [("B", True, 1), ("B", True, 2)]


# --- lifetimes, threads and signals: each case runs in a child process (conftest.python_child:
# a crash fails the test naming the signal, a hang fails it too)

PERF_CHILD = """
import collections, ctypes, gc, os, signal, struct, sys, threading, time
import libbpf_py
from libbpf_py import ClosedError, PerfBuffer
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one CPU ring, in order
obj = libbpf_py.load(sys.argv[1])
cfg = obj.maps["cfg"]
cfg[0] = os.getpid()
obj.attach()

def emit(k):  # as emit() above
    for first in range(0, k, 64):
        cfg[6], cfg[1] = first, min(64, k - first)
        os.getpgid(0)

class Event(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("seq", ctypes.c_uint32), ("val", ctypes.c_uint64)]

def attempt(read):
    try:
        return read()
    except ValueError as e:
        return "ValueError: " + str(e)

def mappings():
    with open("/proc/self/maps") as f:
        return sum("anon_inode:[perf_event]" in line for line in f)
"""


def perf_child(bpf_path, code: str) -> list[str]:
    """Run ``code`` after PERF_CHILD (stream_events loaded and attached) in a child; its lines."""
    return python_child(PERF_CHILD + textwrap.dedent(code),
                        str(bpf_path("stream_events"))).splitlines()


@pytest.mark.parametrize("typed", [False, True], ids=["memoryview", "typed"])
def test_close_inside_callback_stops_after_it(bpf_path, typed: bool) -> None:
    assert perf_child(bpf_path, f"""
        seen = []
        def cb(cpu, e):
            seen.append(e.seq if {typed} else e[4])
            if len(seen) == 2:
                pb.close()
        pb = PerfBuffer(obj.maps["pb"], cb, event_type=Event if {typed} else None)
        emit(5)
        print(pb.poll(1.0), seen)
        try:
            pb.poll(0)
        except ClosedError as e:
            print("ClosedError:", e)
        pb.close()
        print(mappings())
    """) == ["2 [1, 2]", "ClosedError: perf buffer 'pb' is closed", "0"]


def test_close_inside_lost_callback(bpf_path) -> None:
    assert perf_child(bpf_path, """
        seen, lost = [], []
        def on_lost(cpu, n):
            lost.append(n > 0)
            pb.close()
        pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: seen.append(d[4]), lost_callback=on_lost,
                        page_count=1)
        emit(1000)  # overflows the one-page ring
        pb.consume()
        n = len(seen)
        emit(1)  # the kernel writes the LOST record before this sample
        print(pb.consume(), lost, len(seen) == n)
        try:
            pb.consume()
        except ClosedError:
            print("closed", mappings())
    """) == ["0 [True] True", "closed 0"]


def test_views_raise_after_their_callback(bpf_path) -> None:
    released = "ValueError: operation forbidden on released memoryview object"
    assert perf_child(bpf_path, """
        kept, typed, parts = [], [], []
        pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: kept.append(d))
        emit(3)
        print(pb.poll(1.0), attempt(lambda: bytes(kept[0])))
        pb.close()
        pb = PerfBuffer(obj.maps["pb"], lambda cpu, e: typed.append(e), event_type=Event)
        emit(2)
        pb.consume()
        pb.close()
        pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: parts.append(d[4:16]))
        emit(2)
        pb.consume()
        pb.close()
        obj.close()
        del pb, obj
        gc.collect()
        print(attempt(lambda: kept[1][0]), [(e.seq, e.val) for e in typed])
        print([struct.unpack("=IQ", p) for p in parts], mappings())
        del parts
        gc.collect()
        print(mappings())
    """) == [f"3 {released}", f"{released} [(1, 3), (2, 6)]", "[(1, 3), (2, 6)] 2", "0"]


def test_close_from_another_thread_during_poll(bpf_path) -> None:
    assert perf_child(bpf_path, """
        outcomes = collections.Counter()
        for i in range(40):
            pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: d[4], page_count=256)
            def poller():
                try:
                    while True:
                        pb.poll(None if i % 2 else 5.0)
                except ClosedError:
                    outcomes["ClosedError"] += 1
                except BaseException as e:
                    outcomes[repr(e)] += 1
            t = threading.Thread(target=poller)
            t.start()
            if i % 4 < 2:
                emit(3000)  # close while callbacks run
                time.sleep(0.0005 * i)
            else:
                time.sleep(0.01)  # close while it waits
            pb.close()
            t.join(10)
            outcomes["stuck" if t.is_alive() else "joined"] += 1
            del pb
            gc.collect()
        print(sorted(outcomes.items()), mappings())
    """) == ["[('ClosedError', 40), ('joined', 40)] 0"]


def test_signal_handler_closes_the_buffer(bpf_path) -> None:
    assert perf_child(bpf_path, """
        signal.signal(signal.SIGUSR1, lambda *a: pb.close())
        seen = []
        def cb(cpu, d):
            seen.append(d[4])
            if len(seen) == 3:
                os.kill(os.getpid(), signal.SIGUSR1)
        pb = PerfBuffer(obj.maps["pb"], cb)
        emit(10)
        print(pb.poll(1.0), seen)
        pb = PerfBuffer(obj.maps["pb"], cb)
        print(pb.consume())  # a new perf buffer: the samples emitted before it are gone
        signal.signal(signal.SIGALRM, lambda *a: pb.close())
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        print(pb.poll(None), time.monotonic() - t0 < 5, mappings())
    """) == ["3 [1, 2, 3]", "0", "0 True 0"]


def test_ctrl_c_during_blocking_poll_leaves_it_usable(bpf_path) -> None:
    assert perf_child(bpf_path, """
        seen = []
        pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: seen.append(d[4]))
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        try:
            pb.poll(None)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", time.monotonic() - t0 < 5)
        emit(3)
        print(pb.poll(None), seen)
    """) == ["KeyboardInterrupt True", "3 [1, 2, 3]"]


def test_two_threads_polling_one_buffer(bpf_path) -> None:
    assert perf_child(bpf_path, """
        got = []
        errors = []
        pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: got.append(d[4] | d[5] << 8),
                        page_count=256)
        stop = threading.Event()
        def poller():
            try:
                while not stop.is_set():
                    pb.poll(0.01)
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
        pb.consume()
        print(errors, pb.lost, collections.Counter(got) == collections.Counter(list(range(1, 501)) * 20))
    """) == ["[] 0 True"]


def test_absurd_arguments(stream) -> None:
    pb_map = stream.maps["pb"]
    for kw, match in (({"page_count": 2**63}, "page_count"), ({"page_count": True}, "page_count"),
                      ({"page_count": 2.0}, "page_count"),
                      ({"wakeup_events": 2**32}, "wakeup_events"),
                      ({"wakeup_bytes": 2**40}, "wakeup_bytes"),
                      ({"event_type": ""}, "event_type"),
                      ({"event_type": ctypes.c_char * 0}, "event_type")):
        with pytest.raises((ValueError, TypeError), match=match):
            PerfBuffer(pb_map, lambda cpu, d: None, **kw)  # type: ignore[arg-type]
    with PerfBuffer(pb_map, lambda cpu, d: None) as pb:
        for timeout in (float("nan"), -1, "1", True):
            with pytest.raises((ValueError, TypeError), match="timeout"):
                pb.poll(timeout)  # type: ignore[arg-type]
            with pytest.raises((ValueError, TypeError), match="timeout"):
                pb.read(timeout)  # type: ignore[arg-type]


def test_variable_length_samples_fixed_part_and_tail(bpf_path, on_one_cpu) -> None:
    """A perf sample is padded by the kernel: the tail holds the record's bytes from the
    trailing array on, padding included (args_size says how many are data)."""
    with libbpf_py.load(bpf_path("stream_varlen")) as obj:
        cfg = obj.maps["cfg"]
        cfg[0] = os.getpid()
        obj.attach()
        got = []
        with PerfBuffer(obj.maps["pb"], lambda cpu, e, tail: got.append((cpu, e, tail)),
                        event_type="struct exec_event", tail=True) as pb:
            for n in (5, 64):
                cfg[1], cfg[2] = 0, n
                os.getppid()
            assert pb.consume() == 2
            cfg[1], cfg[2] = 1, 3  # struct flex_event: through read() and async for
            os.getppid()
            (cpu, rec), = pb.read()
    pattern = b"".join(bytes([ord("a") + i % 26]) * (i + 1) + b"\0" for i in range(12))
    assert [(cpu, e.pid, e.args_size, tail[:e.args_size]) for cpu, e, tail in got] == \
        [(on_one_cpu, os.getpid(), n, pattern[:n]) for n in (5, 64)]
    # raw sizes are padded so that 4 + size is a multiple of 8: 24 + 5 -> 36, 24 + 64 -> 92
    assert [len(tail) for _, _, tail in got] == [36 - 24, 92 - 24]
    assert (cpu, rec[:11]) == (on_one_cpu, os.getpid().to_bytes(4, "little") + bytes([3, 0, 0, 0, 0, 1, 2]))
