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


def in_child(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter; a signal (a crash) fails the test naming it."""
    import signal
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode < 0:
        pytest.fail(f"child died of {signal.Signals(-done.returncode).name}:\n{done.stderr}")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_printk_format_strings_are_not_variables(bpf_path) -> None:
    """Issue 11, friction 9: bpf_printk's ``static const char ___fmt[]`` was listed in .rodata."""
    with Object.open(bpf_path("globals_live")) as opened:
        assert list(opened.rodata) == ["target_pid"]
        assert "___fmt" not in opened.rodata.to_dict()


def test_nul_separated_char_arrays(bpf_path) -> None:
    """Issue 11, friction 9: a char array reads as a C string; raw()/_strings() give all of it."""
    with Object.open(bpf_path("globals_live")) as opened:
        opened.bss.args = b"ls\0-l\0/tmp"
        assert opened.bss.args == b"ls"  # a C string: up to the first NUL
        assert opened.bss.raw("args") == b"ls\0-l\0/tmp".ljust(32, b"\0")
        assert opened.bss.raw("args").rstrip(b"\0").split(b"\0") == [b"ls", b"-l", b"/tmp"]
    with Object.open(bpf_path("globals_rw")) as opened:
        cfg = opened.data.data_cfg  # struct cfg { ... char tag[8]; ... } = { .tag = "tag" }
        assert cfg.tag == b"tag" and cfg._raw("tag") == b"tag\0\0\0\0\0"
        cfg.tag = b"a\0b\0c"
        assert cfg._strings("tag") == [b"a", b"b", b"c"] and cfg._strings("tag", 2) == [b"a",
                                                                                          b"b"]
        with pytest.raises(AttributeError, match=r"struct cfg has no field 'nope'"):
            cfg._raw("nope")


def test_int128_global(bpf_path) -> None:
    with Object.open(bpf_path("globals_live")) as opened:
        opened.bss.big = 2**100 + 1
        assert opened.bss.big == 2**100 + 1
        opened.bss.big = (2**128 - 1).to_bytes(16, "little")  # 16 raw bytes
        assert opened.bss.big == 2**128 - 1
        with pytest.raises(OverflowError, match=r"does not fit a unsigned 128-bit"):
            opened.bss.big = -1


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_array_globals_are_live_and_read_and_reset(bpf_path) -> None:
    """Issue 11, friction 6: array globals were list copies: no in-place element write, no
    atomic read-and-reset (runqlen, softirqs)."""
    opened = Object.open(bpf_path("globals_live"))
    opened.rodata.target_pid = os.getpid()
    with opened.load() as obj:
        obj.attach()
        bss = obj.bss
        counters = bss.counters  # a live view, not a copy
        os.getppid()
        os.getppid()
        assert counters[3] == 2 and counters == [0, 0, 0, 2, 0, 0, 0, 0]
        os.getppid()
        assert counters[3] == 3 and counters[-5] == 3 and counters[2:4] == [0, 3]
        bss.counters[3] = 10  # in place: the program increments what Python wrote
        os.getppid()
        assert bss.counters[3] == 11
        assert bss.counters.exchange_all() == [0, 0, 0, 11, 0, 0, 0, 0]
        assert bss.counters.tolist() == [0] * 8
        os.getppid()
        assert bss.counters.exchange(3, 5) == 1 and bss.counters[3] == 5
        assert bss.exchange("total") == 5 and bss.total == 0
        # two dimensions: rows are live views too
        assert bss.hist[1][2] == 5 and bss.hist == [[0] * 4, [0, 0, 5, 0]]
        bss.hist[0] = [1, 2, 3, 4]
        assert bss.hist[0].tolist() == [1, 2, 3, 4]
        assert bss.hist.exchange_all() == [[1, 2, 3, 4], [0, 0, 5, 0]]
        # arrays of structs: elements read as copies, written in place
        bss.slots[1] = {"a": 7, "b": 9}
        assert bss.slots[1] == (7, 9) and bss.slots[0] == (0, 0)
        assert bss.to_dict()["counters"] == [0, 0, 0, 5, 0, 0, 0, 0]  # to_dict: copies
        with pytest.raises(IndexError, match=r"index 8 out of range \(length 8\)"):
            bss.counters[8]
        with pytest.raises(OverflowError, match=r"does not fit"):
            bss.counters[0] = -1
        with pytest.raises(ValueError, match=r"3 values for a slice of 2"):
            bss.counters[0:2] = [1, 2, 3]
        with pytest.raises(TypeError, match=r"exchange\(\) works on integers"):
            bss.slots.exchange(0)
        with pytest.raises(ReadOnlyError):
            obj.rodata.exchange("target_pid")
    with pytest.raises(ClosedError):
        counters[0]
    with pytest.raises(ClosedError):
        counters[0] = 1


def test_shrunk_section_refuses_variables_past_its_end(bpf_path) -> None:
    """Issue 10: ``sections[".data.big"].map.value_size = 4095`` then reading a variable past
    the new end crashed or read out of bounds. Now IndexError, in a child process."""
    code = """
import sys
import libbpf_py
opened = libbpf_py.Object.open(sys.argv[1])
big = opened.sections[".data.big"]
assert big.big_arr[0] == 1 and len(big.big_arr) == 512
big.map.value_size = 4095                     # libbpf cannot describe it: layout kept, checked
for action in (lambda: big.big_arr, lambda: big.to_dict(), lambda: big.raw("big_arr"),
               lambda: setattr(big, "big_arr", [0] * 512)):
    try:
        action()
    except IndexError as e:
        assert "does not fit the section's 4095 bytes" in str(e), e
    else:
        raise AssertionError("read past the end")
assert len(big.raw()) == 4095
opened.close()
opened = libbpf_py.Object.open(sys.argv[1])
big = opened.sections[".data.big"]
arr = big.big_arr
big.map.value_size = 2048                     # libbpf resizes the last array: 256 elements
assert len(big.big_arr) == 256 and big.big_arr[255] == 0 and big.big_arr[0] == 1
try:
    arr[300]                                  # a view taken before the resize
except IndexError as e:
    assert "does not fit the section's 2048 bytes" in str(e), e
else:
    raise AssertionError("read past the end through an old view")
big.big_arr[255] = 7
assert big.raw()[-8:] == (7).to_bytes(8, sys.byteorder)
opened.close()
print("ok")
"""
    assert in_child(code, str(bpf_path("globals_live"))).strip() == "ok"
