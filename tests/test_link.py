"""Links: owned by their object (attached until detached or the object closes, kept or not),
pinning (outlives the object and the process), standalone links from pins."""

from __future__ import annotations

import gc
import os
import subprocess

import pytest

import libbpf_py
from libbpf_py import ClosedError, Link, features

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


def _lookup_fd(map_fd: int, key: int) -> int:
    """counts[key] read through a dup of the map's fd (valid after its object closed)."""
    import ctypes

    k, v = ctypes.c_uint32(key), ctypes.c_uint64()
    if libbpf_py._ffi.lib.bpf_map_lookup_elem(map_fd, ctypes.byref(k), ctypes.byref(v)) != 0:
        return 0
    return v.value


def test_dropped_link_stays_attached_until_its_object_closes(bpf_path) -> None:
    """The link model of libbpf's skeletons and bcc: an attachment lasts until detached or
    until its object closes; dropping the Python reference does not detach it."""
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    counts_fd = os.dup(obj.maps["counts"].fd)
    try:
        obj.programs["on_getppid"].attach()  # result dropped
        gc.collect()
        assert calls(obj, 1) == 1
        (link,) = obj.links  # the object keeps it
        assert link.program == "on_getppid" and not link.closed
        obj.close()  # ... and detaches it
        assert link.closed
        os.getppid()
        assert _lookup_fd(counts_fd, os.getpid()) == 1  # not counted: detached
    finally:
        os.close(counts_fd)


def test_collected_object_detaches_its_links(bpf_path) -> None:
    """An object dropped without close() (the safety net): collected with its links, which it
    detaches, USDT-like borrowers first; nothing is left attached or open."""
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    counts_fd = os.dup(obj.maps["counts"].fd)
    try:
        obj.programs["on_getppid"].attach()
        os.getppid()
        del obj
        gc.collect()
        os.getppid()
        assert _lookup_fd(counts_fd, os.getpid()) == 1
    finally:
        os.close(counts_fd)


def test_object_attach_links_close_with_object(bpf_path) -> None:
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    (link,) = obj.attach()
    assert obj.links == [link]
    assert calls(obj, 1) == 1
    obj.detach()
    assert link.closed and obj.links == []
    assert calls(obj, 1) == 1
    again = obj.attach()
    obj.close()
    assert all(lk.closed for lk in [link, *again])


def test_object_attach_skips_programs_attached_by_hand(traced) -> None:
    """Object.attach() after attaching a tracepoint by hand: skipped, not EEXIST (and a second
    Object.attach() makes nothing new)."""
    mine = traced.programs["on_getppid"].attach()
    assert traced.attach() == []
    assert traced.links == [mine]
    assert calls(traced, 2) == 2  # attached once, not twice
    mine.detach()
    (auto,) = traced.attach()  # detached by hand: attachable again
    assert traced.attach() == []
    assert traced.links == [auto]


def test_object_detach_detaches_links_made_by_hand(traced) -> None:
    link = traced.programs["on_getppid"].attach()
    traced.detach()
    assert link.closed and traced.links == []
    assert calls(traced, 1) == 0


def test_link_of_closed_object_is_detached(bpf_path) -> None:
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    link = obj.programs["on_getppid"].attach()
    assert calls(obj, 2) == 2 and not link.closed
    obj.close()
    assert link.closed and "detached" in repr(link)
    with pytest.raises(ClosedError, match="detached"):
        link.info()
    link.detach()  # idempotent


@pytest.mark.kernel("perf_link")  # info/pin of a tracepoint attachment (5.15)
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


@pytest.mark.kernel("perf_link")  # info/pin of a tracepoint attachment (5.15)
def test_link_from_id_owns_its_own_fd(traced, bpffs) -> None:
    path = os.path.join(bpffs, "by_id")
    with traced.programs["on_getppid"].attach() as link:
        link_id = link.info().id
        assert link_id in list(Link.ids())
        with Link.from_id(link_id) as again:
            assert again.fd != link.fd
            assert (again.info().id, again.info().prog_id) == (
                link_id, traced.programs["on_getppid"].info().id)
        assert again.closed and calls(traced, 1) == 1  # our reference only: still attached
        pinned = Link.from_id(link_id)
        pinned.pin(path)
        assert pinned.pin_path == path and os.path.exists(path)
    assert calls(traced, 1) == 2  # the object's Link is closed; our fd and the pin hold it
    pinned.unpin()
    pinned.close()
    assert not os.path.exists(path) and calls(traced, 1) == 2  # detached now
    with pytest.raises(libbpf_py.BpfError, match=f"open link id {link_id}") as e:
        Link.from_id(link_id)
    assert e.value.errno == 2


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


@pytest.mark.kernel("perf_link")  # a tracepoint attachment is a link to pin (5.15)
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
            if features.has("perf_link_info"):  # before 6.6 the link info stops at the type
                assert (info.perf_event_type, info.tp_name) == ("tracepoint", "sys_enter_getppid")
            link.unpin()
        os.getppid()  # unpinned and our reference closed: detached
        assert _lookup_pinned_count(map_path, os.getpid()) == 3
    finally:
        for p in (link_path, map_path):
            if os.path.exists(p):
                os.unlink(p)


@pytest.mark.kernel("perf_link")  # info/pin of a tracepoint attachment (5.15)
def test_pinned_link_outlives_object_close(bpf_path, bpffs) -> None:
    path = os.path.join(bpffs, "getppid_link")
    obj = libbpf_py.load(bpf_path("getppid"))
    obj.maps["config"][0] = os.getpid()
    counts_fd = os.dup(obj.maps["counts"].fd)
    try:
        obj.programs["on_getppid"].attach().pin(path)
        obj.close()  # the object's Link is closed; the pin keeps the kernel link attached
        os.getppid()
        assert _lookup_fd(counts_fd, os.getpid()) == 1
        with Link.from_pinned(path) as again:
            again.unpin()
        os.getppid()  # unpinned, last reference closed: detached
        assert _lookup_fd(counts_fd, os.getpid()) == 1
    finally:
        os.close(counts_fd)


@pytest.mark.kernel("perf_link")  # info/pin of a tracepoint attachment (5.15)
def test_unclosed_standalone_link_warns(traced, bpffs) -> None:
    path = os.path.join(bpffs, "standalone")
    with traced.programs["on_getppid"].attach() as link:
        link.pin(path)
    standalone = Link.from_pinned(path)
    standalone.unpin()
    with pytest.warns(ResourceWarning, match="unclosed <Link pinned at"):
        del standalone
        gc.collect()
    mine = traced.programs["on_getppid"].attach()  # the object's: no warning when dropped
    del mine
    gc.collect()
    assert len(traced.links) == 1


def test_update_program_refused_for_perf_links(traced) -> None:
    with traced.programs["on_getppid"].attach() as link:
        with pytest.raises(libbpf_py.BpfError, match="update link") as e:
            link.update_program(traced.programs["on_getppid"])
    assert e.value.errno in (22, 95)  # EINVAL / EOPNOTSUPP: perf_event links can't be updated
