"""bpf_printk() output read through the kernel trace pipe."""

from __future__ import annotations

import os

import pytest

import libbpf_py
from libbpf_py.tracepipe import TracePipe, parse_line

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


def test_parse_line() -> None:
    ln = parse_line("          python3-4242    [001] ...21  7315.123456: bpf_trace_printk: hi: x\n")
    assert ln is not None
    assert (ln.task, ln.pid, ln.cpu, ln.flags, ln.timestamp, ln.message) == (
        "python3", 4242, 1, "...21", 7315.123456, "hi: x")
    assert parse_line("garbage") is None
