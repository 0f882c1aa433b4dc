"""Maps and programs under threads: 8 threads updating and reading one map lose nothing and get
clear errors; racing NOEXIST inserts let exactly one thread win each key; a thread using an
object's maps and programs while another closes it gets ClosedError (or a BpfError), never a
crash (those cases run in a child process). Ring/perf buffers under threads: test_ringbuf.py,
test_perfbuf.py; pollers of both while another thread closes their object: here."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading

import pytest

from libbpf_py import MapType, UpdateFlags
from libbpf_py.maps import Map

pytestmark = pytest.mark.root

THREADS = 8
PER_THREAD = 2000


def run_threads(target, n: int = THREADS) -> list[BaseException]:
    """Run target(i) in n threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def body(i: int) -> None:
        try:
            start.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


def test_eight_threads_update_and_lookup_lose_nothing() -> None:
    with Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                    max_entries=THREADS * PER_THREAD) as m:
        def work(i: int) -> None:
            base = i * PER_THREAD
            for k in range(base, base + PER_THREAD):
                m[k] = k * 3 + i
                assert m[k] == k * 3 + i  # no other thread writes this key
                m[k] += 1
            for k in range(base, base + PER_THREAD, 7):
                assert m.pop(k) == k * 3 + i + 1
                assert k not in m

        assert run_threads(work) == []
        expected = {k: k * 3 + k // PER_THREAD + 1 for k in range(THREADS * PER_THREAD)
                    if (k % PER_THREAD) % 7}
        assert dict(m.items()) == expected


def test_racing_inserts_one_winner_per_key_and_clear_errors() -> None:
    keys = 500
    with Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=keys) as m:
        won: list[list[int]] = [[] for _ in range(THREADS)]
        refused: list[int] = [0] * THREADS

        def work(i: int) -> None:
            for k in range(keys):
                try:
                    m.set(k, i, flags=UpdateFlags.NOEXIST)
                    won[i].append(k)
                except FileExistsError:  # EEXIST: another thread inserted it first
                    refused[i] += 1

        assert run_threads(work) == []
        winners = sorted(k for w in won for k in w)
        assert winners == list(range(keys))  # every key inserted exactly once
        assert sum(refused) == keys * (THREADS - 1)
        assert all(m[k] == i for i, w in enumerate(won) for k in w)
        # The map is full: a new key is refused with E2BIG by every thread, nothing half-done.
        errors = run_threads(lambda i: m.__setitem__(keys + i, 1))
        assert len(errors) == THREADS and all(e.errno == 7 for e in errors), errors
        assert len(m) == keys


def test_batch_reads_while_threads_write() -> None:
    with Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                    max_entries=4096) as m:
        m.update({k: k for k in range(1024)})

        def work(i: int) -> None:
            if i < 4:  # writers: values only grow
                for n in range(1, 30):
                    m.update({k: k + n * 4096 for k in range(1024)})
            else:  # readers: every snapshot holds every key, each with a value it was set to
                for _ in range(30):
                    snap = dict(m.items())
                    assert sorted(snap) == list(range(1024))
                    assert all(v % 4096 == k for k, v in snap.items())

        assert run_threads(work) == []


CLOSE_RACE = r"""
import os, sys, threading, time
import libbpf_py
from libbpf_py import ClosedError

path, rounds = sys.argv[1], int(sys.argv[2])
outcomes = {}
for r in range(rounds):
    obj = libbpf_py.load(path)
    counts, prog = obj.maps["counts"], obj.programs["on_getppid"]
    go = threading.Event()

    def user():
        go.set()
        i = 0
        while True:
            i += 1
            try:
                counts[i % 64] = i
                counts.get(i % 64)
                prog.fd
                if i % 8 == 0:
                    prog.info()
                    list(counts.items())
                    counts.info()
            except ClosedError:
                outcomes["ClosedError"] = outcomes.get("ClosedError", 0) + 1
                return
            except Exception as e:  # reported by the test
                key = f"{type(e).__name__} {getattr(e, 'errno', '')} {e}"
                outcomes[key] = outcomes.get(key, 0) + 1
                return

    t = threading.Thread(target=user)
    t.start()
    go.wait()
    time.sleep((r % 10) / 5000)
    obj.close()
    t.join(10)
    assert not t.is_alive(), "the user thread hung"
print(sorted(outcomes.items()))
"""


def test_object_closed_while_another_thread_uses_it(bpf_path) -> None:
    """In a child: 200 rounds of a thread hammering a map and a program while the main thread
    closes their object at varying moments. The user thread always ends on ClosedError: a close
    that lands between its check and its syscall (EBADF) says so too; it never reads libbpf's
    freed structures (close() waits for Program.fd, the codec setup); no crash, no hang."""
    out = subprocess.run([sys.executable, "-c", CLOSE_RACE, str(bpf_path("getppid")), "200"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"child died ({out.returncode}): {out.stderr[-2000:]}"
    outcomes = dict(eval(out.stdout))  # noqa: S307 - our own child's repr of a list of pairs
    assert sum(outcomes.values()) == 200, outcomes
    assert outcomes == {"ClosedError": 200}, outcomes


GLOBALS_RACE = r"""
import sys, threading, time
import libbpf_py
from libbpf_py import ClosedError

outcomes = {}
for r in range(int(sys.argv[2])):
    obj = libbpf_py.load(sys.argv[1])
    data, bss = obj.data, obj.bss
    go = threading.Event()

    def user():
        go.set()
        i = 0
        while True:
            i += 1
            try:
                data.data_counter = i
                data.data_counter
                bss.bss_arr[i % 4] = i
                bss.bss_arr.tolist()
                bss.exchange("bss_seen")
                bss.raw()
            except ClosedError:
                outcomes["ClosedError"] = outcomes.get("ClosedError", 0) + 1
                return
            except Exception as e:  # reported by the test
                key = f"{type(e).__name__}: {e}"
                outcomes[key] = outcomes.get(key, 0) + 1
                return

    t = threading.Thread(target=user)
    t.start()
    go.wait()
    time.sleep((r % 10) / 5000)
    obj.close()
    t.join(10)
    assert not t.is_alive(), "the user thread hung"
print(sorted(outcomes.items()))
"""


def test_globals_read_while_another_thread_closes(bpf_path) -> None:
    """In a child: a thread reading and writing globals (the mmapped .data/.bss, arrays,
    exchange) while the main thread closes the object, 200 times. close() unmaps that memory:
    it waits for an access in flight, and the next one raises ClosedError (was SIGSEGV, or a
    read of libbpf's freed map: 'not accessible')."""
    out = subprocess.run([sys.executable, "-c", GLOBALS_RACE, str(bpf_path("globals_rw")), "200"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"child died ({out.returncode}): {out.stderr[-2000:]}"
    assert dict(eval(out.stdout)) == {"ClosedError": 200}  # noqa: S307 - our child's repr


BUFFERS_OBJECT_CLOSE = r"""
import collections, os, sys, threading, time
import libbpf_py
from libbpf_py import PerfBuffer, RingBuffer

os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # perf samples in one CPU's ring
outcomes = collections.Counter()
for r in range(int(sys.argv[2])):
    obj = libbpf_py.load(sys.argv[1])
    cfg = obj.maps["cfg"]
    cfg[0], cfg[1] = os.getpid(), 64
    obj.attach()
    ring_seen, perf_seen, errors = [], [], []
    rb = RingBuffer(obj.maps["rb"], lambda d: ring_seen.append(d[4] | d[5] << 8))
    pb = PerfBuffer(obj.maps["pb"], lambda cpu, d: perf_seen.append(d[4] | d[5] << 8),
                    page_count=64)
    stop = threading.Event()

    def poller(buf):
        try:
            while not stop.is_set():
                buf.poll(0.02)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=poller, args=(b,)) for b in (rb, pb)]
    for t in threads:
        t.start()
    emitted = 0
    for i in range(r % 8):  # 64 records and 64 samples each, numbered 1..64 (cfg[6] = 0)
        os.getppid()
        os.getpgid(0)
        emitted += 64
    time.sleep((r % 5) / 1000)
    obj.close()  # detaches the programs, closes the maps' fds: the buffers keep their rings
    os.getppid(); os.getpgid(0)  # nothing runs any more
    time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(10)
        if t.is_alive():
            outcomes["hung"] += 1
    rb.consume(); pb.consume()  # what the pollers had not reached yet
    expected = collections.Counter(list(range(1, 65)) * (emitted // 64))
    outcomes["ring exact" if collections.Counter(ring_seen) == expected else
             f"ring {len(ring_seen)} of {emitted}"] += 1
    outcomes["perf exact" if collections.Counter(perf_seen) == expected else
             f"perf {len(perf_seen)} of {emitted}"] += 1
    for e in errors:
        outcomes[repr(e)] += 1
    rb.close(); pb.close()
print(sorted(outcomes.items()))
"""


def test_buffers_polled_while_another_thread_closes_the_object(bpf_path) -> None:
    """In a child, 40 rounds: a thread polls a RingBuffer and another a PerfBuffer over an
    object's maps while the main thread closes that object (docs/streaming.md: the buffers keep
    working on the rings they mapped). No crash, no hang, no error; every record emitted before
    the close is handled exactly once, and nothing after it (the programs are detached)."""
    out = subprocess.run([sys.executable, "-c", BUFFERS_OBJECT_CLOSE,
                          str(bpf_path("stream_events")), "40"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"child died ({out.returncode}): {out.stderr[-2000:]}"
    assert dict(eval(out.stdout)) == {"ring exact": 40, "perf exact": 40}  # noqa: S307
