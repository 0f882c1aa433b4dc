"""Links: detach on close/with/GC, pinning, links outliving their object."""

from __future__ import annotations

import gc
import os
import subprocess
import tempfile

import pytest

import libbpf_py
from libbpf_py import ClosedError, Link

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]


@pytest.fixture
def traced(bpf_path):
    with libbpf_py.load(bpf_path("getppid")) as obj:
        obj.maps["config"][0] = os.getpid()
        yield obj


def calls(obj, n: int) -> int:
    for _ in range(n):
        os.getppid()
    return obj.maps["counts"].get(os.getpid(), 0)


def test_detach_stops_the_program(traced) -> None:
    link = traced.programs["on_getppid"].attach()
    assert calls(traced, 3) == 3
    link.detach()
    link.detach()  # idempotent
    assert link.closed
    assert calls(traced, 3) == 3
    with pytest.raises(ClosedError, match="detached"):
        link.fd


def test_garbage_collected_link_detaches(traced) -> None:
    traced.programs["on_getppid"].attach()  # result dropped: detached when collected
    gc.collect()
    assert calls(traced, 2) == 0


def test_object_attach_links_close_with_object(bpf_path) -> None:
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    (link,) = obj.attach()
    assert obj.links == [link]
    assert calls(obj, 1) == 1
    obj.detach()
    assert link.closed and obj.links == []
    assert calls(obj, 1) == 1
    obj.attach()
    obj.close()
    assert all(lk.closed for lk in [link])


def test_link_outlives_object_close(bpf_path) -> None:
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    counts_fd = os.dup(obj.maps["counts"].fd)
    link = obj.programs["on_getppid"].attach()
    obj.close()
    try:
        os.getppid()  # the program still runs: the link holds it
        m = libbpf_py._ffi.lib
        import ctypes

        key, val = ctypes.c_uint32(os.getpid()), ctypes.c_uint64()
        assert m.bpf_map_lookup_elem(counts_fd, ctypes.byref(key), ctypes.byref(val)) == 0
        assert val.value == 1
    finally:
        link.detach()
        os.close(counts_fd)


@pytest.fixture
def bpffs():
    d = tempfile.mkdtemp(prefix="libbpf_py-bpffs-")
    subprocess.run(["mount", "-t", "bpf", "bpf", d], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", d], check=True)
        os.rmdir(d)


def test_pin_and_reopen(traced, bpffs) -> None:
    path = os.path.join(bpffs, "getppid_link")
    with traced.programs["on_getppid"].attach() as link:
        link.pin(path)
        assert link.pin_path == path
    # The pinned link keeps the program attached after our Link is gone.
    assert calls(traced, 2) == 2
    with Link.from_pinned(path) as again:
        assert again.fd >= 0
        again.unpin()
    assert not os.path.exists(path)
    assert calls(traced, 2) == 2  # closing the last reference detached it


def test_from_pinned_missing_path(bpffs) -> None:
    with pytest.raises(libbpf_py.BpfError, match="open pinned link") as e:
        Link.from_pinned(os.path.join(bpffs, "nothing"))
    assert e.value.errno == 2


# --- pinned links across processes, info, closing order

CHILD = """
import os, sys
sys.path.insert(0, {package_parent!r})  # the libbpf_py this test imported (installed or in place)
import libbpf_py
obj = libbpf_py.load({obj!r})
obj.maps["config"][0] = {pid}
obj.maps["counts"].pin({map_path!r})
link = obj.programs["on_getppid"].attach()
link.pin({link_path!r})
print("pinned", link.info().id)
"""


def _lookup_pinned_count(map_path: str, key: int) -> int:
    import ctypes

    lib = libbpf_py._ffi.lib
    fd = lib.bpf_obj_get(map_path.encode())
    try:
        k, v = ctypes.c_uint32(key), ctypes.c_uint64()
        if lib.bpf_map_lookup_elem(fd, ctypes.byref(k), ctypes.byref(v)) != 0:
            return 0
        return v.value
    finally:
        os.close(fd)


def test_pinned_link_outlives_its_process(bpf_path, bpffs) -> None:
    import sys
    from pathlib import Path

    link_path = os.path.join(bpffs, "link")
    map_path = os.path.join(bpffs, "counts")
    code = CHILD.format(package_parent=str(Path(libbpf_py.__file__).resolve().parent.parent),
                        obj=str(bpf_path("getppid")), pid=os.getpid(), map_path=map_path,
                        link_path=link_path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    link_id = int(done.stdout.split()[1])
    try:
        for _ in range(3):
            os.getppid()  # the child has exited: its pinned link still runs the program
        assert _lookup_pinned_count(map_path, os.getpid()) == 3
        with Link.from_pinned(link_path) as link:
            info = link.info()
            assert info.id == link_id
            assert info.type == libbpf_py.LinkType.PERF_EVENT
            assert (info.perf_event_type, info.tp_name) == ("tracepoint", "sys_enter_getppid")
            link.unpin()
        os.getppid()  # unpinned and our reference closed: detached
        assert _lookup_pinned_count(map_path, os.getpid()) == 3
    finally:
        for p in (link_path, map_path):
            if os.path.exists(p):
                os.unlink(p)


def test_link_info_and_fd_after_object_close(bpf_path) -> None:
    obj = libbpf_py.load(bpf_path("getppid"))
    link = obj.programs["on_getppid"].attach()
    prog_id = obj.programs["on_getppid"].info().id
    obj.close()  # the link outlives its object by design
    try:
        assert link.fd >= 0
        assert link.info().prog_id == prog_id
    finally:
        link.detach()
    assert link.closed and "detached" in repr(link)


def test_update_program_refused_for_perf_links(traced) -> None:
    with traced.programs["on_getppid"].attach() as link:
        with pytest.raises(libbpf_py.BpfError, match="update link") as e:
            link.update_program(traced.programs["on_getppid"])
    assert e.value.errno in (22, 95)  # EINVAL / EOPNOTSUPP: perf_event links can't be updated
