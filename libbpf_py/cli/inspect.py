"""``inspect FILE.bpf.o [--json]``: what a BPF object holds, without loading it (unprivileged).

Programs (section, type, expected attach type, instruction count, CO-RE relocation count),
maps (type, key/value C types from BTF, sizes, flags, pinning), global variables (per data
section: type and initial value), CO-RE relocations and the license. libbpf gives the first
three (``bpf_object__open``); CO-RE relocation records (``.BTF.ext``) and the ``license``
section have no libbpf API, so they are read from the ELF file (:mod:`libbpf_py.utils.elf`).
"""

from __future__ import annotations

import struct

from ..btf import Kind
from ..utils.elf import ElfFile
from . import CliError
from ._values import decode, jsonable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..btf import Btf
    from ..object import OpenObject

__all__ = ["report", "core_relocations", "run"]

# enum bpf_core_relo_kind (linux/bpf.h)
CORE_RELO_KINDS = ("field_byte_offset", "field_byte_size", "field_exists", "field_signed",
                   "field_lshift_u64", "field_rshift_u64", "type_id_local", "type_id_target",
                   "type_exists", "type_size", "enumval_exists", "enumval_value",
                   "type_matches")
_PINNING = {0: "none", 1: "by_name"}
STT_FUNC = 2


def _strings_of_btf(raw: bytes) -> tuple[bytes, str]:
    """The string section of raw .BTF bytes, and the byte order."""
    if len(raw) < 24:
        raise ValueError(".BTF section is truncated")
    order = "<" if raw[:2] == b"\x9f\xeb" else ">"
    hdr_len, _toff, _tlen, str_off, str_len = struct.unpack_from(order + "5I", raw, 4)
    start = hdr_len + str_off
    return raw[start:start + str_len], order


def _cstr(table: bytes, off: int) -> str:
    end = table.find(b"\0", off)
    return table[off:end if end >= 0 else len(table)].decode(errors="replace")


def _access_spec(btf: Btf, type_id: int, kind: int, access: str) -> str:
    """A readable spec of a relocation: "struct task_struct.real_parent", "enum e::B"."""
    t = btf[type_id]
    name = t.c_name
    try:
        idx = [int(x) for x in access.split(":")]
    except ValueError:
        return name
    if kind in (10, 11):  # enumerator relocations: access is the enumerator's index
        names = list(t.resolve().enumerators)
        return f"{name}::{names[idx[0]]}" if idx and idx[0] < len(names) else name
    if kind >= 6:  # type-based: the type itself
        return name
    spec = name if not idx or idx[0] == 0 else f"{name}[{idx[0]}]"
    cur = t
    for i in idx[1:]:
        cur = cur.resolve()
        if cur.kind in (Kind.STRUCT, Kind.UNION):
            m = cur.members[i]
            spec += f".{m.name}" if m.name else f".<anon{i}>"
            cur = m.type
        elif cur.kind == Kind.ARRAY:
            spec += f"[{i}]"
            cur = cur.element
        else:
            break
    return spec


def core_relocations(elf: ElfFile, btf: Optional[Btf],
                     programs: dict[str, str]) -> list[dict[str, Any]]:
    """The CO-RE relocation records of ``.BTF.ext`` (empty when there are none): for each,
    the program (found from the ELF symbols), its section, the instruction index, the kind, the
    local type and a readable access spec. ``programs``: program name -> section."""
    ext = elf.section_data(".BTF.ext")
    raw_btf = elf.section_data(".BTF")
    if not ext or raw_btf is None:
        return []
    strings, order = _strings_of_btf(raw_btf)
    if len(ext) < 8:
        raise ValueError(".BTF.ext section is truncated")
    (hdr_len,) = struct.unpack_from(order + "I", ext, 4)
    if hdr_len < 32:
        return []  # an old .BTF.ext without CO-RE relocations
    relo_off, relo_len = struct.unpack_from(order + "II", ext, 24)
    if not relo_len:
        return []
    pos, end = hdr_len + relo_off, hdr_len + relo_off + relo_len
    (rec_size,) = struct.unpack_from(order + "I", ext, pos)
    pos += 4
    if rec_size < 16:
        raise ValueError(f".BTF.ext: CO-RE relocation record size {rec_size} is too small")
    # Where each program starts in its section: its FUNC symbol.
    index = {s.name: s.index for s in elf.sections}
    funcs: dict[int, list[tuple[int, int, str]]] = {}
    for sym in elf.symbols():
        if sym.type == STT_FUNC and sym.name in programs:
            funcs.setdefault(sym.section, []).append((sym.value, sym.size, sym.name))
    out: list[dict[str, Any]] = []
    while pos + 8 <= end:
        sec_off, count = struct.unpack_from(order + "II", ext, pos)
        pos += 8
        section = _cstr(strings, sec_off)
        for _ in range(count):
            insn_off, type_id, access_off, kind = struct.unpack_from(order + "4I", ext, pos)
            pos += rec_size
            owner, start = None, 0
            for value, size, name in funcs.get(index.get(section, -1), []):
                if value <= insn_off < value + max(size, 1):
                    owner, start = name, value
                    break
            access = _cstr(strings, access_off)
            rec: dict[str, Any] = {
                "program": owner, "section": section, "insn": (insn_off - start) // 8,
                "kind": CORE_RELO_KINDS[kind] if kind < len(CORE_RELO_KINDS) else kind,
                "type": btf[type_id].c_name if btf is not None else type_id,
                "access": access}
            if btf is not None:
                rec["spec"] = _access_spec(btf, type_id, kind, access)
            out.append(rec)
    return out


def _map_definitions(btf: Optional[Btf]) -> dict[str, dict[str, Any]]:
    """From the ``.maps`` DATASEC (BTF map definitions): per map, its key/value types and
    pinning as declared (``__type(key, ...)``, ``__uint(pinning, ...)``)."""
    out: dict[str, dict[str, Any]] = {}
    if btf is None:
        return out
    sec = btf.get(".maps", Kind.DATASEC)
    if sec is None:
        return out
    for var, _off, _size in sec.variables:
        d: dict[str, Any] = {"pinning": 0}
        t = var.target.resolve()
        if t.kind != Kind.STRUCT:
            continue
        for m in t.members:
            mt = m.type.resolve()
            if mt.kind != Kind.PTR:
                continue
            pointee = mt.target
            if m.name in ("key", "value"):
                d[m.name] = pointee.c_name
            elif m.name == "pinning" and pointee.resolve().kind == Kind.ARRAY:
                d["pinning"] = pointee.resolve().length
        out[var.name] = d
    return out


def _variables(obj: OpenObject) -> dict[str, list[dict[str, Any]]]:
    btf = obj.btf
    out: dict[str, list[dict[str, Any]]] = {}
    if btf is None:
        return out
    for name, section in obj.sections.items():
        raw = section.raw()
        datasec = btf.find(name, Kind.DATASEC)
        rows = []
        for var, offset, size in datasec.variables:
            if var.kind != Kind.VAR:
                continue  # a FUNC (extern): no value
            rows.append({"name": var.name, "type": var.target.c_name, "offset": offset,
                         "size": size, "value": decode(var.target, raw[offset:offset + size])})
        out[name] = rows
    return out


def report(path: str) -> dict[str, Any]:
    """Everything ``inspect`` shows about the object at ``path``, JSON-ready."""
    import os

    from ..object import Object

    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    elf = ElfFile.read(path)
    with Object.open(path) as obj:
        btf = obj.btf
        sections = {p.name: p.section for p in obj.programs.values()}
        relos = core_relocations(elf, btf, sections)
        defs = _map_definitions(btf)
        internal = {s.map.name: (n, s) for n, s in obj.sections.items()}
        maps = []
        for m in obj.maps.values():
            d = defs.get(m.name, {})
            value_type = d.get("value")
            if m.name in internal:
                value_type = f"DATASEC {internal[m.name][0]}"
            maps.append({
                "name": m.name, "type": m.type.name.lower(), "key_type": d.get("key"),
                "value_type": value_type, "key_size": m.key_size,
                "value_size": m.value_size, "max_entries": m.max_entries, "flags": m.flags,
                "pinning": _PINNING.get(d.get("pinning", 0), str(d.get("pinning"))),
                "pin_path": m.pin_path})
        programs = []
        for p in obj.programs.values():
            # 0 is BPF_CGROUP_INET_INGRESS, but also what every program type without an
            # expected attach type has: show it only where it means something.
            try:
                expected = p.expected_attach_type
                attach = jsonable(expected)
            except ValueError:  # a value the enum does not name
                expected, attach = None, None
            if expected is not None and int(expected) == 0 and p.type.name != "CGROUP_SKB":
                attach = None
            programs.append({
                "name": p.name, "section": p.section, "type": p.type.name.lower(),
                "attach_type": attach, "instructions": p.insn_count, "autoload": p.autoload,
                "core_relocations": sum(1 for r in relos if r["program"] == p.name)})
        licence = elf.section_data("license")
        return {
            "name": obj.name,
            "license": licence.split(b"\0", 1)[0].decode(errors="replace") if licence else None,
            "programs": programs,
            "maps": maps,
            "globals": _variables(obj),
            "core_relocations": relos,
        }


def _text(r: dict[str, Any]) -> str:
    lines = [f"object {r['name']}  license {r['license']!r}", "programs:"]
    for p in r["programs"]:
        attach = f"  attach {p['attach_type']}" if p["attach_type"] else ""
        lines.append(f"  {p['name']:<24} {p['type']:<16} {p['instructions']:>6} insns  "
                     f"SEC(\"{p['section']}\"){attach}  core_relos {p['core_relocations']}")
    lines.append("maps:")
    for m in r["maps"]:
        types = ""
        if m["key_type"] or m["value_type"]:
            types = f"  {m['key_type'] or '-'} -> {m['value_type'] or '-'}"
        pin = f"  pinning {m['pinning']}" if m["pinning"] != "none" else ""
        lines.append(f"  {m['name']:<24} {m['type']:<16} key {m['key_size']:>3}  value "
                     f"{m['value_size']:>5}  max_entries {m['max_entries']:<8} flags "
                     f"{m['flags']:#x}{types}{pin}")
    if r["globals"]:
        lines.append("globals:")
        for sec, rows in r["globals"].items():
            lines.append(f"  {sec}:")
            for v in rows:
                lines.append(f"    {v['type']} {v['name']} = {v['value']!r}  "
                             f"(offset {v['offset']}, size {v['size']})")
    if r["core_relocations"]:
        lines.append("core relocations:")
        for c in r["core_relocations"]:
            lines.append(f"  {c['program'] or c['section']}  insn {c['insn']:<5} "
                         f"{c['kind']:<18} {c.get('spec', c['type'])}  ({c['access']})")
    return "\n".join(lines)


def run(path: str, as_json: bool) -> int:
    import json

    try:
        r = report(path)
    except ValueError as e:
        raise CliError(f"{path}: {e}") from None
    print(json.dumps(r, indent=2) if as_json else _text(r))
    return 0
