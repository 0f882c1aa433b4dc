"""perf_event sampling on every CPU (perf events opened with libbpf_py.attach.perf_event) and BPF
iterators (task iterator read as text, map-element iterator read as bytes)."""

from __future__ import annotations

import errno
import os
import struct
import sys
import threading
import time

import pytest

import libbpf_py
from libbpf_py import BpfError, LinkType, features
from libbpf_py.attach.tracing import IterLink
from libbpf_py.attach.perf_event import PERF_COUNT_SW_CPU_CLOCK, PERF_TYPE_SOFTWARE, online_cpus
from libbpf_py.attach.perf_event import open_perf_event

pytestmark = pytest.mark.root


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.load(bpf_path("attach_perf")) as o:
        o.maps["config"][0] = os.getpid()
        yield o


def spin_on(cpu: int, until) -> None:
    """Burn CPU on ``cpu`` (in a thread of this process) until ``until()``; 30 s at most."""
    def run() -> None:
        os.sched_setaffinity(0, {cpu})
        deadline = time.monotonic() + 30
        while not until() and time.monotonic() < deadline:
            sum(range(10000))
    t = threading.Thread(target=run)
    t.start()
    t.join()


@pytest.mark.kernel("perf_event")
def test_cpu_clock_sampling_on_every_cpu(obj) -> None:
    cpus = online_cpus()
    results = obj.maps["results"]
    # A cookie where the kernel has them (perf links, 5.15); the BPF side reads 0 elsewhere.
    cookie = 0x5A if features.has("perf_event_cookie") else 0
    links = obj.programs["on_sample"].attach_perf_events(
        type=PERF_TYPE_SOFTWARE, config=PERF_COUNT_SW_CPU_CLOCK, sample_period=100_000,
        cookie=cookie)
    try:
        assert len(links) == len(cpus)
        for cpu in cpus:
            spin_on(cpu, lambda: results[cpu] > 0)
        if not features.has("perf_link"):  # an ioctl attachment (before 5.15): no link info
            with pytest.raises(BpfError, match="bpf_link_get_info_by_fd"):
                links[0].info()
        else:
            info = links[0].info()
    finally:
        for link in links:
            link.detach()
    assert all(results[cpu] > 0 for cpu in cpus), {cpu: results[cpu] for cpu in cpus}
    assert results[32] == cookie
    if not features.has("perf_link"):
        return
    assert info.type == LinkType.PERF_EVENT
    # (info.event_type is the PMU type the kernel resolved the event to: not asserted)
    if features.has("perf_link_info"):  # before 6.6: the link info stops at the type
        assert (info.perf_event_type, info.config, info.cookie) == (
            "event", PERF_COUNT_SW_CPU_CLOCK, cookie)
    # detached: no more samples
    before = [results[cpu] for cpu in cpus]
    sum(range(200000))
    assert [results[cpu] for cpu in cpus] == before


@pytest.mark.kernel("perf_event")
def test_named_software_event_counts() -> None:
    """PerfType/PerfSWConfig name what the kernel counts: context switches of this process."""
    from libbpf_py.attach.perf_event import PERF_COUNT_SW_CONTEXT_SWITCHES, PerfSWConfig, PerfType

    assert PERF_COUNT_SW_CONTEXT_SWITCHES is PerfSWConfig.CONTEXT_SWITCHES
    fd = open_perf_event(PerfType.SOFTWARE, PerfSWConfig.CONTEXT_SWITCHES, pid=0, cpu=-1)
    try:
        for _ in range(5):
            time.sleep(0.001)  # each sleep switches out
        assert int.from_bytes(os.read(fd, 8), sys.byteorder) >= 5
    finally:
        os.close(fd)


@pytest.mark.kernel("perf_event")
def test_missing_hardware_event_suggests_a_software_one() -> None:
    from libbpf_py.attach.perf_event import PerfHWConfig, PerfType

    try:
        fd = open_perf_event(PerfType.HARDWARE, PerfHWConfig.CPU_CYCLES, cpu=0, sample_freq=99)
    except libbpf_py.BpfError as e:  # no PMU for it (this VM has none)
        assert e.errno == errno.ENOENT
        assert "config=PerfHWConfig.CPU_CYCLES" in str(e)
        assert "no hardware PMU" in str(e)
        assert "type=PerfType.SOFTWARE, config=PerfSWConfig.CPU_CLOCK" in str(e)
    else:  # a machine with a PMU samples cycles
        os.close(fd)


@pytest.mark.kernel("perf_event")
def test_attach_perf_event_takes_the_fd(obj) -> None:
    fd = open_perf_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, cpu=0, sample_period=10**6)
    link = obj.programs["on_sample"].attach_perf_event(fd)
    link.detach()  # closes fd: the fd-leak check of this test proves it
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.kernel("tracing")
def test_task_iterator_as_text(obj) -> None:
    with obj.programs["dump_task"].attach_iter() as link:
        assert isinstance(link, IterLink)
        text = link.read_text()
        again = link.read_text()  # every read is a new pass
        info = link.info()
    comm = open("/proc/self/comm").read().strip()[:15]
    threads = sorted(int(t) for t in os.listdir("/proc/self/task"))
    lines = text.splitlines()
    assert sorted(int(line.split()[0]) for line in lines) == threads
    assert f"{os.getpid()} {os.getpid()} {comm}" in lines
    assert again == text
    assert (info.type, info.target_name) == (LinkType.ITER, "task")


@pytest.mark.kernel("tracing")
@pytest.mark.kernel("task_iter_filter")
def test_task_iterator_filtered_by_pid(obj) -> None:
    obj.maps["config"][0] = 0  # the program prints every task; the link limits it to one
    with obj.programs["dump_task"].attach_iter(pid=os.getpid()) as link:
        lines = link.read_text().splitlines()
        info = link.info()
    assert sorted(int(line.split()[0]) for line in lines) == sorted(
        int(t) for t in os.listdir("/proc/self/task"))
    assert info.pid == os.getpid()


def map_id(m) -> int:
    import ctypes

    buf = ctypes.create_string_buffer(128)  # struct bpf_map_info: type, id, ...
    n = ctypes.c_uint32(len(buf))
    libbpf_py._ffi.lib.bpf_obj_get_info_by_fd(m.fd, buf, ctypes.byref(n))
    return struct.unpack_from("=I", buf, 4)[0]


@pytest.mark.kernel("tracing")
def test_map_iterator_as_bytes(obj) -> None:
    """iter/bpf_map walks every map of the system; the program writes (id, max_entries) of
    maps named "table" as raw u32 pairs."""
    table = obj.maps["table"]
    with obj.programs["dump_maps"].attach_iter() as link:
        data = link.read()
        with link.open() as f:
            streamed = f.read()
        info = link.info()
    records = list(struct.iter_unpack("=II", data))
    assert (map_id(table), 16) in records
    assert all(max_entries == 16 for _, max_entries in records)
    assert streamed == data
    assert (info.type, info.target_name) == (LinkType.ITER, "bpf_map")
