"""Addresses to symbols: the kernel's (``/proc/kallsyms``) and user processes' (ELF symbol tables).

``KernelSymbols().resolve(addr)`` and ``UserSymbols(pid).resolve(addr)`` give a ``Symbol``
(name, offset, module/file); ``str(sym)`` is ``name+0x1f [module]``. ``ElfSymbols(path)`` reads
one ELF file's ``.symtab``/``.dynsym`` (no pyelftools needed). ``format_stack()`` decodes the
address tuples a stack trace map returns. Reading kernel addresses needs root (kptr_restrict);
the extents of BPF programs come from the bpf syscall (the one use of the raw layer here).
"""

from __future__ import annotations

import bisect
import ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Optional

__all__ = ["Symbol", "ElfSymbols", "KernelSymbols", "UserSymbols", "format_stack"]


class Symbol(tuple):  # (name, offset, module) without importing typing.NamedTuple
    """A resolved address: ``name``, ``offset`` from the symbol's start, ``module`` (or "")."""

    __slots__ = ()

    def __new__(cls, name: str, offset: int, module: str = "") -> Symbol:
        return tuple.__new__(cls, (name, offset, module))

    name = property(lambda self: self[0])
    offset = property(lambda self: self[1])
    module = property(lambda self: self[2])

    def __str__(self) -> str:
        where = f" [{self.module}]" if self.module else ""
        return f"{self.name}+{self.offset:#x}{where}"

    def __repr__(self) -> str:
        return f"Symbol({self.name!r}, {self.offset:#x}, {self.module!r})"


class _Table:
    """Sorted (address, size, name) with lookup of the symbol containing an address."""

    def __init__(self, entries: Iterable[tuple[int, int, str]]) -> None:
        rows = sorted(set(entries))
        self._addrs = [a for a, _, _ in rows]
        self._rows = rows

    def lookup(self, addr: int) -> Optional[tuple[int, int, str]]:
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        start, size, _name = self._rows[i]
        # size 0: unknown extent (kallsyms), the nearest symbol below is the answer
        return self._rows[i] if size == 0 or addr < start + size else None

    def __len__(self) -> int:
        return len(self._rows)


# --- ELF ---------------------------------------------------------------------------------------

STT_FUNC, STT_OBJECT, STT_GNU_IFUNC = 2, 1, 10


class ElfSymbols:
    """Function and object symbols of one ELF file (``.symtab``, else ``.dynsym``).

    ``by_name(name)`` gives the symbol's virtual address (as in the file); ``resolve(vaddr)``
    the symbol containing ``vaddr``; ``offset_to_vaddr(off)`` maps a file offset through the
    PT_LOAD segments (how a process mapping's address becomes a file address). Parsing is
    ``elf.ElfFile``'s.
    """

    def __init__(self, path: str) -> None:
        from .elf import SHT_DYNSYM, SHT_SYMTAB, ElfFile

        self.path = path
        elf = ElfFile.read(path)
        if not elf.is64:
            raise ValueError(f"{path}: only 64-bit ELF files are supported")
        self.type = elf.type
        self.segments = elf.segments  # (p_offset, p_vaddr, p_filesz) of each PT_LOAD
        entries: list[tuple[int, int, str]] = []
        for table in (SHT_SYMTAB, SHT_DYNSYM):  # .symtab has everything .dynsym has
            entries = [(sym.value, sym.size, sym.name) for sym in elf.symbols(table)
                       if sym.section != 0 and sym.value != 0
                       and sym.type in (STT_FUNC, STT_OBJECT, STT_GNU_IFUNC)]
            if entries:
                break
        self._table = _Table(entries)
        self._by_name: dict[str, int] = {}
        for value, _size, name in entries:
            self._by_name.setdefault(name, value)

    @property
    def is_pie_or_shared(self) -> bool:
        """ET_DYN: loaded at a random base (PIE executables and shared libraries)."""
        return self.type == 3

    def by_name(self, name: str) -> int:
        """The virtual address of symbol ``name``; KeyError when absent."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no symbol {name!r} in {self.path}") from None

    def names(self) -> list[str]:
        """All symbol names."""
        return list(self._by_name)

    def resolve(self, vaddr: int) -> Optional[Symbol]:
        """The symbol containing file virtual address ``vaddr``, or None."""
        hit = self._table.lookup(vaddr)
        if hit is None:
            return None
        return Symbol(hit[2], vaddr - hit[0], os.path.basename(self.path))

    def offset_to_vaddr(self, offset: int) -> Optional[int]:
        """The virtual address of file offset ``offset`` (through PT_LOAD segments)."""
        for p_offset, p_vaddr, p_filesz in self.segments:
            if p_offset <= offset < p_offset + p_filesz:
                return offset - p_offset + p_vaddr
        return None

    def vaddr_to_offset(self, vaddr: int) -> Optional[int]:
        """The file offset of virtual address ``vaddr`` (what uprobes take)."""
        for p_offset, p_vaddr, p_filesz in self.segments:
            if p_vaddr <= vaddr < p_vaddr + p_filesz:
                return vaddr - p_vaddr + p_offset
        return None


# --- kernel ------------------------------------------------------------------------------------


class KernelSymbols:
    """``/proc/kallsyms`` as a lookup table (needs root for real addresses).

    Read on first use, in one pass: the core kernel's lines are kept as they are (sorted, they
    are searched by bisection on their hex addresses without parsing them all), so building the
    table costs little more than the kernel takes to write the file. The core kernel's symbols
    never change. The rest (BPF programs, modules, trampolines) comes and goes: their extents
    are known (a BPF program's size from the bpf syscall, a module's from /proc/modules, a
    trampoline's page), an address in none of them is a miss, and a miss re-reads the table
    when programs or modules changed since (a program loaded later resolves; an unknown
    address is None, not the nearest symbol with a huge offset). ``refresh()`` re-reads it.
    """

    PAGE = 4096  #: extent of a dynamic symbol whose size is unknown (trampolines, dispatchers)

    def __init__(self, path: str = "/proc/kallsyms") -> None:
        self.path = path
        # x86-64 kernels before 6.15 start with per-CPU symbols at address 0 (fixed_percpu_data,
        # __per_cpu_start ...) even for root: the first non-absolute symbol tells.
        first: list[bytes] = []
        with open(path, "rb") as f:
            for line in f:
                first = line.split(None, 2)
                if len(first) < 2 or first[1] not in (b"A", b"a"):
                    break
        if not first or int(first[0], 16) == 0:
            raise PermissionError(f"{path} shows no addresses: reading kernel symbols needs "
                                  "root (or kernel.kptr_restrict=0)")
        self._core: list[bytes] = []
        self._core_last = -1
        self._width = len(first[0])
        # (start, end, name, module) of every other symbol, sorted by start
        self._dynamic: list[tuple[int, int, str, str]] = []
        self._starts: list[int] = []
        self._by_name: Optional[dict[bytes, int]] = None
        self._fingerprint: object = None
        self.loaded = False  #: whether the table was read (on first use)

    def refresh(self) -> None:
        """Re-read the table now (for programs or modules unloaded since, whose addresses a
        newer one may reuse)."""
        self._fingerprint = _dynamic_fingerprint()
        with open(self.path, "rb") as f:
            data = f.read()
        w = self._width
        tab = data.find(b"\t")  # the first symbol with a [module]: the core kernel's end
        core_end = len(data) if tab < 0 else data.rfind(b"\n", 0, tab) + 1
        core = data[:core_end].split(b"\n")
        if core and not core[-1]:
            core.pop()
        core.sort()  # sorted already (kallsyms' order): one linear pass verifies it
        self._core = core
        self._core_last = int(core[-1][:w], 16) if core else -1
        self._dynamic = self._dynamic_symbols(data[core_end:])
        self._starts = [row[0] for row in self._dynamic]
        self._by_name = None
        self.loaded = True

    def _dynamic_symbols(self, text: bytes) -> list[tuple[int, int, str, str]]:
        rows = []
        for line in text.decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            addr = int(parts[0], 16)
            if addr:
                rows.append((addr, parts[2], parts[3].strip("[]") if len(parts) > 3 else ""))
        rows.sort()
        sizes = _bpf_program_sizes() if any(m == "bpf" for _, _, m in rows) else {}
        modules = _module_ranges() if any(m not in _PSEUDO for _, _, m in rows) else {}
        out = []
        for i, (addr, name, module) in enumerate(rows):
            end = rows[i + 1][0] if i + 1 < len(rows) else 1 << 64
            if module in modules:
                end = min(end, modules[module])
            elif addr in sizes:
                end = min(end, addr + sizes[addr])
            else:
                end = min(end, addr + self.PAGE)
            out.append((addr, max(end, addr + 1), name, module))
        return out

    def _table(self) -> None:
        if not self.loaded:
            self.refresh()

    def by_name(self, name: str) -> int:
        """Address of kernel symbol ``name``; KeyError when absent."""
        self._table()
        if self._by_name is None:
            # name (bytes, as in the file) -> index in the core lines; the first one wins
            w = self._width
            names = [line[w + 3:] for line in self._core]
            self._by_name = dict(zip(reversed(names), range(len(names) - 1, -1, -1)))
        i = self._by_name.get(name.encode())
        if i is not None:
            return int(self._core[i][:self._width], 16)
        for addr, _end, sym, _module in self._dynamic:
            if sym == name:
                return addr
        raise KeyError(f"no kernel symbol {name!r}")

    def resolve(self, addr: int) -> Optional[Symbol]:
        """The kernel symbol containing ``addr``: in the core kernel the symbol at or before
        it (kallsyms has no sizes); elsewhere one whose extent covers it, or None."""
        self._table()
        if addr <= self._core_last:
            w = self._width
            i = bisect.bisect_right(self._core, b"%0*x\xff" % (w, addr)) - 1
            if i >= 0:
                line = self._core[i]
                return Symbol(line[w + 3:].decode(errors="replace"), addr - int(line[:w], 16))
            return None
        hit = self._dynamic_lookup(addr)
        # A miss, or a hit in a BPF program or trampoline (freed JIT memory is reused: a program
        # loaded since may sit where an unloaded one was), is checked against what is loaded now.
        if (hit is None or hit.module in _PSEUDO) and _dynamic_fingerprint() != self._fingerprint:
            self.refresh()  # programs or modules came or went since: read them again
            hit = self._dynamic_lookup(addr)
        return hit

    def _dynamic_lookup(self, addr: int) -> Optional[Symbol]:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        start, end, name, module = self._dynamic[i]
        return Symbol(name, addr - start, module) if addr < end else None


#: kallsyms' pseudo-modules: not in /proc/modules.
_PSEUDO = frozenset({"bpf", "__builtin__ftrace", "__builtin__kprobes"})


def _bpf_program_ids() -> list[int]:
    from .._ffi import lib
    from ..errors import BpfError

    ids: list[int] = []
    cur = ctypes.c_uint32(0)
    nxt = ctypes.c_uint32()
    while True:
        try:
            lib.bpf_prog_get_next_id(cur.value, ctypes.byref(nxt))
        except BpfError:  # ENOENT: the last one; EPERM: not allowed to list them
            return ids
        ids.append(nxt.value)
        cur.value = nxt.value


def _bpf_program_sizes() -> dict[int, int]:
    """Start address -> size of every JITed BPF function (``bpf_prog_info``'s jited_ksyms and
    jited_func_lens, through the bpf syscall); empty without the privilege to list them."""
    from .._ffi import lib
    from .._ffi.attach import bpf_prog_info
    from ..errors import BpfError

    sizes: dict[int, int] = {}
    for prog_id in _bpf_program_ids():
        try:
            fd = lib.bpf_prog_get_fd_by_id(prog_id)
        except BpfError:
            continue  # unloaded meanwhile
        try:
            info = bpf_prog_info()
            n = ctypes.c_uint32(ctypes.sizeof(info))
            lib.bpf_prog_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(n))
            count = min(info.nr_jited_ksyms, info.nr_jited_func_lens)
            if not count:
                continue
            addrs = (ctypes.c_uint64 * count)()
            lens = (ctypes.c_uint32 * count)()
            info = bpf_prog_info(nr_jited_ksyms=count, nr_jited_func_lens=count,
                                 jited_ksyms=ctypes.addressof(addrs),
                                 jited_func_lens=ctypes.addressof(lens))
            n = ctypes.c_uint32(ctypes.sizeof(info))
            lib.bpf_prog_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(n))
            sizes.update(zip(addrs, lens))
        except BpfError:
            continue
        finally:
            os.close(fd)
    return sizes


def _module_ranges() -> dict[str, int]:
    """Module name -> end address of its memory (``/proc/modules``: size and base)."""
    ends: dict[str, int] = {}
    try:
        with open("/proc/modules") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith("0x") and int(parts[5], 16):
                    ends[parts[0]] = int(parts[5], 16) + int(parts[1])
    except OSError:
        pass
    return ends


def _dynamic_fingerprint() -> object:
    """What changes when programs or modules come or go: the BPF program ids and
    /proc/modules (a few syscalls, no kallsyms read)."""
    try:
        with open("/proc/modules", "rb") as f:
            modules = f.read()
    except OSError:
        modules = b""
    return (tuple(_bpf_program_ids()), modules)


# --- user processes ----------------------------------------------------------------------------


class UserSymbols:
    """Symbols of a running process: its executable and shared libraries (``/proc/PID/maps``).

    Works for PIE and non-PIE executables: a mapping's address becomes a file offset, then a
    file virtual address through the ELF's PT_LOAD segments. ELF files are read lazily, once.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._maps: list[tuple[int, int, int, str]] = []  # start, end, file offset, path
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) < 6 or "x" not in parts[1] or not parts[5].startswith("/"):
                    continue
                start, end = (int(x, 16) for x in parts[0].split("-"))
                self._maps.append((start, end, int(parts[2], 16), parts[5].strip()))
        self._elfs: dict[str, Optional[ElfSymbols]] = {}

    def _elf(self, path: str) -> Optional[ElfSymbols]:
        if path not in self._elfs:
            try:
                # /proc/PID/root: the process's view of the file (containers, deleted files).
                root = f"/proc/{self.pid}/root{path}"
                self._elfs[path] = ElfSymbols(root if os.path.exists(root) else path)
                self._elfs[path].path = path  # type: ignore[union-attr]
            except (OSError, ValueError):
                self._elfs[path] = None
        return self._elfs[path]

    def resolve(self, addr: int) -> Optional[Symbol]:
        """The symbol containing ``addr`` in the process, or None."""
        for start, end, offset, path in self._maps:
            if start <= addr < end:
                elf = self._elf(path)
                if elf is None:
                    return None
                vaddr = elf.offset_to_vaddr(addr - start + offset)
                return elf.resolve(vaddr) if vaddr is not None else None
        return None


def format_stack(addrs: Iterable[int], *, pid: Optional[int] = None,
                 kernel: Optional[KernelSymbols] = None,
                 user: Optional[UserSymbols] = None) -> Iterator[str]:
    """One line per non-zero address: ``symbol+0xoff [module]``, or the hex address.

    Kernel addresses (the upper half) resolve through ``kernel`` (made on first need); user
    addresses through ``user`` (or ``UserSymbols(pid)``).
    """
    for addr in addrs:
        if not addr:
            continue
        sym = None
        if addr >= 1 << 63:
            kernel = kernel or KernelSymbols()
            sym = kernel.resolve(addr)
        elif user is not None or pid is not None:
            user = user or UserSymbols(pid)  # type: ignore[arg-type]
            sym = user.resolve(addr)
        yield str(sym) if sym else f"{addr:#x}"
