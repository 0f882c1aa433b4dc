"""cgroup v2 attach kinds on a cgroup the test creates: cgroup_skb ingress/egress counting the
loopback traffic of a process inside it, cgroup/sock_create denying its sockets, several
programs on one hook (links, ordering with before/after, legacy "multi" flags)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import libbpf_py
from libbpf_py import AttachType, BpfError, LinkType
from libbpf_py.attach.net import Attachment, query_programs

pytestmark = [pytest.mark.root, pytest.mark.kernel("cgroup2")]

INGRESS, EGRESS, SEQ, FIRST_SEQ, SECOND_SEQ, DENIED, LEGACY = range(7)
N = 5
# A child that sends N UDP datagrams to itself over loopback (N egress + N ingress packets).
UDP_CHILD = f"""
import socket
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range({N}):
    tx.sendto(b"x", rx.getsockname())
    rx.recv(10)
print("sent")
"""
SOCKET_CHILD = """
import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
except PermissionError:
    print("denied")
else:
    print("allowed")
"""


def cgroup2_root() -> str:
    for line in open("/proc/self/mounts"):
        parts = line.split()
        if parts[2] == "cgroup2":
            return parts[1]
    pytest.fail("no cgroup2 mount", pytrace=False)


@pytest.fixture
def cgroup():
    path = os.path.join(cgroup2_root(), f"libbpf_py-test-{os.getpid()}")
    os.mkdir(path)
    try:
        yield path
    finally:
        os.rmdir(path)  # the children have exited: the cgroup is empty


def run_in(cgroup: str, code: str) -> str:
    """Run ``code`` in a Python child placed in ``cgroup`` before it starts; its stdout."""
    def enter() -> None:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    done = subprocess.run([sys.executable, "-c", code], preexec_fn=enter, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.load(bpf_path("attach_cgroup")) as o:
        yield o


def r(obj, slot: int) -> int:
    return obj.maps["results"][slot]


def test_cgroup_skb_counts_loopback_traffic(obj, cgroup) -> None:
    with obj.programs["count_ingress"].attach_cgroup(cgroup) as ing, \
            obj.programs["count_egress"].attach(cgroup) as egr:  # attach() picks by SEC()
        assert run_in(cgroup, UDP_CHILD) == "sent"
        info = egr.info()
        assert ing.info().attach_type == AttachType.CGROUP_INET_INGRESS
    assert (r(obj, INGRESS), r(obj, EGRESS)) == (N, N)
    assert (info.type, info.attach_type) == (LinkType.CGROUP, AttachType.CGROUP_INET_EGRESS)
    assert info.cgroup_id == os.stat(cgroup).st_ino
    run_in(cgroup, UDP_CHILD)  # detached: not counted
    assert (r(obj, INGRESS), r(obj, EGRESS)) == (N, N)


def test_sock_create_denied(obj, cgroup) -> None:
    with obj.programs["deny_sockets"].attach_cgroup(cgroup):
        assert run_in(cgroup, SOCKET_CHILD) == "denied"
    assert r(obj, DENIED) == 1
    assert run_in(cgroup, SOCKET_CHILD) == "allowed"


@pytest.mark.kernel("cgroup_mprog")
def test_multi_attach_and_ordering(obj, cgroup) -> None:
    first, second = obj.programs["count_egress"], obj.programs["second_egress"]
    with first.attach_cgroup(cgroup) as l1:
        with second.attach_cgroup(cgroup, before=l1):
            q = query_programs(cgroup, AttachType.CGROUP_INET_EGRESS)
            assert q.prog_ids == [second.info().id, first.info().id]
            run_in(cgroup, UDP_CHILD)
    # both ran for every packet, the second one first
    assert r(obj, EGRESS) == N
    assert (r(obj, SECOND_SEQ), r(obj, FIRST_SEQ)) == (2 * N - 1, 2 * N)


def test_legacy_multi_flags(obj, cgroup) -> None:
    prog = obj.programs["legacy_ingress"]
    with prog.attach_cgroup(cgroup, legacy_flags="multi") as att, \
            obj.programs["count_ingress"].attach_cgroup(cgroup):
        assert isinstance(att, Attachment)
        ids = query_programs(cgroup, AttachType.CGROUP_INET_INGRESS).prog_ids
        assert sorted(ids) == sorted([prog.info().id, obj.programs["count_ingress"].info().id])
        run_in(cgroup, UDP_CHILD)
    assert (r(obj, LEGACY), r(obj, INGRESS)) == (N, N)
    assert query_programs(cgroup, AttachType.CGROUP_INET_INGRESS).prog_ids == []


def test_missing_cgroup_is_named(obj) -> None:
    with pytest.raises(BpfError, match="no cgroup '/sys/fs/cgroup/nonexistent-lbpy'"):
        obj.programs["count_ingress"].attach_cgroup("/sys/fs/cgroup/nonexistent-lbpy")
