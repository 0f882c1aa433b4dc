"""Addresses to symbols: the kernel's (``/proc/kallsyms``) and user processes' (ELF symbol tables).

``KernelSymbols().resolve(addr)`` and ``UserSymbols(pid).resolve(addr)`` give a ``Symbol``
(name, offset, module/file); ``str(sym)`` is ``name+0x1f [module]``. ``ElfSymbols(path)`` reads
one ELF file's ``.symtab``/``.dynsym`` (no pyelftools needed). ``format_stack()`` decodes the
address tuples a stack trace map returns. Reading kernel addresses needs root (kptr_restrict).
"""

from __future__ import annotations

import bisect
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
    """``/proc/kallsyms`` as a lookup table (needs root for real addresses)."""

    def __init__(self, path: str = "/proc/kallsyms") -> None:
        entries: list[tuple[int, int, str]] = []
        self._modules: dict[str, str] = {}
        self._by_name: dict[str, int] = {}
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                addr = int(parts[0], 16)
                if addr == 0:
                    continue
                name = parts[2]
                if len(parts) > 3:
                    self._modules[name] = parts[3].strip("[]")
                entries.append((addr, 0, name))
                self._by_name.setdefault(name, addr)
        if not entries:
            raise PermissionError(f"{path} shows no addresses: reading kernel symbols needs "
                                  "root (or kernel.kptr_restrict=0)")
        self._table = _Table(entries)

    def by_name(self, name: str) -> int:
        """Address of kernel symbol ``name``; KeyError when absent."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no kernel symbol {name!r}") from None

    def resolve(self, addr: int) -> Optional[Symbol]:
        """The kernel symbol at or before ``addr`` (kallsyms has no sizes), or None."""
        hit = self._table.lookup(addr)
        if hit is None:
            return None
        return Symbol(hit[2], addr - hit[0], self._modules.get(hit[2], ""))


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
