"""Map definitions set before load (autocreate, type, key_size, value_size, max_entries), and the
pattern ported tools build on them: choose, before load, between a ring buffer and a perf buffer
(bcc's libbpf-tools fall back to perf buffers where ring buffers are missing), then stream the
events from whichever was chosen."""

from __future__ import annotations

import os
import struct

import pytest

import libbpf_py
from libbpf_py import BpfError, MapType, PerfBuffer, RingBuffer

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]

EVENT = struct.Struct("=IIQ")  # struct event: pid, kind (1 ring, 2 perf), magic


def test_setters_before_load_and_refused_after(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("event_fallback")) as opened:
        events = opened.maps["events"]
        assert (events.type, events.autocreate) == (MapType.RINGBUF, True)
        events.type = MapType.PERF_EVENT_ARRAY
        events.key_size = 4
        events.value_size = 4
        assert (events.type, events.key_size, events.value_size) == (
            MapType.PERF_EVENT_ARRAY, 4, 4)
        assert type(events).__name__ == "EventMap"
        opened.maps["heap"].type = MapType.ARRAY  # a kind change changes the class
        assert type(opened.maps["heap"]).__name__ == "Map"
        heap = opened.maps["heap"]
        heap.type = MapType.QUEUE  # across the split: a Map becomes a MapBase kind, in place
        assert type(heap).__name__ == "QueueMap" and opened.maps["heap"] is heap
        assert not hasattr(heap, "items") and hasattr(heap, "push")
        heap.type = MapType.HASH
        assert type(heap).__name__ == "Map" and hasattr(heap, "items")
        heap.type = MapType.QUEUE
        opened.maps["rb"].autocreate = False
        assert opened.maps["rb"].autocreate is False


def test_setters_after_load_are_refused(bpf_path) -> None:
    with libbpf_py.load(bpf_path("event_fallback")) as obj:
        for name, value in (("type", MapType.HASH), ("key_size", 8), ("autocreate", False)):
            with pytest.raises(BpfError, match=f"set {name} of map 'events': only possible "
                               "before load"):
                setattr(obj.maps["events"], name, value)


def run_events(obj: libbpf_py.Object, buffer_map) -> list[tuple[int, int, int]]:
    got: list[tuple[int, int, int]] = []

    def on_event(*args) -> None:
        got.append(EVENT.unpack_from(args[-1]))  # PerfBuffer passes (cpu, data)

    obj.attach()
    kind = PerfBuffer if buffer_map.type == MapType.PERF_EVENT_ARRAY else RingBuffer
    with kind(buffer_map, on_event) as buf:
        for _ in range(3):
            os.getppid()
        while len(got) < 3 and buf.poll(timeout=5.0):
            pass
    return got


@pytest.mark.parametrize("use_ringbuf", [True, False], ids=["ringbuf", "perfbuf"])
def test_two_programs_one_chosen_before_load(bpf_path, use_ringbuf: bool) -> None:
    """One program per buffer kind: the other's autoload and its map's autocreate go off."""
    with libbpf_py.Object.open(bpf_path("event_fallback")) as opened:
        opened.rodata.target_pid = os.getpid()
        for name in ("emit_compat", "emit_pb" if use_ringbuf else "emit_rb"):
            opened.programs[name].autoload = False
        for name in ("events", "heap", "pb" if use_ringbuf else "rb"):
            opened.maps[name].autocreate = False
        obj = opened.load()
    with obj:
        chosen = obj.maps["rb" if use_ringbuf else "pb"]
        got = run_events(obj, chosen)
        unused = obj.maps["pb" if use_ringbuf else "rb"]
        with pytest.raises(BpfError, match=f"map '{unused.name}' has no fd: it was not "
                           "created"):
            unused.fd
    kind = 1 if use_ringbuf else 2
    assert got == [(os.getpid(), kind, 0xfa11bac0)] * 3


@pytest.mark.parametrize("use_ringbuf", [True, False], ids=["ringbuf", "perfbuf"])
def test_libbpf_tools_compat_pattern(bpf_path, use_ringbuf: bool) -> None:
    """libbpf-tools' bpf_buffer__new(): one "events" map retyped before load."""
    with libbpf_py.Object.open(bpf_path("event_fallback")) as opened:
        opened.rodata.target_pid = os.getpid()
        opened.rodata.use_ringbuf = use_ringbuf
        for name in ("emit_rb", "emit_pb"):
            opened.programs[name].autoload = False
        for name in ("rb", "pb"):
            opened.maps[name].autocreate = False
        events = opened.maps["events"]
        if use_ringbuf:
            opened.maps["heap"].autocreate = False
        else:
            events.type = MapType.PERF_EVENT_ARRAY
            events.key_size = 4
            events.value_size = 4
        obj = opened.load()
    with obj:
        assert obj.maps["events"].info().type == (MapType.RINGBUF if use_ringbuf
                                                  else MapType.PERF_EVENT_ARRAY)
        got = run_events(obj, obj.maps["events"])
    assert got == [(os.getpid(), 1 if use_ringbuf else 2, 0xfa11bac0)] * 3
