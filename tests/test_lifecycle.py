"""Lifetimes across handles (issue 10, docs/lifecycle.md): every order of closing an object and
what was made from it, use after close of every handle kind, and interpreter exit with
everything still live. Each runs in a child process: a signal fails the test, naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import python_child

pytestmark = pytest.mark.root

HANDLES = r"""
import collections, ctypes, itertools, os, sys, threading
import libbpf_py
from libbpf_py import ClosedError, MapType, PerfBuffer, RingBuffer, features
from libbpf_py.maps import Map

def make():
    obj = libbpf_py.load(sys.argv[1])
    obj.maps["cfg"][0] = os.getpid()
    return {
        "object": obj,
        "link": obj.programs["ring_events"].attach(),
        "ring": RingBuffer(obj.maps["rb"], lambda d: None),
        "perf": PerfBuffer(obj.maps["pb"], lambda cpu, d: None),
        "map": Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                          max_entries=4),
    }

USE = {
    "object": lambda h: h["object"].maps["cfg"][1],
    # link info of a tracepoint attachment needs perf links (5.15); its fd exists everywhere
    "link": (lambda h: h["link"].info()) if features.has("perf_link") else (
        lambda h: os.fstat(h["link"].fd)),
    "ring": lambda h: h["ring"].poll(0),
    "perf": lambda h: h["perf"].poll(0),
    "map": lambda h: h["map"].get(1),
}
"""

ORDERS = HANDLES + r"""
fds = len(os.listdir("/proc/self/fd"))
anomalies = collections.Counter()
orders = 0
for order in itertools.permutations(USE):
    h = make()
    closed = set()
    for name in order:
        h[name].close()
        closed.add(name)
        if name == "object":
            closed.add("link")  # the object detaches its links (docs/lifecycle.md)
        for other, use in USE.items():
            try:
                use(h)
                outcome = "works"
            except ClosedError:
                outcome = "ClosedError"
            except Exception as e:
                outcome = f"{type(e).__name__}: {e}"
            # closed handles refuse; open ones work (buffers keep their rings, the standalone
            # map is its own owner, whatever closed before them)
            if outcome != ("ClosedError" if other in closed else "works"):
                anomalies[f"{other} after closing {'+'.join(order[:order.index(name) + 1])}: "
                          f"{outcome}"] += 1
    for name in order:  # closing again: nothing happens
        h[name].close()
    orders += 1
    del h
print(orders, sorted(anomalies.items())[:5], len(os.listdir("/proc/self/fd")) - fds)
"""


def test_close_in_every_order_of_five_handles(bpf_path) -> None:
    """An object, its link, a RingBuffer and a PerfBuffer over its maps, a standalone map:
    closed in all 120 orders. After each close, every closed handle raises ClosedError and every
    open one still works; closing twice does nothing; no fd is left."""
    out = python_child(ORDERS, str(bpf_path("stream_events")), timeout=300)
    assert out.splitlines() == ["120 [] 0"]


LIVE_AT_EXIT = HANDLES + r"""
import numpy as np

h = make()
obj = h["object"]
kept = []
h["ring"] = RingBuffer(obj.maps["rb"], lambda d: kept.append(d[0:8]))  # slices keep the ring
obj.maps["cfg"][1] = 4
os.getppid()
h["ring"].poll(1.0)
arrays = []
typed = RingBuffer(obj.maps["rb"], event_type="struct event")
os.getppid()
typed.consume_array(arrays.append)  # numpy arrays over the ring
maps = libbpf_py.load(sys.argv[2])
view = maps.maps["mmapped"].mmap()  # a Map.mmap() lease view, and a numpy array over it
values = np.frombuffer(view, dtype=np.uint64)
mode = sys.argv[3]
if mode == "blocked thread":  # a daemon thread blocked in poll(None) at exit
    started = threading.Event()
    def wait():
        started.set()
        h["perf"].poll(None)
    threading.Thread(target=wait, daemon=True).start()
    started.wait()
elif mode == "exit from a callback":  # SystemExit raised by a callback during poll()
    def leave(d):
        sys.exit(3)
    h["ring"] = RingBuffer(obj.maps["rb"], leave)
    os.getppid()
    h["ring"].poll(1.0)
print("end", len(kept), sum(len(a) for a in arrays), int(values[0]) >= 0, flush=True)
"""


@pytest.mark.parametrize("mode", ["all live", "blocked thread", "exit from a callback"])
def test_interpreter_exit_with_everything_live_is_quiet(bpf_path, mode: str) -> None:
    """A script that ends (or exits from inside a callback, or with a thread blocked in poll)
    with its object, link, buffers, standalone map, kept views and numpy arrays over rings and
    a Map.mmap() all live: exit status as asked, nothing on stderr, no signal."""
    done = subprocess.run([sys.executable, "-c", LIVE_AT_EXIT, str(bpf_path("stream_events")),
                           str(bpf_path("maps")), mode], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == (3 if mode == "exit from a callback" else 0), done.stderr
    assert done.stderr == ""
    assert done.stdout == ("" if mode == "exit from a callback" else "end 4 4 True\n")
