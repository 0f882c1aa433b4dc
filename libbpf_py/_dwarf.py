"""Types from an object's DWARF (``clang -g``), for the ones its BTF leaves out.

clang emits BTF only for the types that globals, maps and function signatures use; a struct
that a program only reaches through a local pointer (the event it reserves in a ring buffer:
10 of 13 event-streaming libbpf-tools) is in the object's DWARF, not in its BTF. This module
reads DWARF with pyelftools (an optional dependency: ``pip install libbpf_py[dwarf]``) and
writes the types asked for, with what they depend on, into a new BTF (libbpf's ``btf__add_*``),
so that everything built on BTF (ctypes types, codecs, ``format``, numpy dtypes) works on it.

- ``btf_from_dwarf(source)`` -> ``DwarfTypes``: ``.btf`` (an owned ``Btf``) and
  ``.find(spelling)`` ("struct event", "union u", "enum e", a typedef name) -> its type id,
  converted on first use.
- ``object_ctype(state, spelling)``: the ctypes type of a type of an object: from its BTF, else
  from its DWARF; ``MissingTypeError`` explains why it is missing and what to do.

Pointers become pointers to a forward declaration (to ``void`` for anonymous targets and
functions): their value is an address either way, and no loop can arise.
"""

from __future__ import annotations

import os
import weakref

from ._ffi import lib

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional, Union


__all__ = ["DwarfTypes", "MissingTypeError", "btf_from_dwarf", "object_ctype"]

# DW_ATE_* base type encodings (DWARF 5, 7.8)
_ATE_BOOLEAN, _ATE_FLOAT, _ATE_SIGNED, _ATE_SIGNED_CHAR = 2, 4, 5, 6
_ATE_UNSIGNED = 7
# btf__add_int encodings (BTF_INT_*), btf_fwd_kind
_SIGNED, _BOOL = 1, 4
_FWD_STRUCT, _FWD_UNION, _FWD_ENUM = 0, 1, 2
_RECORDS = {"DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union",
            "DW_TAG_enumeration_type": "enum", "DW_TAG_class_type": "struct"}
_MODS = {"DW_TAG_const_type": "btf__add_const", "DW_TAG_volatile_type": "btf__add_volatile",
         "DW_TAG_restrict_type": "btf__add_restrict"}


class MissingTypeError(KeyError, ValueError):
    """A type an object's BTF does not have (and, where it was read, neither does its DWARF);
    the message says why and what to do. A ``KeyError`` and a ``ValueError``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _need_pyelftools(what: str) -> Any:
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise ImportError(f"{what}: reading DWARF needs pyelftools (pip install "
                          "'libbpf_py[dwarf]')") from None
    return ELFFile


class DwarfTypes:
    """The types of an ELF object's DWARF, converted to BTF on demand (``find``)."""

    def __init__(self, source: Union[str, os.PathLike[str], bytes], label: str) -> None:
        import io

        from .btf import Btf

        ELFFile = _need_pyelftools(label)
        data = source if isinstance(source, bytes) else open(source, "rb").read()
        elf = ELFFile(io.BytesIO(data))
        self.label = label
        self.has_dwarf = elf.has_dwarf_info() and elf.get_section_by_name(".debug_info") is not None
        self._index: dict[tuple[str, str], Any] = {}  # (kind word or "", name) -> DIE
        if self.has_dwarf:
            dwarf = elf.get_dwarf_info(relocate_dwarf_sections=True)
            for cu in dwarf.iter_CUs():
                for die in cu.iter_DIEs():
                    name = _name(die)
                    if not name or die.attributes.get("DW_AT_declaration"):
                        continue
                    word = _RECORDS.get(die.tag)
                    if word is not None:
                        self._index.setdefault((word, name), die)
                    elif die.tag in ("DW_TAG_typedef", "DW_TAG_base_type"):
                        self._index.setdefault(("", name), die)
        self.btf = Btf(lib.btf__new_empty(), f"DWARF of {label}")  # owned: freed with it
        self._p = self.btf._handle()
        self._ids: dict[int, int] = {}  # DIE offset -> BTF id
        self._fwds: dict[tuple[str, str], int] = {}
        self._index_type = 0

    def names(self) -> list[str]:
        """C spellings of the named types the DWARF defines ("struct event", "u32" ...)."""
        return sorted(f"{w} {n}" if w else n for w, n in self._index)

    def find(self, spelling: str) -> int:
        """The BTF id of ``spelling`` ("struct event", "enum e", a typedef), converted with
        its dependencies on first use. ``KeyError`` if the DWARF does not define it."""
        words = spelling.split()
        key = (words[0], words[1]) if len(words) == 2 and words[0] in ("struct", "union",
                                                                       "enum") \
            else ("", " ".join(words))
        die = self._index.get(key)
        if die is None and key[0] == "":  # a bare record name, as Btf.find() accepts it
            die = next((self._index[(w, key[1])] for w in ("struct", "union", "enum")
                        if (w, key[1]) in self._index), None)
        if die is None:
            raise KeyError(spelling)
        return self._type(die, 0)

    # --- conversion

    def _type(self, die: Any, depth: int) -> int:
        if die is None:
            return 0  # void
        tid = self._ids.get(die.offset)
        if tid is not None:
            return tid
        if depth > 64:
            raise TypeError(f"DWARF of {self.label}: types nest deeper than 64")
        tid = self._convert(die, depth + 1)
        self._ids[die.offset] = tid
        return tid

    def _ref(self, die: Any, depth: int) -> int:
        return self._type(die.get_DIE_from_attribute("DW_AT_type")
                          if "DW_AT_type" in die.attributes else None, depth)

    def _convert(self, die: Any, depth: int) -> int:
        p, tag, name = self._p, die.tag, _name(die).encode()
        size = _attr(die, "DW_AT_byte_size", 0)
        if tag == "DW_TAG_base_type":
            enc = _attr(die, "DW_AT_encoding", _ATE_UNSIGNED)
            if enc == _ATE_FLOAT:
                return lib.btf__add_float(p, name, size)
            # as clang's own BTF: no CHAR flag ("char" is known by its name), signed chars
            # SIGNED, unsigned chars plain
            flags = {_ATE_SIGNED: _SIGNED, _ATE_SIGNED_CHAR: _SIGNED,
                     _ATE_BOOLEAN: _BOOL}.get(enc, 0)
            return lib.btf__add_int(p, name, size, flags)
        if tag == "DW_TAG_typedef":
            return lib.btf__add_typedef(p, name, self._ref(die, depth))
        if tag in _MODS:
            return getattr(lib, _MODS[tag])(p, self._ref(die, depth))
        if tag == "DW_TAG_pointer_type":
            return lib.btf__add_ptr(p, self._pointee(die))
        if tag == "DW_TAG_array_type":
            elem = self._ref(die, depth)
            dims = [_count(sub) for sub in die.iter_children()
                    if sub.tag == "DW_TAG_subrange_type"] or [0]
            for n in reversed(dims):  # int a[2][3]: an array of 2 arrays of 3
                elem = lib.btf__add_array(p, self._index_id(), elem, n)
            return elem
        if tag == "DW_TAG_enumeration_type":
            values = [(_name(e).encode(), _attr(e, "DW_AT_const_value", 0))
                      for e in die.iter_children() if e.tag == "DW_TAG_enumerator"]
            if size == 8:
                signed = any(v < 0 for _, v in values)
                tid = lib.btf__add_enum64(p, name, size, signed)
                for vname, v in values:
                    lib.btf__add_enum64_value(p, vname, v & (2**64 - 1))
                return tid
            tid = lib.btf__add_enum(p, name, size or 4)
            for vname, v in values:
                lib.btf__add_enum_value(p, vname, v)
            return tid
        if tag in ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_class_type"):
            if die.attributes.get("DW_AT_declaration"):
                return self._fwd(die)
            members = []
            for m in die.iter_children():
                if m.tag != "DW_TAG_member":
                    continue
                mtype = self._ref(m, depth)  # before the record: fields follow it directly
                bits = _attr(m, "DW_AT_bit_size", 0)
                if "DW_AT_data_bit_offset" in m.attributes:
                    bit_off = _attr(m, "DW_AT_data_bit_offset", 0)
                else:
                    bit_off = _attr(m, "DW_AT_data_member_location", 0) * 8
                    if bits and "DW_AT_bit_offset" in m.attributes:  # DWARF 2-3 bitfields
                        storage = _attr(m, "DW_AT_byte_size", 0) * 8
                        bit_off += storage - _attr(m, "DW_AT_bit_offset", 0) - bits
                members.append((_name(m).encode() or None, mtype, bit_off, bits))
            add = lib.btf__add_union if tag == "DW_TAG_union_type" else lib.btf__add_struct
            tid = add(p, name or None, size)
            for mname, mtype, bit_off, bits in members:
                lib.btf__add_field(p, mname, mtype, bit_off, bits)
            return tid
        if tag == "DW_TAG_subroutine_type":
            return 0  # only reached through pointers, which point to void
        raise TypeError(f"DWARF of {self.label}: {tag} "
                        f"{name.decode('utf-8', 'backslashreplace')!r} has no BTF equivalent")

    def _pointee(self, die: Any) -> int:
        """A pointer's target: records and functions become a forward declaration or void."""
        if "DW_AT_type" not in die.attributes:
            return 0
        target = die.get_DIE_from_attribute("DW_AT_type")
        seen = 0
        t = target
        while t.tag in _MODS or t.tag == "DW_TAG_typedef":
            if "DW_AT_type" not in t.attributes or seen > 64:
                return self._type(target, 1)
            t = t.get_DIE_from_attribute("DW_AT_type")
            seen += 1
        if t.tag in ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_class_type",
                     "DW_TAG_subroutine_type"):
            return self._fwd(t) if t.tag != "DW_TAG_subroutine_type" else 0
        return self._type(target, 1)

    def _fwd(self, die: Any) -> int:
        name = _name(die)
        if not name:
            return 0
        kind = _FWD_UNION if die.tag == "DW_TAG_union_type" else _FWD_STRUCT
        key = ("union" if kind else "struct", name)
        tid = self._fwds.get(key)
        if tid is None:
            tid = self._fwds[key] = lib.btf__add_fwd(self._p, name.encode(), kind)
        return tid

    def _index_id(self) -> int:
        if not self._index_type:
            self._index_type = lib.btf__add_int(self._p, b"__ARRAY_SIZE_TYPE__", 4, 0)
        return self._index_type


def _name(die: Any) -> str:
    a = die.attributes.get("DW_AT_name")
    if a is None:
        return ""
    v = a.value
    return v.decode(errors="backslashreplace") if isinstance(v, bytes) else str(v)


def _attr(die: Any, name: str, default: int) -> int:
    a = die.attributes.get(name)
    if a is None or not isinstance(a.value, int):
        return default
    return a.value


def _count(sub: Any) -> int:
    if "DW_AT_count" in sub.attributes:
        return _attr(sub, "DW_AT_count", 0)
    if "DW_AT_upper_bound" in sub.attributes:
        return _attr(sub, "DW_AT_upper_bound", -1) + 1
    return 0  # a flexible array member


def btf_from_dwarf(source: Union[str, os.PathLike[str], bytes],
                   label: Optional[str] = None) -> DwarfTypes:
    """The DWARF types of an ELF file (a path or its bytes), converted to BTF on demand."""
    if label is None:
        label = "<bytes>" if isinstance(source, bytes) else os.path.basename(os.fspath(source))
    return DwarfTypes(source, label)


# --- an object's types: BTF first, then DWARF

_per_object: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def object_ctype(state: Any, spelling: str, what: str) -> Any:
    """The ctypes type called ``spelling`` in the object of ``state``: from its BTF, else from
    its DWARF (when the object was opened from a file or bytes built with ``-g`` and
    pyelftools is installed). ``MissingTypeError`` explains what to do otherwise."""
    from ._types import ctype_for, ctype_for_name

    btf = lib.bpf_object__btf(state.ptr) if state.ptr is not None else None
    if btf:
        try:
            return ctype_for_name(btf, spelling)
        except KeyError:
            pass
    source = getattr(state, "source", None)
    reason = ""
    if source is not None:
        types = _per_object.get(state)
        if types is None:
            try:
                types = _per_object[state] = btf_from_dwarf(source, state.label)
            except ImportError as e:
                reason = f" Reading it from the object's DWARF needs pyelftools: {e}."
            except (OSError, ValueError) as e:  # unreadable, or pyelftools refused the ELF
                reason = f" The object's DWARF could not be read ({e})."
        if types is not None:
            if not types.has_dwarf:
                reason = (" The object has no DWARF either (built without -g, or stripped: "
                          "llvm-strip -g and bpftool gen object drop it).")
            else:
                try:
                    return ctype_for(types.btf, types.find(spelling))
                except KeyError:
                    reason = " Its DWARF does not define it either (check the spelling)."
    raise MissingTypeError(
        f"{what}: no such type {spelling!r} in the BTF of object '{state.label}'. clang writes BTF "
        f"only for the types that globals, maps and function signatures use; a struct a "
        f"program reaches only through a local pointer (an event it reserves) is left out."
        f"{reason} Fixes: build with -g and keep the DWARF (libbpf_py reads it, with "
        f"pyelftools: pip install 'libbpf_py[dwarf]'); or make the type part of the BTF (a "
        f"global such as 'struct event *unused_event __attribute__((unused));'); or generate "
        f"Python types from the C header: python -m libbpf_py gen types event.h")
