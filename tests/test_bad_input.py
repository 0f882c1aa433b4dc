"""Bad input at the API surface: wrong types and sizes, negative or huge numbers, None, missing
names, bad pin paths (NUL inside, not on bpffs), missing tracepoints/binaries/symbols/pids, bad
interface indexes. Every case raises a clear exception naming the problem, before anything is
half-done: no silent truncation to 32 bits, no pin at a cut path, no Map over a program fd.
(Buffer arguments are tested with the buffers: test_ringbuf.py, test_perfbuf.py.)"""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

import libbpf_py
from libbpf_py import BpfError, MapType, UpdateFlags
from libbpf_py.maps import Map

pytestmark = pytest.mark.root

HUGE = [2 ** 32 + 5, 2 ** 64, -1]
NOT_INT = [None, 1.5, "4", b"4", [4]]


@pytest.fixture
def opened(bpf_path):
    with libbpf_py.Object.open(bpf_path("maps")) as o:
        yield o


@pytest.fixture
def loaded(bpf_path):
    with libbpf_py.load(bpf_path("maps")) as o:
        yield o


@pytest.fixture
def testrun(bpf_path):
    with libbpf_py.load(bpf_path("prog_testrun")) as o:
        yield o


def pins(bpffs: str) -> list[str]:
    """What a test pinned (a new bpffs also holds the kernel's maps.debug, progs.debug)."""
    return sorted(set(os.listdir(bpffs)) - {"maps.debug", "progs.debug"})


def u32_map(**kw) -> Map:
    return Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                      max_entries=8, **kw)


@pytest.mark.parametrize("field", ["max_entries", "value_size", "flags", "numa_node",
                                   "map_extra"])
def test_open_map_setters_refuse_out_of_range(opened, field) -> None:
    m = opened.maps["signed_vals"]
    before = getattr(m, field)
    limit = "18446744073709551615" if field == "map_extra" else "4294967295"
    for bad in HUGE if field != "map_extra" else [2 ** 64, -1]:
        with pytest.raises(ValueError, match=rf"^{field} must be in 0\.\.{limit}, not {bad}$"):
            setattr(m, field, bad)
    for bad in NOT_INT:
        with pytest.raises(TypeError, match=f"^{field} must be an integer"):
            setattr(m, field, bad)
    assert getattr(m, field) == before  # nothing was set


def test_max_entries_is_not_truncated_to_32_bits(opened) -> None:
    m = opened.maps["signed_vals"]
    with pytest.raises(ValueError, match="max_entries must be in 0..4294967295, not 4294967301"):
        m.max_entries = 2 ** 32 + 5
    assert m.max_entries == 16
    m.max_entries = 2 ** 32 - 1  # the largest value is accepted as it is
    assert m.max_entries == 2 ** 32 - 1


@pytest.mark.parametrize("arg", ["key_size", "value_size", "max_entries", "flags", "numa_node"])
def test_create_refuses_out_of_range(arg) -> None:
    kw = {"key_size": 4, "value_size": 8, "max_entries": 8}
    for bad in HUGE:
        with pytest.raises(ValueError, match=f"^{arg} must be in 0..4294967295, not {bad}$"):
            Map.create(MapType.HASH, **{**kw, arg: bad})
    for bad in NOT_INT[1:]:  # None: not given (key_size/value_size: "give key_size/key_type")
        with pytest.raises(TypeError, match=f"^{arg} must be an integer"):
            Map.create(MapType.HASH, **{**kw, arg: bad})


def test_create_key_size_is_not_truncated() -> None:
    with pytest.raises(ValueError, match="key_size must be in 0..4294967295, not 4294967300"):
        Map.create(MapType.HASH, key_size=2 ** 32 + 4, value_size=8, max_entries=8)


def test_create_other_arguments() -> None:
    kw = {"key_size": 4, "value_size": 8, "max_entries": 8}
    with pytest.raises(ValueError, match="map_type must be in 0..4294967295"):
        Map.create(2 ** 32 + 1, **kw)
    with pytest.raises(TypeError, match="map_type must be an integer, not str"):
        Map.create("hash", **kw)
    with pytest.raises(ValueError, match="map_extra must be in 0..18446744073709551615"):
        Map.create(MapType.BLOOM_FILTER, value_size=8, max_entries=8, map_extra=2 ** 64)
    with pytest.raises(ValueError, match=r"name 'ab\\x00cd' has a NUL character inside"):
        Map.create(MapType.HASH, name="ab\0cd", **kw)
    with pytest.raises(ValueError, match="name 'a_name_longer_than_15' is longer than 15 bytes"):
        Map.create(MapType.HASH, name="a_name_longer_than_15", **kw)
    with pytest.raises(TypeError, match="name must be a str, not int"):
        Map.create(MapType.HASH, name=5, **kw)
    with pytest.raises(TypeError, match="give key_size/key_type"):
        Map.create(MapType.HASH, value_size=8, max_entries=8)
    with pytest.raises(TypeError, match="inner_map must be a Map"):
        Map.create(MapType.ARRAY_OF_MAPS, key_size=4, value_size=4, max_entries=1, inner_map=3)


def test_from_fd_refuses_what_is_not_a_map(testrun) -> None:
    prog_fd = os.dup(testrun.programs["xdp_rewrite"].fd)
    try:
        with pytest.raises(ValueError, match=f"fd {prog_fd} is not a BPF map "
                                             r"\(it is anon_inode:bpf-prog\)"):
            Map.from_fd(prog_fd)
    finally:
        os.close(prog_fd)
    r, w = os.pipe()
    try:
        with pytest.raises(ValueError, match=f"fd {r} is not a BPF map"):
            Map.from_fd(r)
    finally:  # from_fd takes ownership only of what it accepts
        os.close(r)
        os.close(w)
    with pytest.raises(ValueError, match="fd must be in 0..2147483647, not -1"):
        Map.from_fd(-1)
    with pytest.raises(ValueError, match="fd 99999 is not an open file descriptor"):
        Map.from_fd(99999)
    with pytest.raises(TypeError, match="fd must be an integer, not str"):
        Map.from_fd("3")


def test_from_id_and_from_pinned_arguments(bpffs) -> None:
    with pytest.raises(ValueError, match="map_id must be in 0..4294967295, not 4294967297"):
        Map.from_id(2 ** 32 + 1)
    with pytest.raises(ValueError, match="map_id must be in 0..4294967295, not -1"):
        Map.from_id(-1)
    with pytest.raises(TypeError, match="path must be a str, bytes or os.PathLike, not NoneType"):
        Map.from_pinned(None)
    with pytest.raises(ValueError, match="path is empty"):
        Map.from_pinned("")
    with pytest.raises(ValueError, match="has a NUL character inside"):
        Map.from_pinned(os.path.join(bpffs, "a\0b"))
    with pytest.raises(FileNotFoundError):
        Map.from_pinned(os.path.join(bpffs, "missing"))


def test_pin_paths_with_nul_or_off_bpffs_pin_nothing(bpffs, tmp_path) -> None:
    with u32_map() as m:
        with pytest.raises(ValueError, match="has a NUL character inside"):
            m.pin(os.path.join(bpffs, "cut\0here"))
        assert pins(bpffs) == []  # not pinned at the cut path "cut"
        with pytest.raises(ValueError, match=rf"pin path '{tmp_path}/m' is not on a bpffs mount"):
            m.pin(tmp_path / "m")
        assert os.listdir(tmp_path) == []
        with pytest.raises(TypeError, match="pin path must be a str, bytes or os.PathLike"):
            m.pin(3)
        m.pin(os.path.join(bpffs, "ok"))  # and a good one still works
        assert pins(bpffs) == ["ok"]
        m.unpin()


def test_object_pin_paths(bpf_path, bpffs, tmp_path) -> None:
    with libbpf_py.Object.open(bpf_path("maps")) as o:
        m = o.maps["signed_vals"]
        with pytest.raises(ValueError, match="has a NUL character inside"):
            m.pin_path = os.path.join(bpffs, "x\0y")
        with pytest.raises(ValueError, match="is not on a bpffs mount"):
            m.pin_path = str(tmp_path / "x")
        assert m.pin_path is None
        loaded = o.load()
        p = loaded.programs["noop"] if "noop" in loaded.programs else next(
            iter(loaded.programs.values()))
        for target in (p, loaded.maps["signed_vals"]):
            with pytest.raises(ValueError, match="has a NUL character inside"):
                target.pin(os.path.join(bpffs, "p\0q"))
            with pytest.raises(ValueError, match="is not on a bpffs mount"):
                target.pin(tmp_path / "p")
        assert pins(bpffs) == [] and os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="pin_root_path .* has a NUL character inside"):
        libbpf_py.Object.open(bpf_path("maps"), pin_root_path="/sys/fs/bpf\0x")
    with pytest.raises(ValueError, match="name 'a\\\\x00b' has a NUL character inside"):
        libbpf_py.Object.open(bpf_path("maps"), name="a\0b")
    with pytest.raises(ValueError, match="kernel_log_level must be in 0..4294967295"):
        libbpf_py.Object.open(bpf_path("maps"), kernel_log_level=-1)


def test_link_pin_paths(bpf_path, bpffs, tmp_path) -> None:
    with libbpf_py.load(bpf_path("getppid")) as o:
        link = o.programs["on_getppid"].attach()
        with pytest.raises(ValueError, match="has a NUL character inside"):
            link.pin(os.path.join(bpffs, "l\0x"))
        with pytest.raises(ValueError, match="is not on a bpffs mount"):
            link.pin(tmp_path / "l")
        assert pins(bpffs) == [] and os.listdir(tmp_path) == []
        with pytest.raises(ValueError, match="has a NUL character inside"):
            libbpf_py.Link.from_pinned(os.path.join(bpffs, "l\0x"))


def test_element_keys_and_values_of_wrong_size_or_type(loaded) -> None:
    m = loaded.maps["signed_vals"]  # u32 -> s64
    with pytest.raises(ValueError, match="key has size 3 but the map's key size is 4"):
        m[b"\0\0\0"] = 1
    with pytest.raises((OverflowError, ValueError)):
        m[2 ** 32] = 1
    with pytest.raises((OverflowError, ValueError)):
        m[1] = 2 ** 63
    with pytest.raises(TypeError):
        m[None] = 1
    with pytest.raises(TypeError):
        m[1] = "one"
    with pytest.raises(TypeError):
        m[1] = None
    assert len(m) == 0  # nothing was written
    p = loaded.maps["percpu"]
    with pytest.raises(TypeError, match="per-CPU"):
        p[0] = True
    with pytest.raises(ValueError, match="per-CPU"):
        p[0] = [1]


def test_element_flags(loaded) -> None:
    m = loaded.maps["signed_vals"]
    for bad in (2 ** 64, -1):
        with pytest.raises(ValueError, match="flags must be in 0..18446744073709551615"):
            m.set(1, 1, flags=bad)
    with pytest.raises(TypeError, match="flags must be an integer"):
        m.set(1, 1, flags="exist")
    m.set(1, 1, flags=UpdateFlags.NOEXIST)
    assert m[1] == 1


def test_missing_names(loaded) -> None:
    with pytest.raises(KeyError,
                       match=r"no map named 'nope' in object .* \(it has: 'signed_vals', "):
        loaded.maps["nope"]
    with pytest.raises(AttributeError, match="no program named 'nope'"):
        loaded.programs.nope
    with pytest.raises(AttributeError, match="has no variable 'nope'"):
        loaded.data.nope
    with pytest.raises(KeyError):
        loaded.maps[None]


def test_program_setters(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("prog_testrun")) as o:
        p = o.programs["xdp_rewrite"]
        for field in ("log_level", "flags"):
            with pytest.raises(ValueError, match=f"{field} must be in 0..4294967295"):
                setattr(p, field, 2 ** 32)
            with pytest.raises(TypeError, match=f"{field} must be an integer"):
                setattr(p, field, None)
        with pytest.raises(ValueError, match="type must be in 0..4294967295"):
            p.type = 2 ** 32 + 6
        with pytest.raises(ValueError, match="has a NUL character inside"):
            p.set_attach_target("do_\0nanosleep")


def test_test_run_arguments(testrun) -> None:
    p = testrun.programs["xdp_rewrite"]
    packet = bytes(64)
    with pytest.raises(ValueError, match="repeat must be in 0..4294967295, not 1099511627776"):
        p.test_run(packet, repeat=2 ** 40)
    with pytest.raises(ValueError, match="repeat must be in 0..4294967295, not -1"):
        p.test_run(packet, repeat=-1)
    for arg in ("cpu", "batch_size", "flags", "data_size_out", "ctx_size_out"):
        with pytest.raises(ValueError, match=f"{arg} must be in 0..4294967295"):
            p.test_run(packet, **{arg: 2 ** 32})
        with pytest.raises(TypeError, match=f"{arg} must be an integer"):
            p.test_run(packet, **{arg: "1"})
    with pytest.raises(TypeError, match="data must be bytes-like"):
        p.test_run(123)
    assert p.test_run(packet).retval == 2  # XDP_PASS: the program still runs


def test_attach_xdp_interface(testrun) -> None:
    p = testrun.programs["xdp_rewrite"]
    with pytest.raises(ValueError, match="interface must be in 1..2147483647, not 4294967297"):
        p.attach_xdp(2 ** 32 + 1)  # was: attached to ifindex 1 (lo)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"interface must be in 1..2147483647, not {bad}"):
            p.attach_xdp(bad)
    with pytest.raises(TypeError, match="interface must be an interface name or index"):
        p.attach_xdp(None)
    with pytest.raises(BpfError, match="no network interface 999999") as e:
        p.attach_xdp(999999)
    assert e.value.errno == errno.ENODEV
    with pytest.raises(BpfError, match="no network interface 'lbpy-nosuch'"):
        p.attach_xdp("lbpy-nosuch")
    with pytest.raises(ValueError, match="has a NUL character inside"):
        p.attach_xdp("lo\0x")
    for kind in ("attach_tcx", "attach_tc"):
        with pytest.raises(ValueError, match="interface must be in 1..2147483647"):
            getattr(testrun.programs["tc_ctx"], kind)(2 ** 32 + 1, "ingress")


def test_missing_tracepoints_binaries_symbols_pids(bpf_path, tmp_path) -> None:
    with libbpf_py.load(bpf_path("getppid")) as o:
        p = o.programs["on_getppid"]
        with pytest.raises(FileNotFoundError, match="no tracepoint syscalls:no_such_tp"):
            p.attach_tracepoint("syscalls", "no_such_tp")
        with pytest.raises(ValueError, match="has a NUL character inside"):
            p.attach_tracepoint("syscalls", "sys_enter_getppid\0x")
        with pytest.raises(TypeError):
            p.attach_tracepoint(None, "x")
    with libbpf_py.load(bpf_path("attach_uprobe")) as o:
        p = o.programs["on_add"]
        with pytest.raises(FileNotFoundError, match="no such binary"):
            p.attach_uprobe(str(tmp_path / "missing"), "main")
        with pytest.raises(ValueError, match="pid must be in -1..2147483647"):
            p.attach_uprobe("/bin/sh", offset=0, pid=2 ** 32)
        with pytest.raises(ValueError, match="offset must be in 0..18446744073709551615"):
            p.attach_uprobe("/bin/sh", offset=-1)
        with pytest.raises(BpfError, match="no_such_symbol_xyz"):
            p.attach_uprobe("/bin/sh", "no_such_symbol_xyz")
        with pytest.raises(ProcessLookupError):  # ESRCH: no such process
            p.attach_uprobe("/bin/sh", offset=0, pid=2 ** 22 + 12345)
