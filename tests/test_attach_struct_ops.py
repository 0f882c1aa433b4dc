"""struct_ops: a tcp_congestion_ops written in BPF, registered from Python (StructOpsMap.attach,
link.attach_struct_ops) and used by a TCP connection on loopback; with a BPF link
(SEC(".struct_ops.link")) and without one (SEC(".struct_ops"): the Link borrows the map's fd)."""

from __future__ import annotations

import errno
import os
import socket

import pytest

import libbpf_py
from libbpf_py import BpfError, LinkType, Map, MapType
from libbpf_py.link import BORROWS_MAP_FD, attach_struct_ops

pytestmark = [pytest.mark.root, pytest.mark.kernel("struct_ops")]

AVAILABLE = "/proc/sys/net/ipv4/tcp_available_congestion_control"


def available() -> list[str]:
    with open(AVAILABLE) as f:
        return f.read().split()


def open_unique(path) -> tuple[libbpf_py.OpenObject, str]:
    """The object with its congestion control renamed "lbpy<pid>" (the struct's name field,
    written before load): suites running at the same time don't clash."""
    opened = libbpf_py.Object.open(path)
    name = f"lbpy{os.getpid() % 10**8}"
    cc = opened.maps["lbpy_cc"]
    data = bytearray(cc.initial_value)
    at = data.index(b"lbpy_cc\0")
    data[at:at + 16] = name.encode().ljust(16, b"\0")
    cc.initial_value = bytes(data)
    return opened, name


@pytest.mark.kernel("struct_ops_link")  # SEC(".struct_ops.link"): 6.4
def test_tcp_congestion_control_from_bpf(bpf_path) -> None:
    opened, name = open_unique(bpf_path("attach_struct_ops"))
    with opened.load() as obj:
        cc_map = obj.maps["lbpy_cc"]
        with cc_map.attach() as link:
            assert name in available()
            assert (link.has_fd, link.borrows) == (True, "")
            info = link.info()
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsn:
                lsn.bind(("127.0.0.1", 0))
                lsn.listen(1)
                cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                with cli:
                    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, name.encode())
                    cli.connect(lsn.getsockname())
                    srv, _ = lsn.accept()
                    with srv:
                        used = cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
                        cli.sendall(b"z" * 100_000)
                        got = 0
                        while got < 100_000:
                            got += len(srv.recv(65536))
            assert used.rstrip(b"\0") == name.encode()
            assert obj.maps["results"][0] == 1  # init() ran once, for the client socket
        assert name not in available()  # the link unregistered it
    assert info.type == LinkType.STRUCT_OPS
    assert info.map_id > 0


@pytest.mark.kernel("struct_ops_link")  # SEC(".struct_ops.link"): 6.4
def test_struct_ops_link_is_the_objects(bpf_path) -> None:
    opened, name = open_unique(bpf_path("attach_struct_ops"))
    obj = opened.load()
    attach_struct_ops(obj.maps["lbpy_cc"])  # not kept: the object keeps it
    assert name in available()
    obj.close()
    assert name not in available()


def test_struct_ops_without_link_borrows_the_map_fd(bpf_path) -> None:
    """SEC(".struct_ops"): libbpf's link uses the map's own fd (no dup) and detaches with
    bpf_map_delete_elem on it. Object.close() detaches it before closing that fd, so it never
    outlives the object: a late detach() can't act on a closed fd, or on a new map that reused
    its number."""
    opened, name = open_unique(bpf_path("map_struct_ops"))
    obj = opened.load()
    map_fd = obj.maps["lbpy_cc"].fd
    link = obj.maps["lbpy_cc"].attach()
    assert name in available()
    assert (link.has_fd, link.borrows) == (False, BORROWS_MAP_FD)
    for op in (lambda: link.fd, link.info):
        with pytest.raises(BpfError, match="registered without a BPF link") as e:
            op()
        assert e.value.errno == errno.EOPNOTSUPP
    obj.close()
    assert link.closed and name not in available()
    made: list[Map] = []
    try:
        while not made or made[-1].fd < map_fd:  # a new map takes the old fd number
            made.append(Map.create(MapType.HASH, key_size=4, value_size=4, max_entries=1))
        assert made[-1].fd == map_fd
        made[-1][b"\0" * 4] = b"\7\0\0\0"
        link.detach()
        assert made[-1][b"\0" * 4] == b"\7\0\0\0"
    finally:
        for m in made:
            m.close()


def test_struct_ops_before_load_is_refused(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("attach_struct_ops")) as opened:
        with pytest.raises(libbpf_py.BpfError, match="not loaded yet"):
            opened.maps["lbpy_cc"].attach()
