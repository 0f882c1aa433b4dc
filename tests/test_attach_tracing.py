"""BTF tracing attach kinds on the real kernel: tp_btf, fentry/fexit, fmod_ret, freplace, BPF LSM,
and the kprobe family's clear error on a kernel without kprobes."""

from __future__ import annotations

import errno
import os
import socket

import pytest
from conftest import load_cookie

import libbpf_py
from libbpf_py import BpfError, FeatureNotSupportedError, Link, LinkType, features

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracing")]

# fentry/fexit/fmod_ret/LSM/freplace need BPF trampolines; some kernels refuse every such
# program with EPERM before verification (libbpf_py.features "trampolines" probes that).
trampolines = pytest.mark.kernel("trampolines")

ARCH_PREFIX = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}.get(os.uname().machine)
NR_GETPGID = {"x86_64": 121, "aarch64": 155}.get(os.uname().machine)
TP_BTF_COOKIE, TP_BTF_HITS, FENTRY_HITS, FEXIT_RET, FEXIT_HITS, FMOD_A = range(6)
LSM_FAMILY, LSM_TYPE, LSM_PROTOCOL, LSM_DENIED, FENTRY_COOKIE = range(6, 11)


@pytest.fixture
def tracing(bpf_path):
    if ARCH_PREFIX is None:
        pytest.skip(f"no syscall symbol prefix known for {os.uname().machine}")
    opened = libbpf_py.Object.open(bpf_path("attach_tracing"))
    with opened:
        set_cookie_reads(opened)
        for name in ("on_getpgid_entry", "on_getpgid_exit"):
            opened.programs[name].set_attach_target(ARCH_PREFIX + "getpgid")
        # the kernel may refuse fmod_ret alone (5.10 without error injection): the rest loads
        opened.programs["replace_return"].autoload = features.has("fmod_ret")
        obj = opened.load()
    with obj:
        obj.maps["config"][0] = os.getpid()
        obj.maps["config"][1] = NR_GETPGID
        yield obj


@pytest.fixture
def tp_btf(bpf_path):
    """Only the tp_btf program (no trampoline needed)."""
    with libbpf_py.Object.open(bpf_path("attach_tracing")) as opened:
        set_cookie_reads(opened)
        for name, prog in opened.programs.items():
            prog.autoload = name == "on_sys_enter"
        obj = opened.load()
    with obj:
        obj.maps["config"][0] = os.getpid()
        obj.maps["config"][1] = NR_GETPGID
        yield obj


def set_cookie_reads(opened) -> None:
    """Read cookies in BPF only where this kernel lets these program types read them."""
    opened.rodata.tp_btf_cookie = libbpf_py.features.has("raw_tp_cookie")
    opened.rodata.fentry_cookie = libbpf_py.features.has("tracing_cookie")


def result(obj, slot: int) -> int:
    return obj.maps["results"][slot]


@pytest.mark.kernel("raw_tp_cookie")
def test_tp_btf_with_cookie(tp_btf) -> None:
    tracing = tp_btf
    with tracing.programs["on_sys_enter"].attach_trace(cookie=0xABCDEF) as link:
        for _ in range(3):
            os.getpgid(0)
        info = link.info()
    assert result(tracing, TP_BTF_HITS) == 3
    assert result(tracing, TP_BTF_COOKIE) == 0xABCDEF
    # tp_btf links are raw tracepoint links; their info reports the cookie since 6.14 or so
    reported = 0xABCDEF if libbpf_py.features.has("raw_tp_link_info_cookie") else 0
    assert (info.type, info.tp_name, info.cookie) == (LinkType.RAW_TRACEPOINT, "sys_enter",
                                                      reported)
    assert info.prog_id == tracing.programs["on_sys_enter"].info().id


def test_tp_btf_by_section(tp_btf) -> None:
    tracing = tp_btf
    with tracing.programs["on_sys_enter"].attach():
        os.getpgid(0)
    assert result(tracing, TP_BTF_HITS) == 1
    assert result(tracing, TP_BTF_COOKIE) == 0


@trampolines
def test_fentry_fexit_on_syscall(tracing) -> None:
    entry, exit_ = tracing.programs["on_getpgid_entry"], tracing.programs["on_getpgid_exit"]
    cookie = 5 if libbpf_py.features.has("tracing_cookie") else 0  # 5.19
    with entry.attach_trace(cookie=cookie), exit_.attach() as link:
        expected = os.getpgid(0)
        os.getpgid(0)
        info = link.info()
    os.getpgid(0)  # detached: not counted
    assert result(tracing, FENTRY_HITS) == 2
    assert result(tracing, FENTRY_COOKIE) == cookie
    assert result(tracing, FEXIT_HITS) == 2
    assert result(tracing, FEXIT_RET) == expected
    assert info.attach_type == libbpf_py.AttachType.TRACE_FEXIT


def test_set_attach_target_unknown_function(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("attach_tracing")) as opened:
        with pytest.raises(BpfError, match="no kernel function 'no_such_function_xyz'") as e:
            opened.programs["on_getpgid_entry"].set_attach_target("no_such_function_xyz")
    assert e.value.errno == errno.ENOENT


@trampolines
@pytest.mark.kernel("fmod_ret")
def test_fmod_ret_driven_by_test_run(tracing) -> None:
    prog = tracing.programs["replace_return"]
    retvals = {}
    with prog.attach_trace():
        for replacement in (0, 1000, 1500):  # 0 keeps bpf_modify_return_test's own result
            tracing.maps["config"][2] = replacement
            retvals[replacement] = prog.test_run().retval
            assert result(tracing, FMOD_A) == 1  # test_run calls bpf_modify_return_test(1, &b)
    # test_run returns side_effects << 16 | the sum of what bpf_modify_return_test (and, on
    # newer kernels, bpf_modify_return_test2) returned; the functions' arithmetic varies between
    # kernels, the effect of replacing the first one's result does not:
    low = {k: v & 0xFFFF for k, v in retvals.items()}
    side = {k: v >> 16 for k, v in retvals.items()}
    assert low[1500] - low[1000] == 500  # the caller sees exactly what fmod_ret returned
    original = low[0] - low[1000] + 1000  # what the function itself returned when it ran
    assert 0 < original < 100
    # skipping the original skips its `*b += 1` side effect, once
    assert side[1000] == side[1500] == side[0] - 1


@trampolines
def test_freplace(bpf_path) -> None:
    packet = bytes(64)
    with libbpf_py.load(bpf_path("attach_freplace_target")) as target_obj:
        target = target_obj.programs["xdp_target"]
        assert target.test_run(packet).retval == 2  # XDP_PASS from the original verdict()
        with libbpf_py.Object.open(bpf_path("attach_freplace")) as opened:
            ext = opened.programs["new_verdict"]
            ext.set_attach_target("verdict", program=target)
            with opened.load() as ext_obj:
                with ext.attach_freplace(target, "verdict") as link:
                    assert target.test_run(packet).retval == 1  # XDP_DROP from the extension
                    info = link.info()
                assert target.test_run(packet).retval == 2  # detached: the original again
                assert ext_obj.maps["results"][0] == 1
                assert ext_obj.maps["results"][1] == 64
        target_id = target.info().id
    assert info.type == LinkType.TRACING
    # for freplace: the target program's id (5.13; older kernels' link info has no target)
    assert info.target_obj_id == (target_id if features.has("tracing_link_info_target") else 0)


@pytest.mark.kernel("bpf_lsm")
@trampolines
def test_lsm_observes_and_denies(tracing) -> None:
    with tracing.programs["observe_socket"].attach_lsm():
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM):
            pass
        assert (result(tracing, LSM_FAMILY), result(tracing, LSM_TYPE)) == (
            socket.AF_INET6, socket.SOCK_DGRAM)
        assert result(tracing, LSM_PROTOCOL) == 0
        with tracing.programs["deny_seqpacket"].attach() as deny:
            with pytest.raises(PermissionError):
                socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM):
                pass  # other sockets are allowed
            assert deny.info().attach_type == libbpf_py.AttachType.LSM_MAC
        assert result(tracing, LSM_DENIED) == 1
        assert result(tracing, LSM_TYPE) == socket.SOCK_STREAM
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET):
        pass  # detached: allowed again


@pytest.mark.kernel_lacks("kprobes")
def test_kprobe_family_says_unsupported(bpf_path) -> None:
    """A kernel built without CONFIG_KPROBES: kprobe, kretprobe, kprobe.multi, ksyscall all
    raise FeatureNotSupportedError naming the feature (and no link is left behind). Kernels
    with kprobes: tests/test_attach_kprobe.py."""
    with libbpf_py.load(bpf_path("kprobe")) as obj:
        prog = obj.programs["on_openat"]
        calls = [prog.attach, obj.attach,
                 lambda: prog.attach_kprobe("do_sys_openat2", cookie=1),
                 lambda: prog.attach_kprobe("do_sys_openat2", retprobe=True),
                 lambda: prog.attach_kprobe_multi("do_sys_open*"),
                 lambda: prog.attach_kprobe_multi(symbols=["do_sys_openat2"], cookies=[1]),
                 lambda: prog.attach_ksyscall("openat"),
                 lambda: prog.attach_ksyscall("openat", retprobe=True),
                 lambda: prog.attach("do_sys_openat2")]
        for attach in calls:
            with pytest.raises(FeatureNotSupportedError) as e:
                attach()
            assert e.value.feature == "kprobes"
            assert e.value.errno == errno.EOPNOTSUPP
            assert "kprobes are not supported by this kernel" in str(e.value)
        assert obj.links == []


def test_raw_tracepoint_unknown_name(bpf_path) -> None:
    with load_cookie(bpf_path("cookie")) as obj:
        with pytest.raises(BpfError, match="no raw tracepoint 'no_such_tp'") as e:
            obj.programs["manual_raw"].attach_raw_tracepoint("no_such_tp")
    assert e.value.errno == errno.ENOENT


@pytest.mark.kernel("raw_tp_cookie")
def test_raw_tracepoint_link_info(bpf_path) -> None:
    with load_cookie(bpf_path("cookie")) as obj:
        obj.maps["config"][0] = os.getpid()
        with obj.programs["manual_raw"].attach_raw_tracepoint("sys_enter", cookie=9) as link:
            assert isinstance(link, Link)
            info = link.info()
            os.getppid()
        assert obj.maps["seen"][2] == 9
    reported = 9 if libbpf_py.features.has("raw_tp_link_info_cookie") else 0
    assert (info.type, info.tp_name, info.cookie) == (LinkType.RAW_TRACEPOINT, "sys_enter",
                                                      reported)
