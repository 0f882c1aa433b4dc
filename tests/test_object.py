"""Object lifecycle: open (unprivileged), load, children by name, close, bad input."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

import libbpf_py
from conftest import python_child
from libbpf_py import BpfError, ClosedError, Object, OpenObject, VerifierError
from libbpf_py.btf import Kind


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
        # the OpenObject is spent: it says which object to use, and closing it is a no-op
        assert opened.spent and repr(opened).endswith(" spent>")
        for use in (opened.load, lambda: opened.maps, lambda: opened.rodata):
            with pytest.raises(ClosedError, match="OpenObject '.*' is spent: it was loaded; "
                               "use the Object that load\\(\\) returned"):
                use()
        opened.close()
        assert not obj.closed and obj.maps["counts"].max_entries == 128
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


# --- BTF, pinning by name, CO-RE failures, kconfig, kernel log level


def test_object_btf_property(bpf_path) -> None:
    with Object.open(bpf_path("getppid")) as obj:
        btf = obj.btf
        assert btf is obj.btf
        maps = btf.find(".maps", Kind.DATASEC)
        assert [v.name for v, _off, _size in maps.variables] == ["config", "counts", "events"]
        counts = maps.variables[1][0].target  # the anonymous struct of the map definition
        assert [m.name for m in counts.members] == ["type", "max_entries", "key", "value"]
        assert counts.member("value").type.target.c_name == "__u64"
    with pytest.raises(ClosedError):
        obj.btf


def pins(bpffs: str) -> list[str]:
    # a fresh bpffs also shows the kernel's preloaded maps.debug/progs.debug iterators
    return sorted(n for n in os.listdir(bpffs) if not n.endswith(".debug"))


@pytest.mark.root
def test_pin_by_name_reused_across_loads(bpf_path, bpffs) -> None:
    path = bpf_path("obj_pinned")
    with libbpf_py.load(path, pin_root_path=bpffs) as first:
        assert pins(bpffs) == ["shared"]  # only the LIBBPF_PIN_BY_NAME map
        first.maps["shared"][1] = 11
        first.maps["private_map"][1] = 22
        with libbpf_py.load(path, pin_root_path=bpffs) as second:
            # the same kernel map: a write through one object is read through the other
            assert second.maps["shared"][1] == 11
            second.maps["shared"][2] = 33
            assert first.maps["shared"][2] == 33
            assert 1 not in second.maps["private_map"]  # not pinned: a fresh map
    # the pin outlives both objects, with its contents
    with libbpf_py.load(path, pin_root_path=bpffs) as third:
        assert dict(third.maps["shared"].items()) == {1: 11, 2: 33}
    os.unlink(os.path.join(bpffs, "shared"))
    assert pins(bpffs) == []


@pytest.mark.root
def test_core_relocation_failure_is_explained(bpf_path) -> None:
    from libbpf_py.object import CoreRelocationError

    with pytest.raises(CoreRelocationError) as e:
        libbpf_py.load(bpf_path("obj_core_fail"))
    err = e.value
    assert isinstance(err, VerifierError)
    assert err.program == "read_missing_field"
    assert err.relocation.endswith("struct task_struct.lbpy_no_such_field (0:0 @ offset 0)")
    assert err.instruction == 1
    text = str(err)
    assert "program 'read_missing_field': CO-RE relocation at instruction 1 can't be resolved" \
        in text
    assert "failed to resolve CO-RE relocation <byte_off> [" in text
    assert "struct task_struct.lbpy_no_such_field" in text


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_kconfig_option_reaches_the_program(bpf_path) -> None:
    path = bpf_path("obj_kconfig")
    opened = Object.open(path, kconfig="CONFIG_LBPY_TEST_VALUE=42")
    opened.rodata.target_pid = os.getpid()
    with opened.load() as obj:
        assert obj.kconfig.CONFIG_LBPY_TEST_VALUE == 42
        # libbpf's rule (get_kernel_version): a Debian kernel's release says X.Y.0, its uname
        # version "Debian X.Y.Z" (Ubuntu's /proc/version_signature: not on these machines)
        debian = re.search(r"Debian (\d+)\.(\d+)\.(\d+)", os.uname().version)
        release = list(debian.groups()) if debian else os.uname().release.split("-")[0].split(".")
        version = (int(release[0]) << 16) + (int(release[1]) << 8) + min(
            int(re.match(r"\d+", release[2]).group()) if len(release) > 2 else 0, 255)
        assert obj.kconfig.LINUX_KERNEL_VERSION == version
        obj.attach()
        os.getppid()
        assert (obj.bss.seen_value, obj.bss.seen_version) == (42, version)
    with libbpf_py.load(path) as obj:  # a __weak extern nobody sets is 0
        assert obj.kconfig.CONFIG_LBPY_TEST_VALUE == 0
    with pytest.raises(BpfError, match="error parsing in-memory Kconfig line") as e:
        libbpf_py.load(path, kconfig="CONFIG_LBPY_TEST_VALUE=notanumber")
    assert e.value.errno == errno.EINVAL


@pytest.mark.root
def test_kernel_log_level(bpf_path) -> None:
    with libbpf_py.load(bpf_path("getppid"), kernel_log_level=2) as obj:
        log = obj.load_log["on_getppid"]
        assert re.search(r"processed \d+ insns \(limit 1000000\)", log)
    with libbpf_py.load(bpf_path("getppid")) as obj:
        assert obj.load_log == {}


@pytest.mark.root
def test_cold_start_imports_only_what_it_uses(bpf_path) -> None:
    """import + open + load + attach + close builds no Program, Map, enum or area table: those
    modules stay unimported (cold start is benchmarked). Maps wrapped only after load still know the
    BTF types the object declared (libbpf zeroes a queue's at load)."""
    code = (
        "import os, sys, libbpf_py\n"
        "obj = libbpf_py.Object.open(sys.argv[1]).load()\n"
        "obj.attach()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('libbpf_py'))))\n"
        "os.getppid()\n"
        "print(obj.maps.jobs.pop())\n"
        "obj.close()\n"
    )
    imported, popped = python_child(code, str(bpf_path("obj_lazy"))).splitlines()
    assert imported.split() == [
        "libbpf_py", "libbpf_py._ffi", "libbpf_py._ffi.core", "libbpf_py.errors",
        "libbpf_py.link", "libbpf_py.log", "libbpf_py.object"]
    assert popped == "42"


@pytest.mark.root
def test_attach_is_all_or_nothing(bpf_path) -> None:
    """A program that can't attach undoes the links Object.attach() already made."""
    from libbpf_py import BpfError, FeatureNotSupportedError
    from libbpf_py.cli import listing

    with libbpf_py.load(bpf_path("obj_attach_all")) as obj:
        assert list(obj.programs) == ["on_getppid", "on_missing"]  # libbpf's attach order
        tp_id = obj.programs["on_getppid"].info().id
        with pytest.raises(BpfError, match="on_missing") as e:
            obj.attach()
        if libbpf_py.features.has("kprobes"):  # the kernel has no such function
            assert "lbpy_no_such_kernel_function" in str(e.value) and e.value.errno == 2, e.value
        else:
            assert isinstance(e.value, FeatureNotSupportedError), e.value
        assert obj.links == []
        assert [ln for ln in listing.links() if ln["prog_id"] == tp_id] == []
        if libbpf_py.features.has("perf_link"):  # (before 5.15 a tracepoint is listed nowhere)
            with obj.programs["on_getppid"].attach():  # the listing would have shown it
                assert [ln["prog_id"] for ln in listing.links()
                        if ln["prog_id"] == tp_id] == [tp_id]


def test_public_names_resolve_on_first_use() -> None:
    """``import libbpf_py`` imports no concept module; every name of ``__all__`` resolves on
    first use (star import included) and ``dir()`` lists them all."""
    code = (
        "import sys, libbpf_py\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('libbpf_py'))))\n"
        "missing = [n for n in libbpf_py.__all__ if n not in dir(libbpf_py)]\n"
        "ns = {}\n"
        "exec('from libbpf_py import *', ns)\n"
        "print(missing, sorted(set(libbpf_py.__all__) - set(ns)))\n"
        "print(libbpf_py.Object.__module__, libbpf_py.features.__name__, libbpf_py.load.__name__)\n"
    )
    assert python_child(code).splitlines() == [
        "libbpf_py libbpf_py._ffi libbpf_py._ffi.core libbpf_py.errors libbpf_py.log",
        "[] []",
        "libbpf_py.object libbpf_py.features load"]
    with pytest.raises(AttributeError, match="no attribute 'Objekt'"):
        libbpf_py.Objekt  # noqa: B018


@pytest.mark.root
def test_unclosed_handles_warn_like_files(bpf_path) -> None:
    """One finalizer (errors.Closeable): an Object, a standalone map and an owned Btf left open
    are closed when collected, with a ResourceWarning naming each, as CPython's files do;
    closed handles and borrowed views (the object's BTF) say nothing."""
    import gc
    import warnings

    from libbpf_py import Btf, Map, MapType

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = bpf_path("getppid")
        obj = libbpf_py.load(path)
        view = obj.btf
        m = Map.create(MapType.HASH, key_size=4, value_size=4, max_entries=1, name="lbpy_left")
        btf = Btf.vmlinux()
        closed = Map.create(MapType.HASH, key_size=4, value_size=4, max_entries=1)
        closed.close()
        del obj, view, m, btf, closed
        gc.collect()
    assert sorted(str(w.message) for w in caught if w.category is ResourceWarning) == [
        "unclosed BTF 'vmlinux'", f"unclosed object '{os.path.basename(path)}'",
        "unclosed standalone map 'lbpy_left'"]
