"""User ring buffer end to end: Python produces, a BPF program drains (bpf_user_ringbuf_drain)."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import libbpf_py
from libbpf_py.errors import BpfError, ClosedError
from libbpf_py.buffers.userringbuf import UserRingBuffer

from conftest import python_child

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs"),
              pytest.mark.kernel("user_ringbuf")]

CFG_TGID = 0
RES_COUNT, RES_SUM_A, RES_WEIGHTED, RES_RET = range(4)
MSG = struct.Struct("=QQ")  # struct user_msg { u64 a; u64 b; }


class Msg(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


@pytest.fixture
def stream(bpf_path):
    with libbpf_py.load(bpf_path("stream_user")) as obj:
        obj.maps["cfg"][CFG_TGID] = os.getpid()
        obj.attach()
        yield obj


def drain(obj) -> dict[str, int]:
    """One getsid(): the program drains the ring; returns what it read (cumulative)."""
    os.getsid(0)
    res = obj.maps["res"]
    return {"count": res[RES_COUNT], "sum_a": res[RES_SUM_A], "weighted": res[RES_WEIGHTED],
            "ret": res[RES_RET]}


def test_write_bytes_and_typed_values(stream) -> None:
    with UserRingBuffer(stream.maps["urb"]) as urb:
        urb.write(MSG.pack(10, 1))
        urb.write(Msg(20, 2))
        urb.write(bytearray(MSG.pack(30, 3)))
        # weighted: b * (index + 1) in drain order proves the order
        assert drain(stream) == {"count": 3, "sum_a": 60, "weighted": 1 + 4 + 9, "ret": 3}
        assert drain(stream)["ret"] == 0  # nothing left


def test_reserve_submit_discard(stream) -> None:
    with UserRingBuffer(stream.maps["urb"]) as urb:
        r = urb.reserve(Msg)
        r.value.a, r.value.b = 7, 5
        r.submit()
        d = urb.reserve(16)
        d.data[:] = MSG.pack(1000, 1000)
        d.discard()
        with urb.reserve(16) as r2:
            r2.data[:] = MSG.pack(8, 6)
        with pytest.raises(RuntimeError):
            with urb.reserve(16) as r3:
                r3.data[:] = MSG.pack(2000, 2000)
                raise RuntimeError("discarded by the with block")
        assert r3.done
        assert drain(stream) == {"count": 2, "sum_a": 15, "weighted": 5 + 12, "ret": 2}
        with pytest.raises(ValueError, match="already submitted or discarded"):
            r.submit()


def test_reserve_btf_type_name(stream) -> None:
    with UserRingBuffer(stream.maps["urb"]) as urb:
        with urb.reserve("struct user_msg") as r:
            assert r.size == 16
            r.value.a, r.value.b = 41, 3
        assert drain(stream) == {"count": 1, "sum_a": 41, "weighted": 3, "ret": 1}


def test_full_ring_and_blocking_reserve_timeout(stream) -> None:
    with UserRingBuffer(stream.maps["urb"]) as urb:
        # 64 KiB ring, 24 bytes per record (8 header + 16): fill it
        n = 0
        with pytest.raises(BpfError) as full:
            while True:
                urb.write(MSG.pack(1, 0))
                n += 1
        assert full.value.errno == errno.ENOSPC
        assert n == 64 * 1024 // 24
        with pytest.raises(BpfError) as timed_out:
            urb.reserve(16, timeout=0.1)
        assert timed_out.value.errno == errno.ENOSPC
        assert drain(stream)["count"] == n  # the kernel frees the space...
        urb.reserve(16, timeout=1.0).discard()  # ...and a blocking reserve gets it


def test_bad_use(stream) -> None:
    with pytest.raises(TypeError, match="not a USER_RINGBUF"):
        UserRingBuffer(stream.maps["res"])
    urb = UserRingBuffer(stream.maps["urb"])
    with pytest.raises(ValueError, match="size .* must be between 1 and 4294967295, not 0"):
        urb.reserve(0)
    with pytest.raises(BpfError) as big:
        urb.reserve(1 << 20)
    assert big.value.errno == errno.E2BIG
    pending = urb.reserve(16)
    urb.close()
    assert pending.done  # close() discarded it
    with pytest.raises(ClosedError, match="closed"):
        urb.write(b"x" * 16)


def test_ctrl_c_interrupts_a_blocking_reserve(bpf_path) -> None:
    """A reserve waiting without a timeout on a full ring (GIL released, in epoll_wait) ends
    with KeyboardInterrupt on SIGINT, the way Ctrl-C ends any blocking call in Python; the
    buffer still works after it (drained by the program, a new reservation is submitted)."""
    code = (
        "import sys, libbpf_py\n"
        "from libbpf_py.buffers.userringbuf import UserRingBuffer\n"
        "obj = libbpf_py.load(sys.argv[1])\n"
        "urb = UserRingBuffer(obj.maps['urb'])\n"
        "try:\n"
        "    while True:\n"
        "        urb.write(bytes(16))\n"
        "except libbpf_py.BpfError as e:\n"
        "    print('full', e.errno, flush=True)\n"
        "try:\n"
        "    urb.reserve(16, timeout=None)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "import os\n"  # still usable: the program drains it (getsid), a reservation fits
        "obj.maps['cfg'][0] = os.getpid(); obj.attach(); os.getsid(0)\n"
        "with urb.reserve(16, timeout=None) as r:\n"
        "    r.data[:] = bytes(8) + (5).to_bytes(8, sys.byteorder)\n"
        "os.getsid(0)\n"
        "print('usable', obj.maps['res'][3], flush=True)\n"  # RES_RET: the drain read ours
    )
    with subprocess.Popen([sys.executable, "-c", code, str(bpf_path("stream_user"))],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == f"full {errno.ENOSPC}\n"
            deadline = time.monotonic() + 10
            while _state(child.pid) != "S":  # asleep: the only wait left is the reserve's
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.01)
            time.sleep(0.1)  # well into the wait: the backoff is at its longest sleeps
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=10)
        finally:
            child.kill()
    assert (out, child.returncode) == ("interrupted\nusable 1\n", 0), err


def _state(pid: int) -> str:
    """The process state letter of /proc/PID/stat (R running, S sleeping ...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def test_reserve_without_timeout_waits_for_the_drain(stream) -> None:
    """timeout=None on a full ring waits as long as it takes, asleep between retries (GIL
    released, time.sleep, not a spin): another thread lets the BPF program drain the ring only
    once the reserve has gone to sleep, and the reservation comes after that drain, with room."""
    order: list[str] = []
    drained: list[int] = []
    asleep = threading.Event()

    def watch(frame: object, event: str, arg: object) -> None:
        if event == "c_call" and arg is time.sleep and not asleep.is_set():
            order.append("reserve asleep")
            asleep.set()

    with UserRingBuffer(stream.maps["urb"]) as urb:
        with pytest.raises(BpfError):
            while True:
                urb.write(MSG.pack(1, 0))

        def drainer() -> None:
            asleep.wait(10)  # a guard: drain anyway after 10 s, so a spinning reserve ends too
            order.append("drain")
            drained.append(drain(stream)["ret"])

        t = threading.Thread(target=drainer)
        t.start()
        sys.setprofile(watch)  # this thread only
        try:
            with urb.reserve(Msg, timeout=None) as r:
                order.append("reserved")
                r.value.a, r.value.b = 5, 1
        finally:
            sys.setprofile(None)
            asleep.set()
            t.join()
        n = 64 * 1024 // 24  # the records that filled the ring, all drained by the other thread
        assert order == ["reserve asleep", "drain", "reserved"]
        assert drained == [n]
        assert drain(stream) == {"count": n + 1, "sum_a": n + 5, "weighted": n + 1, "ret": 1}


# --- lifetimes, threads and signals: each case runs in a child process (conftest.python_child:
# a crash fails the test naming the signal, a hang fails it too)

URB_CHILD = """
import collections, ctypes, gc, os, signal, struct, sys, threading, time
import libbpf_py
from libbpf_py import BpfError, ClosedError, UserRingBuffer
obj = libbpf_py.load(sys.argv[1])
obj.maps["cfg"][0] = os.getpid()
obj.attach()

class Msg(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

def drained():
    os.getsid(0)
    return obj.maps["res"][0]

def fill(urb):
    try:
        while True:
            urb.write(bytes(16))
    except BpfError:
        pass

def attempt(read):
    try:
        return read()
    except ValueError as e:
        return "ValueError: " + str(e)

def mappings():
    with open("/proc/self/maps") as f:
        return sum("anon_inode:bpf-map" in line for line in f)
"""


def urb_child(bpf_path, code: str) -> list[str]:
    """Run ``code`` after URB_CHILD (stream_user loaded and attached) in a child; its lines."""
    return python_child(URB_CHILD + textwrap.dedent(code),
                        str(bpf_path("stream_user"))).splitlines()


def test_reservation_views_after_close(bpf_path) -> None:
    """A reservation's data is released by submit/discard/close (ValueError); its typed value
    is the reservation's own memory, copied into the ring by submit(): reading it later is
    safe; a slice of data keeps the ring mapped until it is gone."""
    released = "ValueError: operation forbidden on released memoryview object"
    assert urb_child(bpf_path, """
        base = mappings()
        urb = UserRingBuffer(obj.maps["urb"])
        r = urb.reserve(Msg)
        value, data = r.value, r.data
        value.a, value.b = 5, 6
        r2 = urb.reserve(16)
        part = r2.data[8:16]
        part[:] = struct.pack("=Q", 9)
        r2.submit()
        urb.close()
        print(r.done, attempt(lambda: bytes(data)), (value.a, value.b))
        obj.close()
        del obj, urb, r, r2
        gc.collect()
        print(struct.unpack("=Q", part), mappings() > 0)
        del part
        gc.collect()
        print(mappings())
    """) == [f"True {released} (5, 6)", "(9,) True", "0"]


def test_close_from_another_thread_during_a_blocking_reserve(bpf_path) -> None:
    assert urb_child(bpf_path, """
        outcomes = collections.Counter()
        for i in range(20):
            urb = UserRingBuffer(obj.maps["urb"])
            fill(urb)
            def producer():
                try:
                    urb.reserve(16, timeout=None)
                except ClosedError:
                    outcomes["ClosedError"] += 1
                except BaseException as e:
                    outcomes[repr(e)] += 1
            t = threading.Thread(target=producer)
            t.start()
            time.sleep(0.001 * i)
            urb.close()
            t.join(10)
            outcomes["stuck" if t.is_alive() else "joined"] += 1
            drained()
        del urb
        gc.collect()
        print(sorted(outcomes.items()), mappings() - 1)  # only .bss left
    """) == ["[('ClosedError', 20), ('joined', 20)] 0"]


def test_signal_handler_closes_during_a_blocking_reserve(bpf_path) -> None:
    assert urb_child(bpf_path, """
        urb = UserRingBuffer(obj.maps["urb"])
        fill(urb)
        signal.signal(signal.SIGALRM, lambda *a: urb.close())
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        try:
            urb.reserve(16, timeout=None)
        except ClosedError as e:
            print("ClosedError:", e, time.monotonic() - t0 < 5)
    """) == ["ClosedError: user ring buffer 'urb' is closed True"]


def test_ctrl_c_during_a_blocking_reserve_leaves_it_usable(bpf_path) -> None:
    assert urb_child(bpf_path, """
        urb = UserRingBuffer(obj.maps["urb"])
        fill(urb)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        try:
            urb.reserve(16, timeout=None)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", time.monotonic() - t0 < 5)
        n = drained()
        urb.write(Msg(1, 2))
        print(drained() == n + 1)
    """) == ["KeyboardInterrupt True", "True"]


def test_bad_sizes_and_timeouts(stream) -> None:
    with UserRingBuffer(stream.maps["urb"]) as urb:
        for size in (2**32 + 16, 2**64, -1, 1.5, True):
            with pytest.raises((ValueError, TypeError), match="size"):
                urb.reserve(size)  # type: ignore[arg-type]
        with pytest.raises(BpfError):
            while True:
                urb.write(MSG.pack(1, 0))
        for timeout in (float("nan"), -1, "1"):
            with pytest.raises((ValueError, TypeError), match="timeout"):
                urb.reserve(16, timeout=timeout)  # type: ignore[arg-type]
        with pytest.raises(BpfError):
            urb.reserve(16, timeout=0.01)
