"""Programs: attach by SEC() name, explicit attach with options, clear errors for bad targets."""

from __future__ import annotations

import errno
import os

import pytest

import libbpf_py
from libbpf_py import BpfError, FeatureNotSupportedError, Link

pytestmark = pytest.mark.root


@pytest.fixture
def cookie_obj(bpf_path):
    with libbpf_py.load(bpf_path("cookie")) as obj:
        obj.maps["config"][0] = os.getpid()
        yield obj


@pytest.mark.kernel("tracefs")
def test_object_attach_skips_sections_without_target(cookie_obj) -> None:
    assert cookie_obj.attach() == []
    with pytest.raises(BpfError) as e:
        cookie_obj.programs["manual_tp"].attach()
    assert e.value.errno == errno.EOPNOTSUPP
    assert "attach program 'manual_tp'" in str(e.value)


@pytest.mark.kernel("tracefs")
def test_attach_tracepoint_with_cookie(cookie_obj) -> None:
    prog = cookie_obj.programs["manual_tp"]
    with prog.attach_tracepoint("syscalls", "sys_enter_getppid", cookie=0xC0FFEE) as link:
        assert isinstance(link, Link)
        os.getppid()
    assert dict(cookie_obj.maps["seen"]) == {1: 0xC0FFEE}


def test_attach_raw_tracepoint_with_cookie(cookie_obj) -> None:
    with cookie_obj.programs["manual_raw"].attach_raw_tracepoint("sys_enter", cookie=77):
        os.getppid()
    assert cookie_obj.maps["seen"][2] == 77


@pytest.mark.kernel("tracefs")
def test_unknown_tracepoint_is_named(cookie_obj) -> None:
    with pytest.raises(BpfError, match="no tracepoint syscalls:sys_enter_nonexistent") as e:
        cookie_obj.programs["manual_tp"].attach_tracepoint("syscalls", "sys_enter_nonexistent")
    assert e.value.errno == errno.ENOENT


def test_attach_before_load_is_refused(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("cookie")) as opened:
        with pytest.raises(BpfError, match="not loaded yet"):
            opened.programs["manual_raw"].attach_raw_tracepoint("sys_enter")


def test_kprobe_attach_says_unsupported(bpf_path) -> None:
    """This kernel is built without CONFIG_KPROBES: every kprobe path says so clearly."""
    from libbpf_py.program import kprobes_supported

    if kprobes_supported():
        pytest.skip("this kernel has kprobes; the test is for kernels without them")
    with libbpf_py.load(bpf_path("kprobe")) as obj:
        prog = obj.programs["on_openat"]
        for attach in (prog.attach, obj.attach,
                       lambda: prog.attach_kprobe("do_sys_openat2"),
                       lambda: prog.attach_kprobe("do_sys_openat2", retprobe=True)):
            with pytest.raises(FeatureNotSupportedError) as e:
                attach()
            assert e.value.feature == "kprobes"
            assert e.value.errno == errno.EOPNOTSUPP
            assert "kprobes are not supported by this kernel" in str(e.value)
            assert "CONFIG_KPROBES" in str(e.value)
        assert obj.links == []


def test_program_info_properties(bpf_path) -> None:
    with libbpf_py.load(bpf_path("cookie")) as obj:
        p = obj.programs["manual_raw"]
        assert (p.name, p.section, p.type) == ("manual_raw", "raw_tp",
                                               libbpf_py.ProgType.RAW_TRACEPOINT)
        assert os.fstat(p.fd)
        assert repr(p) == '<Program \'manual_raw\' SEC("raw_tp")>'
