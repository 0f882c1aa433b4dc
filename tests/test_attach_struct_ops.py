"""struct_ops: a tcp_congestion_ops written in BPF, registered from Python
(libbpf_py.link.attach_struct_ops) and used by a TCP connection on loopback."""

from __future__ import annotations

import socket

import pytest

import libbpf_py
from libbpf_py import LinkType
from libbpf_py.link import attach_struct_ops

pytestmark = [pytest.mark.root, pytest.mark.kernel("struct_ops")]

AVAILABLE = "/proc/sys/net/ipv4/tcp_available_congestion_control"


def available() -> list[str]:
    with open(AVAILABLE) as f:
        return f.read().split()


def test_tcp_congestion_control_from_bpf(bpf_path) -> None:
    with libbpf_py.load(bpf_path("attach_struct_ops")) as obj:
        cc_map = obj.maps["lbpy_cc"]
        with attach_struct_ops(cc_map) as link:
            assert "lbpy_cc" in available()
            info = link.info()
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsn:
                lsn.bind(("127.0.0.1", 0))
                lsn.listen(1)
                cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                with cli:
                    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"lbpy_cc")
                    cli.connect(lsn.getsockname())
                    srv, _ = lsn.accept()
                    with srv:
                        used = cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
                        cli.sendall(b"z" * 100_000)
                        got = 0
                        while got < 100_000:
                            got += len(srv.recv(65536))
            assert used.rstrip(b"\0") == b"lbpy_cc"
            assert obj.maps["results"][0] == 1  # init() ran once, for the client socket
        assert "lbpy_cc" not in available()  # the link unregistered it
    assert info.type == LinkType.STRUCT_OPS
    assert info.map_id > 0


def test_struct_ops_before_load_is_refused(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("attach_struct_ops")) as opened:
        with pytest.raises(libbpf_py.BpfError, match="not loaded yet"):
            attach_struct_ops(opened.maps["lbpy_cc"])
