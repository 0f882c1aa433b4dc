"""Object lifecycle: open (unprivileged), load, children by name, close, bad input."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import libbpf_py
from libbpf_py import BpfError, ClosedError, Object, OpenObject, VerifierError


def test_open_lists_programs_and_maps(bpf_path) -> None:
    with Object.open(bpf_path("getppid")) as obj:
        assert isinstance(obj, OpenObject)
        assert list(obj.programs) == ["on_getppid"]
        assert sorted(obj.maps) == ["config", "counts", "events"]
        prog = obj.programs.on_getppid
        assert prog.section == "tracepoint/syscalls/sys_enter_getppid"
        assert prog.type == libbpf_py.ProgType.TRACEPOINT
        assert prog.autoload is True
        assert prog.insn_count > 10
        counts = obj.maps["counts"]
        assert (counts.type, counts.key_size, counts.value_size, counts.max_entries) == (
            libbpf_py.MapType.HASH, 4, 8, 64)
        assert obj.maps.events.type == libbpf_py.MapType.RINGBUF


def test_open_from_bytes_and_name(bpf_path) -> None:
    data = bpf_path("getppid").read_bytes()
    with Object.open(data, name="mine") as obj:
        assert obj.name == "mine"
        assert "counts" in obj.maps


def test_unknown_names_list_what_exists(bpf_path) -> None:
    with Object.open(bpf_path("getppid")) as obj:
        with pytest.raises(KeyError) as e:
            obj.maps["nope"]
        assert "'config', 'counts', 'events'" in str(e.value)
        with pytest.raises(AttributeError, match="'on_getppid'"):
            obj.programs.nope


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        Object.open("/nonexistent/x.bpf.o")


def test_not_an_elf(tmp_path: Path) -> None:
    p = tmp_path / "junk.o"
    p.write_bytes(b"this is not an ELF file at all")
    with pytest.raises(BpfError, match="not an ELF file") as e:
        Object.open(p)
    assert e.value.errno == errno.ENOEXEC
    with pytest.raises(BpfError, match="not an ELF file"):
        Object.open(b"short")


def test_elf_but_not_bpf() -> None:
    with pytest.raises(BpfError, match=r"not a BPF object \(ELF e_machine \d+, BPF is 247\)"):
        Object.open("/bin/true")


def test_close_makes_children_refuse(bpf_path) -> None:
    obj = Object.open(bpf_path("getppid"))
    prog, m = obj.programs["on_getppid"], obj.maps["counts"]
    obj.close()
    obj.close()  # idempotent
    assert obj.closed
    with pytest.raises(ClosedError, match="closed"):
        prog.autoload
    with pytest.raises(ClosedError, match="closed"):
        m.max_entries
    with pytest.raises(ClosedError, match="closed"):
        obj.maps


def test_children_keep_object_alive(bpf_path) -> None:
    m = Object.open(bpf_path("getppid")).maps["counts"]
    import gc

    gc.collect()
    assert m.max_entries == 64  # the OpenObject is gone, the map still works


@pytest.mark.root
def test_load_and_phase_rules(bpf_path) -> None:
    opened = Object.open(bpf_path("getppid"))
    opened.maps["counts"].max_entries = 128
    obj = opened.load()
    with obj:
        assert isinstance(obj, Object)
        assert obj.maps["counts"].max_entries == 128
        assert obj.programs["on_getppid"].fd >= 0
        with pytest.raises(BpfError, match="only possible before load"):
            obj.maps["counts"].max_entries = 5
        with pytest.raises(BpfError, match="already loaded"):
            opened.load()
    with pytest.raises(ClosedError):
        obj.programs


@pytest.mark.root
def test_autoload_off_skips_program(bpf_path) -> None:
    opened = Object.open(bpf_path("getppid"))
    opened.programs["on_getppid"].autoload = False
    with opened.load() as obj:
        with pytest.raises(BpfError, match="not loaded"):
            obj.programs["on_getppid"].fd
        assert obj.attach() == []


@pytest.mark.root
def test_verifier_error_carries_log(bpf_path) -> None:
    with pytest.raises(VerifierError) as e:
        libbpf_py.load(bpf_path("bad_access"))
    err = e.value
    assert err.program == "unchecked_deref"
    assert err.errno == errno.EACCES
    # The kernel's reason for the rejection is in the log and in the message's tail.
    assert "invalid mem access 'map_value_or_null'" in err.log
    assert "invalid mem access 'map_value_or_null'" in str(err)
    assert str(err).startswith("program 'unchecked_deref' rejected by the verifier")
    assert "bad_access" in err.context


@pytest.mark.root
def test_load_shortcut_and_context_manager(bpf_path) -> None:
    with libbpf_py.load(bpf_path("getppid")) as obj:
        assert not obj.closed
        fd = obj.maps["counts"].fd
        os.fstat(fd)
    assert obj.closed
    with pytest.raises(OSError):
        os.fstat(fd)  # the map's fd was closed with the object
