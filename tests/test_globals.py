"""Global variables: .rodata/.data/.bss and custom sections, typed from BTF; initial values before
load, the live mmap after load (a running program sees what Python writes, and vice versa)."""

from __future__ import annotations

import os

import pytest

from libbpf_py import BpfError, ClosedError, Object
from libbpf_py.variables import ReadOnlyError


def test_sections_and_initial_values(bpf_path) -> None:
    with Object.open(bpf_path("globals_rw")) as opened:
        assert sorted(opened.sections) == [".bss", ".data", ".data.custom", ".rodata",
                                           ".rodata.custom"]
        assert opened.rodata.to_dict() == {"target_pid": 0, "ro_color": 2, "ro_name": b"hello"}
        assert opened.rodata.ro_color.name == "GREEN"  # an IntEnum from the BTF enum
        d = opened.data
        assert (d.data_counter, d.data_flag, d.data_neg) == (7, True, -5)
        cfg = d.data_cfg
        assert (cfg.a, cfg.flags, cfg.mode, cfg.tag, cfg.c.name) == (1, 5, 17, b"tag", "BLUE")
        assert (cfg.p.x, cfg.p.y) == (-1, 2)
        assert repr(cfg) == ("struct cfg(a=1, flags=5, mode=17, tag=b'tag', "
                             "p=struct point(x=-1, y=2), c=<color.BLUE: 4>)")
        assert opened.bss.to_dict() == {"bss_seen": 0, "bss_copy": 0, "bss_point": (0, 0),
                                        "bss_arr": [0, 0, 0, 0], "bss_color": 0}
        assert opened.datasec(".data.custom").custom_var == 42
        assert opened.sections[".rodata.custom"].custom_ro == 9
        assert list(opened.data) == ["data_counter", "data_flag", "data_neg", "data_cfg"]


def test_writes_before_load_are_typed_and_checked(bpf_path) -> None:
    with Object.open(bpf_path("globals_rw")) as opened:
        opened.rodata.target_pid = 1234
        opened.rodata.ro_name = "bye"
        opened.data.data_cfg = {"a": 9, "flags": 7, "tag": "x", "p": (3, 4)}
        assert opened.rodata.target_pid == 1234 and opened.rodata.ro_name == b"bye"
        assert opened.data.data_cfg == {"a": 9, "flags": 7, "mode": 0, "tag": b"x",
                                        "p": (3, 4), "c": 0}
        with pytest.raises(ValueError, match=r"4294967296 does not fit a unsigned 32-bit"):
            opened.rodata.target_pid = 1 << 32
        with pytest.raises(ValueError, match=r"struct cfg\.flags: 8 does not fit a 3-bit"):
            opened.data.data_cfg = {"flags": 8}
        with pytest.raises(TypeError, match=r"struct cfg has no field 'zz' \(fields: a, flags"):
            opened.data.data_cfg = {"zz": 1}
        with pytest.raises(ValueError, match=r"17 bytes do not fit char\[16\]"):
            opened.rodata.ro_name = "x" * 17
        with pytest.raises(ValueError, match=r"has size 3 but the map's"):
            opened.data.data_cfg = b"abc"
        assert opened.data.data_cfg.a == 9  # failed writes changed nothing
        with pytest.raises(AttributeError, match=r"section \.bss of object .* has no variable "
                                                 r"'nope' \(it has: bss_seen, bss_copy"):
            opened.bss.nope
        with pytest.raises(AttributeError, match=r"has no variable 'nope'"):
            opened.bss.nope = 1
        with pytest.raises(KeyError, match=r"no section named '\.data\.x'.*'\.data\.custom'"):
            opened.datasec(".data.x")


def test_object_without_bss(bpf_path) -> None:
    with Object.open(bpf_path("getppid")) as opened:
        assert dict(opened.sections) == {}
        with pytest.raises(AttributeError, match=r"no section named '\.bss'"):
            opened.bss


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_live_globals_seen_by_running_program(bpf_path) -> None:
    opened = Object.open(bpf_path("globals_rw"))
    opened.rodata.target_pid = os.getpid()
    opened.data.data_counter = 100
    with opened.load() as obj:
        obj.attach()
        os.getppid()
        bss = obj.bss
        # the program read .data/.data.custom/.rodata.custom and wrote .bss and a map
        assert bss.bss_seen == 1
        assert bss.bss_copy == 100 + 42 + 9
        assert bss.bss_point == (-1, 2)
        assert bss.bss_arr == [0, 17, 0, 0]
        assert bss.bss_color.name == "GREEN"
        assert obj.maps["points"][0] == {"x": -1, "y": 2}
        # writes from Python after load reach the running program through the mmap
        obj.data.data_counter = 555
        obj.datasec(".data.custom").custom_var = 1
        obj.data.data_cfg = {"mode": 3, "p": {"x": 5, "y": -6}, "c": 1}
        obj.data.data_flag = False
        os.getppid()
        assert bss.bss_seen == 2
        assert bss.bss_copy == 555 + 1 + 9
        assert bss.bss_point == (5, -6)
        assert bss.bss_arr == [0, 17, 3, 0]
        assert bss.bss_color.name == "RED"  # data_flag false: the program used data_cfg.c
        assert obj.maps["points"][0] == (5, -6)
        # and .bss written from Python is what the program increments
        bss.bss_seen = 40
        os.getppid()
        assert bss.bss_seen == 41
        # .rodata is frozen by load: readable, not writable
        assert obj.rodata.target_pid == os.getpid()
        assert obj.rodata.read_only and not obj.data.read_only
        with pytest.raises(ReadOnlyError, match=r"set \.rodata variable 'target_pid': "
                                                r"read-only after load"):
            obj.rodata.target_pid = 1
        with pytest.raises(ReadOnlyError):
            obj.datasec(".rodata.custom").custom_ro = 1
        assert obj.rodata.target_pid == os.getpid()
    with pytest.raises(ClosedError, match="closed"):
        bss.bss_seen
    with pytest.raises(ClosedError, match="closed"):
        obj.data.data_counter


def test_closed_object_sections(bpf_path) -> None:
    opened = Object.open(bpf_path("globals_rw"))
    data = opened.data
    opened.close()
    with pytest.raises(ClosedError):
        data.data_counter
    with pytest.raises(ClosedError):
        data.data_counter = 1
    with pytest.raises(ClosedError):
        opened.sections


@pytest.mark.root
def test_load_failure_keeps_nothing_mapped(bpf_path) -> None:
    opened = Object.open(bpf_path("globals_rw"))
    data = opened.data
    opened.maps["points"].max_entries = 0  # the kernel refuses an array of 0 entries
    with pytest.raises(BpfError):
        opened.load()
    with pytest.raises(ClosedError):
        data.data_counter
