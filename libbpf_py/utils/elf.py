"""A small ELF reader (standard library only): section headers, section contents, symbols,
loadable segments.

Used by ``python -m libbpf_py inspect`` for what libbpf has no API for (the ``license`` section,
``.BTF.ext`` CO-RE relocation records, where each program starts in its section) and by
``symbols.ElfSymbols`` (symbol tables, PT_LOAD segments of executables and libraries). Reads
ELF32/ELF64 of either byte order; no privileges needed.

::

    elf = ElfFile.read("prog.bpf.o")
    elf.section_data("license")          # b"GPL\\x00"
    [s.name for s in elf.sections]
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

__all__ = ["ElfFile", "ElfSection", "ElfSymbol"]

SHT_SYMTAB = 2
SHT_NOBITS = 8
SHT_DYNSYM = 11
PT_LOAD = 1
ET_DYN = 3


class ElfSection:
    """One section header: ``index``, ``name``, ``type`` (``SHT_*``), ``flags``, ``offset``,
    ``size``, ``link``, ``info``, ``entsize``."""

    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "entsize")

    def __init__(self, index: int, name: str, type: int, flags: int, offset: int, size: int,
                 link: int, info: int, entsize: int) -> None:
        self.index = index
        self.name = name
        self.type = type
        self.flags = flags
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info
        self.entsize = entsize

    def __repr__(self) -> str:
        return f"<ElfSection [{self.index}] {self.name!r} type={self.type} size={self.size}>"


class ElfSymbol:
    """One symbol-table entry: ``name``, ``value``, ``size``, ``type`` (``STT_*``), ``bind``
    (``STB_*``), ``section`` (index)."""

    __slots__ = ("name", "value", "size", "type", "bind", "section")

    def __init__(self, name: str, value: int, size: int, type: int, bind: int,
                 section: int) -> None:
        self.name = name
        self.value = value
        self.size = size
        self.type = type
        self.bind = bind
        self.section = section

    def __repr__(self) -> str:
        return f"<ElfSymbol {self.name!r} section={self.section} value={self.value:#x}>"


class ElfFile:
    """An ELF file held in memory: ``sections`` (in header order), ``section(name)``,
    ``section_data(name)``, ``symbols()``. ``ValueError`` naming the problem for non-ELF or
    truncated input."""

    def __init__(self, data: bytes, label: str = "<bytes>") -> None:
        self.data = data
        self.label = label
        if len(data) < 16 or data[:4] != b"\x7fELF":
            raise ValueError(f"{label} is not an ELF file")
        self.is64 = data[4] == 2
        self.order = "<" if data[5] == 1 else ">"
        o = self.order
        try:
            (self.type,) = struct.unpack_from(o + "H", data, 16)  # e_type: ET_EXEC, ET_DYN ...
            if self.is64:
                phoff, shoff = struct.unpack_from(o + "QQ", data, 0x20)
                phentsize, phnum = struct.unpack_from(o + "HH", data, 0x36)
                phfmt, phfields = o + "IIQQQQ", (2, 3, 5)  # p_offset, p_vaddr, p_filesz
            else:
                phoff, shoff = struct.unpack_from(o + "II", data, 0x1C)
                phentsize, phnum = struct.unpack_from(o + "HH", data, 0x2A)
                phfmt, phfields = o + "IIIIII", (1, 2, 4)
            #: PT_LOAD segments as (p_offset, p_vaddr, p_filesz)
            self.segments: list[tuple[int, int, int]] = []
            for i in range(phnum):
                ph = struct.unpack_from(phfmt, data, phoff + i * phentsize)
                if ph[0] == PT_LOAD:
                    self.segments.append(tuple(ph[f] for f in phfields))  # type: ignore[arg-type]
            if self.is64:
                shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 0x3A)
                shfmt = o + "IIQQQQIIQQ"
            else:
                shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 0x2E)
                shfmt = o + "IIIIIIIIII"
            raw = [struct.unpack_from(shfmt, data, shoff + i * shentsize) for i in range(shnum)]
        except struct.error:
            raise ValueError(f"{label}: truncated ELF section headers") from None
        strtab = raw[shstrndx] if shstrndx < len(raw) else None
        sections: list[ElfSection] = []
        for i, (name_off, stype, flags, _addr, off, size, link, info, _align, entsize) in \
                enumerate(raw):
            name = self._cstr(strtab[4], name_off) if strtab is not None else ""
            sections.append(ElfSection(i, name, stype, flags, off, size, link, info, entsize))
        self.sections = sections

    @classmethod
    def read(cls, path: Union[str, os.PathLike[str]]) -> ElfFile:
        """Read the ELF file at ``path`` (``FileNotFoundError`` if there is none)."""
        p = os.fspath(path)
        with open(p, "rb") as f:
            return cls(f.read(), p)

    def _cstr(self, table_off: int, off: int) -> str:
        start = table_off + off
        end = self.data.find(b"\0", start)
        return self.data[start:end if end >= 0 else len(self.data)].decode(errors="replace")

    def section(self, name: str) -> Optional[ElfSection]:
        """The first section called ``name``, or None."""
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def section_data(self, name_or_section: Union[str, ElfSection]) -> Optional[bytes]:
        """The contents of a section (by name or header), or None if there is no such section.
        ``SHT_NOBITS`` sections (``.bss``) have no contents in the file: zero bytes."""
        s = (self.section(name_or_section) if isinstance(name_or_section, str)
             else name_or_section)
        if s is None:
            return None
        if s.type == SHT_NOBITS:
            return bytes(s.size)
        if s.offset + s.size > len(self.data):
            raise ValueError(f"{self.label}: section {s.name!r} runs past the end of the file")
        return self.data[s.offset:s.offset + s.size]

    def symbols(self, table: int = SHT_SYMTAB) -> list[ElfSymbol]:
        """Every entry of the ``SHT_SYMTAB`` (or ``table``: ``SHT_DYNSYM``) symbol table (empty
        if the file has none)."""
        tab = next((s for s in self.sections if s.type == table), None)
        if tab is None or tab.link >= len(self.sections):
            return []
        stroff = self.sections[tab.link].offset
        o = self.order
        out: list[ElfSymbol] = []
        if self.is64:
            fmt, esize = o + "IBBHQQ", 24
        else:
            fmt, esize = o + "IIIBBH", 16
        for i in range(tab.size // esize):
            fields = struct.unpack_from(fmt, self.data, tab.offset + i * esize)
            if self.is64:
                name_off, info, _other, shndx, value, size = fields
            else:
                name_off, value, size, info, _other, shndx = fields
            out.append(ElfSymbol(self._cstr(stroff, name_off), value, size, info & 0xF,
                                 info >> 4, shndx))
        return out
