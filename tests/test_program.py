"""Programs: attach by SEC() name, explicit attach with options, clear errors for bad targets."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import subprocess

import pytest
from conftest import load_cookie

import libbpf_py
from libbpf_py import BpfError, FeatureNotSupportedError, Link

pytestmark = pytest.mark.root


@pytest.fixture
def cookie_obj(bpf_path):
    with load_cookie(bpf_path("cookie")) as obj:
        obj.maps["config"][0] = os.getpid()
        yield obj


@pytest.mark.kernel("tracefs")
def test_object_attach_skips_sections_without_target(cookie_obj) -> None:
    assert cookie_obj.attach() == []
    with pytest.raises(BpfError) as e:
        cookie_obj.programs["manual_tp"].attach()
    assert e.value.errno == errno.EOPNOTSUPP
    assert "attach program 'manual_tp'" in str(e.value)


@pytest.mark.kernel("tracefs", "tracepoint_cookie")
def test_attach_tracepoint_with_cookie(cookie_obj) -> None:
    prog = cookie_obj.programs["manual_tp"]
    with prog.attach_tracepoint("syscalls", "sys_enter_getppid", cookie=0xC0FFEE) as link:
        assert isinstance(link, Link)
        os.getppid()
    assert dict(cookie_obj.maps["seen"]) == {1: 0xC0FFEE}


@pytest.mark.kernel("raw_tp_cookie")
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


@pytest.mark.kernel_lacks("kprobes")
def test_kprobe_attach_says_unsupported(bpf_path) -> None:
    """This kernel is built without CONFIG_KPROBES: every kprobe path says so clearly."""
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
    with load_cookie(bpf_path("cookie")) as obj:
        p = obj.programs["manual_raw"]
        assert (p.name, p.section, p.type) == ("manual_raw", "raw_tp",
                                               libbpf_py.ProgType.RAW_TRACEPOINT)
        assert os.fstat(p.fd)
        assert repr(p) == '<Program \'manual_raw\' SEC("raw_tp")>'


# --- configuration before load


def test_configuration_setters_before_load(bpf_path) -> None:
    from libbpf_py import AttachType, ProgType

    with libbpf_py.Object.open(bpf_path("prog_testrun")) as opened:
        p = opened.programs["tc_ctx"]
        assert (p.type, p.expected_attach_type) == (ProgType.SCHED_CLS, AttachType(0))
        p.type = ProgType.SCHED_ACT
        p.expected_attach_type = AttachType.TCX_INGRESS
        p.log_level = 2
        p.flags = 0
        assert (p.type, p.expected_attach_type, p.log_level, p.flags) == (
            ProgType.SCHED_ACT, AttachType.TCX_INGRESS, 2, 0)
        p.autoattach = False
        assert p.autoattach is False
        obj = opened.load()
    with obj:
        assert obj.programs["tc_ctx"].info().type == ProgType.SCHED_ACT
        with pytest.raises(BpfError, match="set type of program 'tc_ctx'.*before load"):
            obj.programs["tc_ctx"].type = ProgType.SCHED_CLS


# --- test_run


@pytest.fixture
def testrun(bpf_path):
    with libbpf_py.load(bpf_path("prog_testrun")) as obj:
        yield obj


def test_test_run_packet_in_and_out(testrun) -> None:
    prog = testrun.programs["xdp_rewrite"]
    packet = bytes([1]) + bytes(range(2, 64))
    res = prog.test_run(packet)
    assert res.retval == 3  # XDP_TX: the first byte was 1
    assert res.data == b"\xab" + packet[1:]
    assert res.ctx is None
    res = prog.test_run(b"\x05" * 20, repeat=10)
    assert res.retval == 2 and res.data == b"\xab" + b"\x05" * 19
    assert testrun.maps["results"][0] == 11  # one run + ten repetitions
    assert res.duration_ns >= 0


def test_test_run_output_too_small(testrun) -> None:
    with pytest.raises(BpfError, match="test_run program 'xdp_rewrite'.*data_size_out=8") as e:
        testrun.programs["xdp_rewrite"].test_run(bytes(64), data_size_out=8)
    assert e.value.errno == errno.ENOSPC


def test_test_run_context_in_and_out(testrun) -> None:
    # struct __sk_buff: mark at offset 8, priority at offset 32 (UAPI, stable since 4.x);
    # the kernel accepts a context up to `priority`... (offsetofend of the allowed fields).
    ctx = bytearray(192)  # sizeof(struct __sk_buff)
    struct.pack_into("=I", ctx, 8, 41)
    res = testrun.programs["tc_ctx"].test_run(bytes(64), ctx=bytes(ctx))
    assert res.retval == 64  # skb->len
    assert struct.unpack_from("=I", res.ctx, 32)[0] == 42


def test_test_run_raw_tp_args_on_cpu(testrun) -> None:
    args = (ctypes.c_uint64 * 2)(4, 5)
    cpu = os.cpu_count() - 1
    res = testrun.programs["raw_args"].test_run(ctx=args, cpu=cpu)
    assert res.retval == 40
    assert testrun.maps["results"][1] == 9
    assert testrun.maps["results"][2] == cpu


def test_test_run_bad_input(testrun) -> None:
    with pytest.raises(TypeError, match="test_run data must be bytes-like"):
        testrun.programs["xdp_rewrite"].test_run("text")
    with pytest.raises(ValueError, match="repeat must be in 0..4294967295, not -1"):
        testrun.programs["xdp_rewrite"].test_run(b"x", repeat=-1)


# --- info and stats


def test_program_info_and_stats(testrun) -> None:
    from libbpf_py import ProgType
    from libbpf_py.program import enable_stats

    prog = testrun.programs["xdp_rewrite"]
    info = prog.info()
    assert (info.name, info.type) == ("xdp_rewrite", ProgType.XDP)
    assert info.id > 0 and len(info.tag) == 16 and int(info.tag, 16) >= 0
    assert info.xlated_size > 0 and info.jited_size > 0
    assert info.gpl_compatible is True
    assert info.created_by_uid == os.getuid()
    ids = sorted(info.map_ids)
    assert len(ids) == 1  # results (config is not used by this program)
    assert info.load_time > 0
    with enable_stats():
        prog.test_run(bytes(16), repeat=5)
        stats = prog.info()
    assert stats.run_count == 5
    assert stats.run_time_ns > 0
    # test_run of a raw_tp-less program outside the stats window is not counted
    prog.test_run(bytes(16))
    assert prog.info().run_count == 5


# --- pinning


def test_program_pin_and_from_pinned(testrun, bpffs) -> None:
    from libbpf_py import Program

    prog = testrun.programs["xdp_rewrite"]
    path = os.path.join(bpffs, "xdp_rewrite")
    prog.pin(path)
    try:
        with Program.from_pinned(path) as pinned:
            assert pinned.name == "xdp_rewrite"
            assert pinned.info().id == prog.info().id
            assert pinned.test_run(b"\x01" + bytes(15)).retval == 3
    finally:
        prog.unpin(path)
    assert not os.path.exists(path)
    with pytest.raises(BpfError, match="open pinned program") as e:
        Program.from_pinned(path)
    assert e.value.errno == errno.ENOENT


def test_program_ids_and_from_id(testrun) -> None:
    """Program.ids() lists the loaded program; Program.from_id opens it (our own fd: closing
    it leaves the object's program loaded); an id that is gone is a FileNotFoundError."""
    from libbpf_py import Program

    prog = testrun.programs["xdp_rewrite"]
    prog_id = prog.info().id
    assert prog_id in list(Program.ids())
    with Program.from_id(prog_id) as by_id:
        assert (by_id.name, by_id.path) == ("xdp_rewrite", f"id {prog_id}")
        assert by_id.fd != prog.fd and by_id.info().tag == prog.info().tag
        assert by_id.test_run(b"\x01" + bytes(15)).retval == 3
    assert prog.test_run(b"\x01" + bytes(15)).retval == 3  # still loaded
    with pytest.raises(FileNotFoundError, match="open program id 4294967295"):
        Program.from_id(2**32 - 1)
    with pytest.raises(ValueError, match="program id must be in 0..4294967295, not -1"):
        Program.from_id(-1)


def test_attach_with_arguments_dispatches_by_section(testrun) -> None:
    with pytest.raises(BpfError, match="no network interface 'lbpy-nope0'"):
        testrun.programs["xdp_rewrite"].attach("lbpy-nope0")  # -> attach_xdp
    with pytest.raises(BpfError, match="no raw tracepoint 'nope_tp'"):
        testrun.programs["raw_args"].attach("nope_tp")  # -> attach_raw_tracepoint


# --- C layout of the structures test_ffi's generic check can't read (anonymous unions, no sz)


def test_info_structs_match_c_layout(tmp_path) -> None:
    import shutil
    from pathlib import Path

    from libbpf_py._ffi import attach as a

    repo = Path(__file__).resolve().parent.parent / "libbpf"
    if not (repo / "src" / "libbpf.h").is_file() or shutil.which("gcc") is None:
        pytest.skip("libbpf headers not available (source tree only)")
    lines = []
    for cls in a.INFO_STRUCTS:
        lines.append(f'printf("{cls.__name__} sizeof %zu\\n", sizeof(struct {cls.__name__}));')
        for field, *_ in cls._fields_:
            if field.startswith("_"):
                continue
            lines.append(f'printf("{cls.__name__} {field} %zu\\n", '
                         f'offsetof(struct {cls.__name__}, {field}));')
    lines.append('printf("iter_link_info sizeof %zu\\n", sizeof(union bpf_iter_link_info));')
    src = tmp_path / "probe.c"
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "libbpf.h"\n'
                   '#include "bpf.h"\nint main(void)\n{\n' + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "probe"
    inc = [f"-I{repo / d}" for d in ("src", "include", "include/uapi")]
    subprocess.run(["gcc", *inc, str(src), "-o", str(exe)], check=True)
    c = {tuple(line.split()[:2]): int(line.split()[2]) for line in
         subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()}
    py = {}
    for cls in a.INFO_STRUCTS:
        py[(cls.__name__, "sizeof")] = ctypes.sizeof(cls)
        for field, *_ in cls._fields_:
            if not field.startswith("_"):
                py[(cls.__name__, field)] = getattr(cls, field).offset
    py[("iter_link_info", "sizeof")] = a.BPF_ITER_LINK_INFO_SIZE
    assert py == c
