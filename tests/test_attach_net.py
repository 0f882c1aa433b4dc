"""Networking attach kinds against real packets: XDP (link and netlink modes, query, replace) on
a veth pair whose peer lives in a test network namespace, TCX ingress/egress with ordering,
legacy TC (clsact), netfilter and sk_lookup inside the test namespace, socket filters
(SO_ATTACH_BPF), sockmap with sk_msg and sk_skb. Everything the tests create (netns, veth, tc
hooks) is removed even when a test fails."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import subprocess
import time

import pytest

import libbpf_py
from libbpf_py import AttachType, BpfError, LinkType, features
from libbpf_py.attach.net import Attachment, query_programs, tc_hook_destroy, tc_query
from libbpf_py.attach.net import xdp_query

pytestmark = pytest.mark.root

(XDP_HITS, XDP2_HITS, TCX_FIRST_SEQ, TCX_SECOND_SEQ, TCX_SEQ, TCX_EGRESS_HITS, TC_HITS, NF_HITS,
 SOCK_HITS, LOOKUP_HITS, MSG_BYTES, SKB_BYTES, TCX_FIRST_HITS, TCX_SECOND_HITS) = range(14)
CLONE_NEWNET = 0x40000000
PORT = 47000 + os.getpid() % 1000
HOST_IP, PEER_IP = "10.211.0.1", "10.211.0.2"
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def in_netns(name: str):
    """Run the block (this thread) inside network namespace ``name``; sockets created there
    stay in it."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)
        os.close(target)


class Net:
    def __init__(self) -> None:
        tag = os.getpid() % 100000
        self.ns = f"lbpy-ns{tag}"
        self.host = f"lbpyh{tag}"  # in our namespace
        self.peer = f"lbpyp{tag}"  # in self.ns

    def send_from_peer(self, count: int, payload: bytes = b"x") -> None:
        """UDP datagrams from the namespace to HOST_IP:PORT (arrive on self.host)."""
        with in_netns(self.ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            for _ in range(count):
                s.sendto(payload, (HOST_IP, PORT))


@pytest.fixture
def net():
    if subprocess.run(["which", "ip"], capture_output=True).returncode:
        pytest.fail("iproute2 is needed (apt-get install iproute2)", pytrace=False)
    n = Net()
    try:
        ip("netns", "add", n.ns)
        ip("link", "add", n.host, "type", "veth", "peer", "name", n.peer, "netns", n.ns)
        ip("addr", "add", f"{HOST_IP}/24", "dev", n.host)
        ip("link", "set", n.host, "up")
        ip("-n", n.ns, "addr", "add", f"{PEER_IP}/24", "dev", n.peer)
        ip("-n", n.ns, "link", "set", n.peer, "up")
        ip("-n", n.ns, "link", "set", "lo", "up")
        yield n
    finally:
        subprocess.run(["ip", "link", "del", n.host], capture_output=True)
        subprocess.run(["ip", "netns", "del", n.ns], capture_output=True)


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.Object.open(bpf_path("attach_net")) as opened:
        for prog in opened.programs.values():  # the kernel may lack netfilter or tcx programs
            section = prog.section
            if section == "netfilter" or section.startswith("tcx/"):
                prog.autoload = features.has(section.split("/")[0])
        o = opened.load()
    with o:
        o.maps["config"][1] = PORT
        yield o


def r(obj, slot: int) -> int:
    return obj.maps["results"][slot]


def wait_for(cond, what: str) -> None:
    """Packets are processed asynchronously (NAPI, softirq): wait until ``cond()`` (a
    correctness guard, not a timing assertion: 10 s means the packet never came)."""
    deadline = time.monotonic() + 10
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def receiver(addr: str = HOST_IP, port: int = PORT):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((addr, port))
        s.settimeout(10)
        yield s
    finally:
        s.close()


# --- XDP


@pytest.mark.kernel("xdp")
def test_xdp_link_pass_then_drop(obj, net) -> None:
    prog = obj.programs["xdp_udp"]
    with receiver() as rx, prog.attach_xdp(net.host) as link:
        net.send_from_peer(2, b"hello")
        assert rx.recv(100) == b"hello" and rx.recv(100) == b"hello"  # XDP_PASS: delivered
        assert r(obj, XDP_HITS) == 2
        obj.maps["config"][2] = 1  # now XDP_DROP
        net.send_from_peer(3)
        wait_for(lambda: r(obj, XDP_HITS) == 5, "3 packets seen by XDP")
        rx.setblocking(False)
        with pytest.raises(BlockingIOError):
            rx.recv(100)  # dropped before the stack saw them
        info = link.info()
        assert xdp_query(net.host).prog_id == prog.info().id
    assert (info.type, info.ifindex) == (LinkType.XDP, socket.if_nametoindex(net.host))
    assert xdp_query(net.host).prog_id == 0  # detached


@pytest.mark.kernel("xdp")
def test_xdp_link_update_program(obj, net) -> None:
    with receiver() as rx, obj.programs["xdp_udp"].attach_xdp(net.host) as link:
        link.update_program(obj.programs["xdp_other"])
        net.send_from_peer(1)
        rx.recv(100)
        assert (r(obj, XDP_HITS), r(obj, XDP2_HITS)) == (0, 1)
        assert link.info().prog_id == obj.programs["xdp_other"].info().id


@pytest.mark.kernel("xdp")
@pytest.mark.parametrize("mode", ["skb", "drv"])
def test_xdp_modes_query_and_replace(obj, net, mode) -> None:
    first, second = obj.programs["xdp_udp"], obj.programs["xdp_other"]
    with receiver() as rx:
        with first.attach_xdp(net.host, mode=mode) as att:
            assert isinstance(att, Attachment)
            q = xdp_query(net.host)
            assert q.mode == mode
            assert getattr(q, f"{mode}_prog_id") == q.prog_id == first.info().id
            with pytest.raises(BpfError) as e:
                second.attach_xdp(net.host, mode=mode, exclusive=True)
            assert e.value.errno == errno.EBUSY
            net.send_from_peer(1)
            rx.recv(100)
            assert r(obj, XDP_HITS) == 1
            with second.attach_xdp(net.host, mode=mode, replace=first):
                assert xdp_query(net.host).prog_id == second.info().id
                net.send_from_peer(1)
                rx.recv(100)
                assert (r(obj, XDP_HITS), r(obj, XDP2_HITS)) == (1, 1)
            att.detach()  # first was replaced: detaching it is a no-op, never second's removal
        assert xdp_query(net.host).prog_id == 0


def test_xdp_unknown_interface_is_named(obj) -> None:
    with pytest.raises(BpfError, match="no network interface 'lbpy-none0'") as e:
        obj.programs["xdp_udp"].attach_xdp("lbpy-none0")
    assert e.value.errno == errno.ENODEV
    with pytest.raises(BpfError, match="no network interface 'lbpy-none0'"):
        obj.programs["tcx_first"].attach_tcx("lbpy-none0")


# --- TCX and legacy TC


@pytest.mark.kernel("tcx")
def test_tcx_ingress_ordering(obj, net) -> None:
    first, second = obj.programs["tcx_first"], obj.programs["tcx_second"]
    with receiver() as rx, first.attach_tcx(net.host) as l1:
        with second.attach_tcx(net.host, "ingress", before=l1) as l2:
            order = query_programs(net.host, AttachType.TCX_INGRESS)
            assert order.prog_ids == [second.info().id, first.info().id]
            assert order.link_ids == [l2.info().id, l1.info().id]
            net.send_from_peer(1)
            rx.recv(100)
            assert (r(obj, TCX_SECOND_SEQ), r(obj, TCX_FIRST_SEQ)) == (1, 2)
            info = l2.info()
        assert query_programs(net.host, AttachType.TCX_INGRESS).prog_ids == [first.info().id]
    assert (info.type, info.attach_type) == (LinkType.TCX, AttachType.TCX_INGRESS)
    assert info.ifindex == socket.if_nametoindex(net.host)


@pytest.mark.kernel("tcx")
def test_tcx_after_program_and_egress(obj, net) -> None:
    first, second = obj.programs["tcx_first"], obj.programs["tcx_second"]
    with first.attach_tcx(net.host), second.attach_tcx(net.host, after=first):
        assert query_programs(net.host, AttachType.TCX_INGRESS).prog_ids == [
            first.info().id, second.info().id]
    with obj.programs["tcx_out"].attach_tcx(net.host) as out:  # direction from SEC()
        assert out.info().attach_type == AttachType.TCX_EGRESS
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(3):
                tx.sendto(b"out", (PEER_IP, PORT))
        wait_for(lambda: r(obj, TCX_EGRESS_HITS) == 3, "3 packets on TCX egress")


@pytest.mark.kernel("sched_cls")
def test_legacy_tc_clsact(obj, net) -> None:
    prog = obj.programs["tc_count"]
    try:
        with receiver() as rx:
            with prog.attach_tc(net.host, "ingress", priority=3, handle=7) as att:
                assert tc_query(net.host, "ingress", handle=7, priority=3) == prog.info().id
                assert att.info["prog_id"] == prog.info().id
                net.send_from_peer(2)
                rx.recv(100)
                rx.recv(100)
                assert r(obj, TC_HITS) == 2
            assert tc_query(net.host, "ingress", handle=7, priority=3) is None
            net.send_from_peer(1)
            rx.recv(100)
            assert r(obj, TC_HITS) == 2
    finally:
        tc_hook_destroy(net.host)
    out = subprocess.run(["tc", "qdisc", "show", "dev", net.host], capture_output=True,
                         text=True).stdout
    assert "clsact" not in out


@pytest.mark.kernel("sched_cls")
def test_legacy_tc_detached_in_its_own_namespace(obj, net) -> None:
    """A TC filter attached inside a network namespace and detached from another one is removed
    in the namespace it was made in (not "Parent Qdisc doesn't exists", swallowed)."""
    prog = obj.programs["tc_count"]
    with in_netns(net.ns):
        att = prog.attach_tc(net.peer, "ingress", priority=2, handle=5)
        assert tc_query(net.peer, "ingress", handle=5, priority=2) == prog.info().id
    att.detach()  # from our own namespace
    with in_netns(net.ns):
        assert tc_query(net.peer, "ingress", handle=5, priority=2) is None


@pytest.mark.kernel("xdp")
def test_xdp_netlink_detached_in_its_own_namespace(obj, net) -> None:
    prog = obj.programs["xdp_udp"]
    with in_netns(net.ns):
        att = prog.attach_xdp(net.peer, mode="skb")
        assert xdp_query(net.peer).prog_id == prog.info().id
    att.detach()
    with in_netns(net.ns):
        assert xdp_query(net.peer).prog_id == 0


def clsact(interface: str) -> bool:
    out = subprocess.run(["tc", "qdisc", "show", "dev", interface], capture_output=True,
                         text=True, check=True).stdout
    return "clsact" in out


@pytest.mark.kernel("sched_cls")
def test_legacy_tc_says_whether_it_created_the_hook(obj, net) -> None:
    """"Destroy only what I created": attach_tc reports whether it made the clsact qdisc, and
    with destroy_hook=True its detach removes the qdisc it made (and only that)."""
    prog = obj.programs["tc_count"]
    try:
        first = prog.attach_tc(net.host, "ingress", handle=1, destroy_hook=True)
        second = prog.attach_tc(net.host, "egress", handle=2, destroy_hook=True)
        assert (first.info["hook_created"], second.info["hook_created"]) == (True, False)
        second.detach()
        assert clsact(net.host)  # the hook was not second's to destroy
        first.detach()
        assert not clsact(net.host)
        subprocess.run(["tc", "qdisc", "add", "dev", net.host, "clsact"], check=True)
        with prog.attach_tc(net.host, destroy_hook=True) as att:
            assert att.info["hook_created"] is False
        assert clsact(net.host)  # someone else's hook stays
    finally:
        tc_hook_destroy(net.host)


def test_tc_query_of_nothing_is_quiet(obj, net, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG, logger="libbpf_py"):
        assert tc_query(net.host, "ingress", handle=9, priority=9) is None  # no hook at all
        with obj.programs["tc_count"].attach_tc(net.host, handle=1, destroy_hook=True):
            assert tc_query(net.host, "ingress", handle=9, priority=9) is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- netfilter, sk_lookup (inside the test namespace)


@pytest.mark.kernel("netfilter")
def test_netfilter_local_in(obj, net) -> None:
    with in_netns(net.ns):
        link = obj.programs["nf_count"].attach_netfilter(socket.AF_INET, "local_in", -128)
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with link, rx, tx:
        rx.bind(("127.0.0.1", PORT))
        rx.settimeout(10)
        for _ in range(4):
            tx.sendto(b"nf", ("127.0.0.1", PORT))
            rx.recv(10)
        info = link.info()
    assert r(obj, NF_HITS) == 4  # the namespace has no other traffic
    assert (info.type, info.pf, info.hooknum, info.priority) == (LinkType.NETFILTER, 2, 1, -128)


@pytest.mark.kernel("sk_lookup")
def test_sk_lookup_in_netns(obj, net) -> None:
    with in_netns(net.ns):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with obj.programs["lookup_count"].attach_netns(f"/run/netns/{net.ns}") as link, rx, tx:
        rx.bind(("127.0.0.1", PORT))
        rx.settimeout(10)
        for _ in range(3):
            tx.sendto(b"q", ("127.0.0.1", PORT))
            rx.recv(10)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as here:  # our namespace
            here.sendto(b"q", ("127.0.0.1", PORT))
        info = link.info()
    assert r(obj, LOOKUP_HITS) == 3
    assert (info.type, info.attach_type) == (LinkType.NETNS, AttachType.SK_LOOKUP)
    assert info.netns_ino == os.stat(f"/run/netns/{net.ns}").st_ino


# --- sockets


def test_socket_filter(obj) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        with obj.programs["sock_filter"].attach_socket(rx):
            for payload in (b"keep1", b"dropD", b"keep2"):
                tx.sendto(payload, rx.getsockname())
            assert rx.recv(100) == b"keep1"
            assert rx.recv(100) == b"keep2"
        tx.sendto(b"afterD", rx.getsockname())  # detached: everything is delivered
        assert rx.recv(100) == b"afterD"
    assert r(obj, SOCK_HITS) == 3


def test_socket_filter_detach_never_touches_a_new_socket(obj) -> None:
    """The socket an Attachment was made on was closed and a new socket got its fd number:
    detach() leaves the new socket's filter alone (the old one went with its socket)."""
    prog = obj.programs["sock_filter"]
    old = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    number = old.fileno()
    first = prog.attach_socket(old)
    old.close()
    spare: list[socket.socket] = []
    try:
        while not spare or spare[-1].fileno() < number:
            spare.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        new = spare[-1]
        assert new.fileno() == number
        new.bind(("127.0.0.1", 0))
        new.settimeout(10)
        with prog.attach_socket(new), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            first.detach()
            tx.sendto(b"dropD", new.getsockname())  # still filtered: dropped
            tx.sendto(b"keep", new.getsockname())
            assert new.recv(100) == b"keep"
    finally:
        for s in spare:
            s.close()


def test_sockmap_sk_msg_and_sk_skb(obj) -> None:
    socks = obj.maps["socks"]
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with lsn:
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        cli = socket.create_connection(lsn.getsockname())
        srv, _ = lsn.accept()
    with cli, srv:
        msg = obj.programs["msg_count"].attach_sockmap(socks)
        verdict = obj.programs["skb_count"].attach_sockmap(socks)
        with msg, verdict:
            key, val = ctypes.c_uint32(0), ctypes.c_uint32(cli.fileno())
            assert libbpf_py._ffi.lib.bpf_map_update_elem(socks.fd, ctypes.byref(key),
                                                          ctypes.byref(val), 0) == 0
            cli.sendall(b"12345")  # sk_msg runs on the sender in the map
            assert srv.recv(100) == b"12345"
            srv.sendall(b"abcdefgh")  # sk_skb verdict runs on what cli receives
            assert cli.recv(100) == b"abcdefgh"
            assert (r(obj, MSG_BYTES), r(obj, SKB_BYTES)) == (5, 8)
            libbpf_py._ffi.lib.bpf_map_delete_elem(socks.fd, ctypes.byref(key))
    assert msg.closed and verdict.closed


@pytest.mark.kernel("sockmap_link")
def test_sockmap_attachment_is_a_link(obj) -> None:
    with obj.programs["skb_count"].attach_sockmap(obj.maps["socks"]) as verdict:
        assert isinstance(verdict, libbpf_py.Link)
        info = verdict.info()
    assert (info.type, info.attach_type) == (LinkType.SOCKMAP, AttachType.SK_SKB_STREAM_VERDICT)
