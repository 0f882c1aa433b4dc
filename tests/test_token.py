"""BPF tokens end to end: an unprivileged user in a user namespace loads, attaches and reads a
real program through a bpffs a privileged parent delegated to it (libbpf_py.token)."""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
from typing import Any, Callable

import pytest

import libbpf_py
from libbpf_py import token
from libbpf_py._ffi import libc
from libbpf_py.errors import FeatureNotSupportedError

pytestmark = pytest.mark.root
TOKENS = pytest.mark.kernel("bpf_token")

NOBODY = 65534
NR_GETPPID = {"x86_64": 110, "aarch64": 173}.get(os.uname().machine, 110)
NEEDS = dict(cmds=["map_create", "btf_load", "prog_load"], maps=["array"],
             progs=["raw_tracepoint", "socket_filter"], attachs=token.ANY)


def delegated(child: Callable[[int], Any], **delegation: Any) -> Any:
    """Run ``child(mount_fd)`` in a forked process that became user nobody and entered its own
    user and mount namespaces, with a bpffs this (privileged) process delegated to it the way
    container runtimes do: the child opens the bpffs context, the parent sets the delegate_*
    options and mounts it, the child gets the mount fd. Returns what ``child`` returned (JSON);
    its exception is re-raised here as a RuntimeError naming it."""
    parent_sock, child_sock = socket.socketpair()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the unprivileged side
        code = 1
        try:
            parent_sock.close()
            os.close(r)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            libc.prctl(libc.PR_SET_DUMPABLE, 1)  # setuid made /proc/self root's: as a login is
            token.enter_user_namespace()
            fs_fd = token.open_bpffs()
            token.send_fd(child_sock, fs_fd)
            os.close(fs_fd)
            mnt_fd = token.recv_fd(child_sock)
            try:
                result = {"ok": child(mnt_fd)}
            except Exception as e:  # noqa: BLE001 - reported to the parent, which re-raises
                result = {"error": type(e).__name__, "message": str(e),
                          "permission": isinstance(e, PermissionError)}
            os.close(mnt_fd)
            os.write(w, json.dumps(result).encode())
            code = 0
        finally:
            os._exit(code)
    child_sock.close()
    os.close(w)
    try:
        fs_fd = token.recv_fd(parent_sock)  # the privileged side
        try:
            mnt_fd = token.delegate(fs_fd, **delegation)
        finally:
            os.close(fs_fd)
        token.send_fd(parent_sock, mnt_fd)
        os.close(mnt_fd)
        with os.fdopen(r, "rb") as f:
            r = -1
            out = f.read()
    finally:
        if r >= 0:  # delegate() failed: the child sees the socket close and exits
            os.close(r)
        parent_sock.close()
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"child failed: status {status:#x}"
    return json.loads(out)


def count_getppid(data: bytes, **open_opts: Any) -> dict[str, int]:
    """Unprivileged side: load token_count, attach it, call getppid() 5 times, read its map."""
    with libbpf_py.Object.open(data, **open_opts) as opened:
        opened.rodata.target_tgid = os.getpid()
        opened.rodata.nr_getppid = NR_GETPPID
        obj = opened.load()
    with obj:
        links = obj.attach()
        for _ in range(5):
            os.getppid()
        with open("/proc/self/uid_map") as f:
            outside = int(f.read().split()[1])
        return {"links": len(links), "count": obj.maps["counts"][0], "uid": os.getuid(),
                "euid_outside": outside}


@TOKENS
def test_token_path_unprivileged_load_attach_read(bpf_path: Callable[[str], Any]) -> None:
    data = bpf_path("token_count").read_bytes()
    got = delegated(lambda mnt: count_getppid(data, bpf_token_path=token.token_path(mnt)), **NEEDS)
    assert got == {"ok": {"links": 1, "count": 5, "uid": 0, "euid_outside": NOBODY}}


@TOKENS
def test_token_env_var_and_mounted_bpffs(bpf_path: Callable[[str], Any]) -> None:
    data = bpf_path("token_count").read_bytes()

    def child(mnt: int) -> Any:
        where = tempfile.mkdtemp(prefix=f"libbpf_py-token-{os.getpid()}-")
        token.mount(mnt, where)  # in the child's own mount namespace only
        os.environ["LIBBPF_BPF_TOKEN_PATH"] = where
        try:
            return count_getppid(data)
        finally:
            del os.environ["LIBBPF_BPF_TOKEN_PATH"]

    got = delegated(child, **NEEDS)
    assert got["ok"]["count"] == 5 and got["ok"]["links"] == 1


@TOKENS
def test_without_token_unprivileged_load_is_refused(bpf_path: Callable[[str], Any]) -> None:
    data = bpf_path("token_count").read_bytes()
    got = delegated(lambda mnt: count_getppid(data, bpf_token_path=""), **NEEDS)
    assert got["permission"] is True and got["error"] == "BpfPermissionError"


@TOKENS
def test_refused_command_is_named_and_nothing_is_left(bpf_path: Callable[[str], Any]) -> None:
    data = bpf_path("token_count").read_bytes()

    def child(mnt: int) -> Any:
        before = sorted(os.listdir("/proc/self/fd"))
        try:
            count_getppid(data, bpf_token_path=token.token_path(mnt))
        except PermissionError as e:
            return {"message": str(e), "fds_left": sorted(os.listdir("/proc/self/fd")) != before}
        return {"message": "loaded"}

    got = delegated(child, **{**NEEDS, "cmds": ["map_create", "btf_load"]})["ok"]
    assert "with a BPF token" in got["message"]
    assert "delegate_cmds=btf_load:prog_load:map_create" in got["message"]
    assert "delegate_progs=socket_filter:raw_tracepoint" in got["message"]
    assert got["fds_left"] is False


@TOKENS
def test_delegate_names_a_bad_option() -> None:
    fs_fd = token.open_bpffs()
    try:
        with pytest.raises(OSError, match="delegate_progs=no_such_type"):
            token.delegate(fs_fd, cmds=token.ANY, progs=["no_such_type"])
        with pytest.raises(ValueError, match="not a name"):
            token.delegate(fs_fd, cmds=["a:b"])
    finally:
        os.close(fs_fd)


@pytest.mark.kernel_lacks("bpf_token")
def test_delegate_without_tokens_names_the_feature() -> None:
    """A kernel without BPF tokens (before 6.9): the same choreography, from an unprivileged
    user namespace's bpffs context, fails in delegate() with FeatureNotSupportedError naming
    the feature (the kernel's EPERM kept as errno), and no fd is left (the fd-leak check). A
    bpffs context of the initial namespace, which such a kernel mounts ignoring the delegate_*
    options, is refused the same way, its mount closed."""
    with pytest.raises(FeatureNotSupportedError) as e:
        delegated(lambda mnt: None, **NEEDS)
    assert e.value.feature == "bpf_token" and e.value.errno == errno.EPERM
    assert str(e.value) == (
        "token.delegate(): bpf_token is not supported by this kernel (BPF token delegation "
        "needs a kernel with BPF tokens (6.9+): bpffs refused to create the filesystem: "
        "Operation not permitted) (EPERM)")
    fs_fd = token.open_bpffs()
    try:
        before = sorted(os.listdir("/proc/self/fd"))
        with pytest.raises(FeatureNotSupportedError, match=r"\(6\.9\+\): bpffs ignored the "
                           r"delegate_\* options\) \(ENOTSUP\)$") as e:  # = EOPNOTSUPP
            token.delegate(fs_fd, cmds=token.ANY)
        assert e.value.errno == errno.EOPNOTSUPP
        assert sorted(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(fs_fd)
