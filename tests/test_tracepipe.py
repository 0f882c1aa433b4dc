"""bpf_printk() output read through the kernel trace pipe."""

from __future__ import annotations

import os

import pytest

import libbpf_py
from libbpf_py.utils.tracepipe import TracePipe, parse_line

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]


def test_printk_reaches_python(bpf_path) -> None:
    with libbpf_py.load(bpf_path("printk")) as obj, TracePipe() as tp:
        obj.maps["config"][0] = os.getpid()
        obj.attach()
        os.getppid()
        os.getppid()
        mine = [ln for ln in tp.lines(timeout=1.0)
                if ln.message == f"libbpf_py says {os.getpid()}"]
    assert len(mine) == 2
    assert all(ln.pid == os.getpid() for ln in mine)
    assert mine[0].timestamp <= mine[1].timestamp


def test_private_instance_sees_printk_and_drains_nobody_else(bpf_path) -> None:
    """Two private pipes each get every bpf_printk line: reading one drains the other's buffer
    no more than the global pipe's (what TracePipe() alone did to every other reader)."""
    want = f"libbpf_py says {os.getpid()}"
    with libbpf_py.load(bpf_path("printk")) as obj, TracePipe(private=True) as one, \
            TracePipe(private=True) as two:
        assert one.instance != two.instance and os.path.isdir(one.instance)
        obj.maps["config"][0] = os.getpid()
        obj.attach()
        os.getppid()
        os.getppid()
        first = [ln.message for ln in one.lines(timeout=1.0) if ln.message == want]
        second = [ln.message for ln in two.lines(timeout=1.0) if ln.message == want]
        where = one.instance
    assert first == second == [want, want]
    assert not os.path.exists(where)  # removed on close


def test_named_instance_and_unclosed_warning() -> None:
    import gc

    name = f"lbpy-test-{os.getpid()}"
    tp = TracePipe(instance=name)
    assert tp.instance.endswith(f"/instances/{name}")
    with pytest.warns(ResourceWarning, match="unclosed <TracePipe instance"):
        del tp
        gc.collect()
    assert not os.path.exists(f"{libbpf_py.features.tracefs_path()}/instances/{name}")
    with pytest.raises(ValueError, match="not a directory name"):
        TracePipe(instance="../x")


def test_parse_line() -> None:
    ln = parse_line("          python3-4242    [001] ...21  7315.123456: bpf_trace_printk: hi: x\n")
    assert ln is not None
    assert (ln.task, ln.pid, ln.cpu, ln.flags, ln.timestamp, ln.message) == (
        "python3", 4242, 1, "...21", 7315.123456, "hi: x")
    assert parse_line("garbage") is None
