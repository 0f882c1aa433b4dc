"""Symbol resolution: kernel (kallsyms), ELF files, and live processes (PIE and non-PIE)."""

from __future__ import annotations

import ctypes
import hashlib
import subprocess
from pathlib import Path

import pytest

from libbpf_py.utils.symbols import ElfSymbols, KernelSymbols, Symbol, UserSymbols, format_stack

from conftest import CACHE  # noqa: E402 - tests/.cache, or $LIBBPF_PY_TEST_CACHE (VM runner)

TESTS = Path(__file__).resolve().parent


def build_target(pie: bool) -> Path:
    src = TESTS / "native" / "symbols_target.c"
    flags = ["-O1", "-g", "-fPIE", "-pie"] if pie else ["-O1", "-g", "-fno-pie", "-no-pie"]
    digest = hashlib.sha256(src.read_bytes() + " ".join(flags).encode()).hexdigest()[:12]
    out = CACHE / f"symbols_target-{'pie' if pie else 'nopie'}-{digest}"
    if not out.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(["gcc", *flags, str(src), "-o", f"{out}.tmp"], check=True)
        Path(f"{out}.tmp").rename(out)
    return out


@pytest.mark.parametrize("pie", [True, False], ids=["pie", "non-pie"])
def test_process_address_resolves_to_its_function(pie: bool) -> None:
    exe = build_target(pie)
    elf = ElfSymbols(str(exe))
    assert elf.is_pie_or_shared is pie
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        addr = int(proc.stdout.readline(), 16)
        syms = UserSymbols(proc.pid)
        assert syms.resolve(addr) == Symbol("libbpf_py_target_function", 0, exe.name)
        assert syms.resolve(addr + 3) == Symbol("libbpf_py_target_function", 3, exe.name)
        if not pie:  # non-PIE: the runtime address is the file's virtual address
            assert addr == elf.by_name("libbpf_py_target_function")
    finally:
        proc.communicate("x")


def test_libc_function_in_this_process() -> None:
    libc = ctypes.CDLL(None)
    addr = ctypes.cast(libc.getpid, ctypes.c_void_p).value
    sym = UserSymbols(__import__("os").getpid()).resolve(addr)
    assert sym is not None and sym.offset == 0
    assert sym.name in ("getpid", "__getpid")
    assert sym.module.startswith("libc.so")


def test_elf_symbol_offsets_roundtrip() -> None:
    exe = build_target(True)
    elf = ElfSymbols(str(exe))
    vaddr = elf.by_name("libbpf_py_target_function")
    off = elf.vaddr_to_offset(vaddr)
    assert off is not None and elf.offset_to_vaddr(off) == vaddr
    with pytest.raises(KeyError, match="no symbol 'nope'"):
        elf.by_name("nope")
    with pytest.raises(ValueError, match="not an ELF file"):
        ElfSymbols(str(TESTS / "native" / "symbols_target.c"))


@pytest.mark.root
def test_kernel_symbols_roundtrip() -> None:
    ks = KernelSymbols()
    addr = ks.by_name("do_sys_openat2")
    assert ks.resolve(addr) == Symbol("do_sys_openat2", 0, "")
    assert str(ks.resolve(addr + 0x10)) == "do_sys_openat2+0x10"
    lines = list(format_stack([addr + 4, 0, 0x1234], kernel=ks))
    assert lines == ["do_sys_openat2+0x4", "0x1234"]


def _jited_address(prog) -> int:
    """Where the kernel put ``prog``'s code (bpf_prog_info's jited_ksyms). Not looked up by name
    in /proc/kallsyms: suites running at the same time load the same program under that name."""
    import ctypes

    from libbpf_py._ffi import lib
    from libbpf_py._ffi.attach import bpf_prog_info

    addr = ctypes.c_uint64()
    info = bpf_prog_info(nr_jited_ksyms=1, jited_ksyms=ctypes.addressof(addr))
    n = ctypes.c_uint32(ctypes.sizeof(info))
    lib.bpf_prog_get_info_by_fd(prog.fd, ctypes.byref(info), ctypes.byref(n))
    assert info.nr_jited_ksyms == 1 and addr.value, info.nr_jited_ksyms
    return addr.value


@pytest.mark.root
def test_program_loaded_after_the_table_resolves(bpf_path) -> None:
    """A BPF program loaded after KernelSymbols was read resolves to itself, not to an unrelated
    symbol with a huge offset."""
    import libbpf_py

    ks = KernelSymbols()
    assert ks.resolve(ks.by_name("do_sys_openat2")).name == "do_sys_openat2"  # read now
    with libbpf_py.load(bpf_path("getppid")) as obj:
        prog = obj.programs["on_getppid"]
        name = f"bpf_prog_{prog.info().tag}_on_getppid"
        addr = _jited_address(prog)
        assert ks.resolve(addr) == Symbol(name, 0, "bpf")
        assert ks.resolve(addr + 4) == Symbol(name, 4, "bpf")


@pytest.mark.root
def test_program_loaded_where_an_unloaded_one_was_resolves_to_itself(bpf_path) -> None:
    """The kernel reuses a freed program's JIT memory: an address the table knew as one program
    resolves to the program loaded there since, not to the unloaded one (profile saw this)."""
    import libbpf_py

    ks = KernelSymbols()
    for obj_name, prog in [("getppid", "on_getppid"), ("printk", "say")] * 3:
        with libbpf_py.load(bpf_path(obj_name)) as obj:
            program = obj.programs[prog]
            name = f"bpf_prog_{program.info().tag}_{prog}"
            addr = _jited_address(program)
            assert ks.resolve(addr) == Symbol(name, 0, "bpf")
            assert ks.resolve(addr + 4) == Symbol(name, 4, "bpf")


@pytest.mark.root
def test_address_past_every_symbol_is_none() -> None:
    ks = KernelSymbols()
    with open("/proc/kallsyms") as f:
        top = max(int(line.split()[0], 16) for line in f)
    assert ks.resolve(top + (256 << 20)) is None  # 256 MiB past the last symbol


@pytest.mark.root
def test_kernel_symbols_are_read_on_first_use() -> None:
    ks = KernelSymbols()
    assert not ks.loaded
    assert str(ks.resolve(ks.by_name("do_sys_openat2") + 1)) == "do_sys_openat2+0x1"
    assert ks.loaded
