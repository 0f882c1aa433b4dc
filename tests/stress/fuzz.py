"""Fuzzing: byte-mutated BPF objects, BTF blobs and wrong map/global values, each case in a forked
child with a timeout, classified as crash / hang / unclear / clean / load.

Families (each case is one child):
- ``object``: a seed object, mutated (bit flips, interesting values, truncation, ELF section
  headers, .BTF, .BTF.ext (CO-RE relocations, func/line info), relocation entries, symbols,
  instructions, data sections, names made non-UTF-8; sometimes several of these), opened from
  bytes, walked (everything the API shows of programs, maps, globals, the BTF and its C dump),
  loaded, and walked again (fds, info, elements, live globals).
- ``btf``: a seed's raw .BTF, mutated, through ``Btf.from_bytes`` and the same walk of its types
  (names, C names, sizes, alignment, members ..., ctypes, ``dump_c()``, ``format()``).
- ``value``: a seed loaded as it is, then keys, values and globals of wrong sizes and types.

Outcomes: ``crash`` (the child died of a signal or exited without a report), ``hang`` (killed at
the timeout), ``unclear`` (an exception that is neither a ``BpfError`` nor a ValueError/TypeError
raised by a ``raise`` of libbpf_py's naming the problem), ``clean`` (only such errors), ``load``
(the object loaded, or the BTF parsed, and the walk raised nothing).
"""

from __future__ import annotations

import json
import linecache
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
SEEDS = HERE / "seeds"
CORPUS = HERE / "corpus"
#: Seeds: our own (CO-RE relocations of every kind, map-in-map, subprograms, four program
#: types) and the test suite's objects with maps, globals, struct_ops, CO-RE, many programs.
SEED_SOURCES = [SEEDS / "fuzz_seed.bpf.c"] + [TESTS / "bpf" / f"{n}.bpf.c" for n in (
    "maps", "globals_rw", "map_kinds", "attach_net", "btf_types", "stream_events", "stream_user",
    "prog_testrun", "attach_struct_ops", "attach_perf", "obj_kconfig")]

OUTCOMES = ("crash", "hang", "unclear", "clean", "load")
PKG = None  # libbpf_py's directory, set by prepare()

# --- seeds


def build_seeds(sources: list[Path] = SEED_SOURCES) -> dict[str, bytes]:
    """Compile (cached by the test harness) and strip debug info: mutations land on what
    libbpf reads, not on DWARF it skips."""
    sys.path.insert(0, str(TESTS))
    from conftest import compile_bpf  # the suite's compiler and cache

    seeds = {}
    for src in sources:
        obj = compile_bpf(src)
        stripped = obj.with_suffix(".stripped")
        if not stripped.is_file() or stripped.stat().st_mtime < obj.stat().st_mtime:
            subprocess.run(["llvm-strip", "-g", "-o", str(stripped), str(obj)], check=True)
        seeds[src.name.removesuffix(".bpf.c")] = stripped.read_bytes()
    return seeds


class Elf:
    """Just enough ELF64 (little endian, as clang writes BPF objects) to aim mutations."""

    SHDR = struct.Struct("<IIQQQQIIQQ")

    def __init__(self, data: bytes) -> None:
        self.shoff = struct.unpack_from("<Q", data, 0x28)[0]
        self.shnum, self.shstrndx = struct.unpack_from("<HH", data, 0x3C)
        self.sections: list[tuple[str, int, tuple[int, ...]]] = []  # (name, header offset, fields)
        heads = [self.SHDR.unpack_from(data, self.shoff + i * 64) for i in range(self.shnum)]
        strtab = heads[self.shstrndx]
        for i, h in enumerate(heads):
            start = strtab[4] + h[0]
            name = data[start:data.index(b"\0", start)].decode()
            self.sections.append((name, self.shoff + i * 64, h))

    def find(self, pred: Callable[[str, tuple[int, ...]], bool]) -> list[tuple[int, int, str]]:
        """(file offset, size, name) of the sections whose (name, header) match."""
        return [(h[4], h[5], n) for n, _, h in self.sections if pred(n, h) and h[5] and h[1] != 8]


INTERESTING = [0, 1, 0xFF, 0x7F, 0x80, 0xFFFF, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFE, 2, 3, 4, 8, 12, 16, 24, 0x1000, 0x10000, 0x18]


def _put32(buf: bytearray, off: int, rng: random.Random) -> None:
    if off + 4 <= len(buf):
        v = rng.choice(INTERESTING) if rng.random() < 0.7 else rng.getrandbits(32)
        if rng.random() < 0.2:  # nudge the current value
            v = (struct.unpack_from("<I", buf, off)[0] + rng.choice([-1, 1, 4, -4, 0x100])) & \
                0xFFFFFFFF
        struct.pack_into("<I", buf, off, v)


def _in_section(buf: bytearray, rng: random.Random, secs: list[tuple[int, int, str]],
                align: int = 4) -> bool:
    if not secs:
        return False
    off, size, _ = rng.choice(secs)
    pos = off + (rng.randrange(max(size // align, 1)) * align)
    _put32(buf, min(pos, len(buf) - 4), rng)
    return True


def m_bitflip(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)


def m_interesting(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 4)):
        _put32(buf, rng.randrange(0, len(buf) - 4) & ~3, rng)


def m_truncate(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    cuts = [h[4] + h[5] for _, _, h in elf.sections] + [h[4] for _, _, h in elf.sections]
    n = rng.choice(cuts) + rng.randint(-8, 8) if rng.random() < 0.5 else rng.randrange(len(buf))
    del buf[max(0, min(n, len(buf) - 1)):]


def m_section_header(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    _, hoff, _ = rng.choice(elf.sections[1:])
    field = rng.choice([(0, 4), (4, 4), (8, 8), (24, 8), (32, 8), (40, 4), (44, 4), (48, 8),
                        (56, 8)])  # name type flags offset size link info align entsize
    if field[1] == 4:
        _put32(buf, hoff + field[0], rng)
    else:
        v = rng.choice(INTERESTING + [len(buf), len(buf) + 1, 1 << 40, (1 << 64) - 1])
        struct.pack_into("<Q", buf, hoff + field[0], v & ((1 << 64) - 1))


def m_elf_header(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    off = rng.choice([0x28, 0x3A, 0x3C, 0x3E, 0x12, 0x10, 0x14, 0x04, 0x05])
    if off == 0x28:
        struct.pack_into("<Q", buf, off, rng.choice([0, len(buf), len(buf) - 10, 1 << 33]))
    elif off in (0x3A, 0x3C, 0x3E, 0x12, 0x10):
        struct.pack_into("<H", buf, off, rng.choice([0, 1, 0xFFFF, elf.shnum + 1, 64]))
    else:
        buf[off] = rng.choice([0, 1, 2, 3, 0xFF])


def m_btf(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    secs = elf.find(lambda n, h: n == ".BTF")
    if not secs:
        return m_bitflip(buf, elf, rng)
    off, size, _ = secs[0]
    r = rng.random()
    if r < 0.25:  # header: type_off type_len str_off str_len
        _put32(buf, off + rng.choice([8, 12, 16, 20]), rng)
    elif r < 0.85:  # a word of the type section: name_off, info (kind/vlen/kflag), size/type
        hdr_len, type_off, type_len = struct.unpack_from("<III", buf, off + 4)
        start = off + hdr_len + type_off
        pos = start + rng.randrange(max(type_len // 4, 1)) * 4
        if rng.random() < 0.5 and pos + 4 <= len(buf):  # info: kind or vlen only
            info = struct.unpack_from("<I", buf, pos)[0]
            if rng.random() < 0.5:
                info = (info & ~(0x1F << 24)) | (rng.randrange(32) << 24)
            else:
                info = (info & ~0xFFFF) | rng.choice([0, 1, 2, 0xFFFF, rng.randrange(64)])
            struct.pack_into("<I", buf, pos, info)
        else:
            _put32(buf, min(pos, len(buf) - 4), rng)
    else:  # strings: drop terminators, non-UTF-8 bytes
        hdr_len = struct.unpack_from("<I", buf, off + 4)[0]
        str_off, str_len = struct.unpack_from("<II", buf, off + 16)
        for _ in range(rng.randint(1, 4)):
            i = off + hdr_len + str_off + rng.randrange(max(str_len, 1))
            if i < len(buf):
                buf[i] = rng.choice([0xFF, 0xC3, 0x80, 0x00, ord("A")])


def m_btf_ext(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    # func_info, line_info and CO-RE relocation records: insn_off, type_id, access_str, kind
    if not _in_section(buf, rng, elf.find(lambda n, h: n == ".BTF.ext")):
        m_btf(buf, elf, rng)


def m_reloc(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    secs = elf.find(lambda n, h: h[1] == 9)  # SHT_REL
    if not secs:
        return m_bitflip(buf, elf, rng)
    off, size, _ = rng.choice(secs)
    entry = off + rng.randrange(max(size // 16, 1)) * 16
    _put32(buf, min(entry + rng.choice([0, 8, 12]), len(buf) - 4), rng)  # offset, type, sym


def m_symbol(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    secs = elf.find(lambda n, h: h[1] == 2)  # SHT_SYMTAB
    if not secs:
        return m_bitflip(buf, elf, rng)
    off, size, _ = secs[0]
    sym = off + rng.randrange(max(size // 24, 1)) * 24
    field = rng.choice([0, 4, 6, 8, 16])  # name, info/other, shndx, value, size
    if field == 4:
        buf[sym + 4] = rng.randrange(256)
    elif field == 6:
        struct.pack_into("<H", buf, sym + 6, rng.choice([0, 1, 2, 0xFFF1, 0xFFF2, 0xFFFF,
                                                         elf.shnum, rng.randrange(elf.shnum)]))
    else:
        _put32(buf, sym + field, rng)


def m_insn(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    secs = elf.find(lambda n, h: h[1] == 1 and h[2] & 4)  # PROGBITS, executable
    if not secs:
        return m_bitflip(buf, elf, rng)
    off, size, _ = rng.choice(secs)
    insn = off + rng.randrange(max(size // 8, 1)) * 8
    what = rng.randrange(4)
    if what == 0:
        buf[insn] = rng.randrange(256)  # opcode
    elif what == 1:
        buf[insn + 1] = rng.randrange(256)  # dst/src registers
    elif what == 2:
        struct.pack_into("<h", buf, insn + 2, rng.choice([0, 1, -1, 0x7FFF, -0x8000]))
    else:
        _put32(buf, insn + 4, rng)


def m_data(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    if not _in_section(buf, rng, elf.find(lambda n, h: n.startswith((".data", ".rodata", ".maps",
                                                                       ".struct_ops", "license")))):
        m_bitflip(buf, elf, rng)


def m_names(buf: bytearray, elf: Elf, rng: random.Random) -> None:
    secs = elf.find(lambda n, h: h[1] == 3)  # SHT_STRTAB: section, symbol names
    off, size, _ = rng.choice(secs)
    for _ in range(rng.randint(1, 3)):
        buf[off + rng.randrange(size)] = rng.choice([0xFF, 0xC3, 0x80, 0xE2, 0x00, ord(".")])


MUTATORS = [m_bitflip, m_interesting, m_truncate, m_section_header, m_elf_header, m_btf, m_btf,
            m_btf_ext, m_btf_ext, m_reloc, m_reloc, m_symbol, m_insn, m_insn, m_data, m_names]


def mutate_object(seed: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    buf = bytearray(seed)
    elf = Elf(seed)
    done = []
    for _ in range(1 if rng.random() < 0.6 else rng.randint(2, 4)):
        m = rng.choice(MUTATORS)
        if len(buf) < 64:
            break
        try:
            m(buf, elf, rng)
        except (IndexError, struct.error, ValueError):  # an earlier cut moved the target
            m_bitflip(buf, elf, rng)
        done.append(m.__name__[2:])
    return bytes(buf), done


def raw_btf(obj: bytes) -> bytes:
    off, size, _ = Elf(obj).find(lambda n, h: n == ".BTF")[0]
    return obj[off:off + size]


def mutate_btf(seed: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    buf = bytearray(seed)
    done = []
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<IIIII", buf, 4)
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.15:
            _put32(buf, rng.choice([8, 12, 16, 20]), rng)
            done.append("header")
        elif r < 0.75:
            pos = hdr_len + type_off + rng.randrange(max(type_len // 4, 1)) * 4
            if rng.random() < 0.5 and pos + 4 <= len(buf):
                info = struct.unpack_from("<I", buf, pos)[0]
                if rng.random() < 0.5:
                    info = (info & ~(0x1F << 24)) | (rng.randrange(32) << 24)
                else:
                    info = (info & ~0xFFFF) | rng.choice([0, 1, 2, 0xFFFF, rng.randrange(64)])
                struct.pack_into("<I", buf, pos, info)
                done.append("info")
            else:
                _put32(buf, min(pos, len(buf) - 4), rng)
                done.append("type-word")
        elif r < 0.85:
            i = hdr_len + str_off + rng.randrange(max(str_len, 1))
            if i < len(buf):
                buf[i] = rng.choice([0xFF, 0xC3, 0x80, 0x00, ord("A")])
            done.append("string")
        elif r < 0.93:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            done.append("bitflip")
        else:
            del buf[rng.randrange(len(buf)):]
            done.append("truncate")
            break
    return bytes(buf), done


# --- the walk (runs in the child)

class Walk:
    """Calls each probe, recording exceptions as clean or unclear; continues after clean ones."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.outcome = "load"

    def probe(self, stage: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - classified
            clean, where = classify(e)
            rec = {"stage": stage, "type": type(e).__name__, "msg": str(e)[:300],
                   "where": where, "clean": clean}
            if not clean:
                rec["tb"] = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-6:])
            self.errors.append(rec)
            if not clean:
                self.outcome = "unclear"
            elif self.outcome == "load":
                self.outcome = "clean"
            return None


def classify(e: BaseException) -> tuple[bool, str]:
    """(clean, where): a BpfError; or a ValueError/TypeError (OverflowError for values: see
    docs/lifecycle.md) raised by a `raise` statement inside libbpf_py."""
    from libbpf_py import BpfError

    tb = e.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    where = ""
    in_pkg = False
    raised_here = False
    if last is not None:
        fname = last.tb_frame.f_code.co_filename
        where = f"{os.path.relpath(fname, PKG) if PKG and fname.startswith(PKG) else fname}" \
                f":{last.tb_lineno}"
        in_pkg = bool(PKG) and fname.startswith(PKG)
        line = linecache.getline(fname, last.tb_lineno).strip()
        raised_here = line.startswith("raise ") or " raise " in line
    if isinstance(e, BpfError):
        return True, where
    if type(e) in (ValueError, TypeError, KeyError, IndexError, OverflowError) or (
            isinstance(e, (ValueError, TypeError)) and type(e).__module__.startswith("libbpf_py")):
        # KeyError: a name or id that is not there (the message names it).
        return in_pkg and raised_here and bool(str(e)), where
    return False, where


def walk_type(w: Walk, t: Any, stage: str) -> None:
    p = w.probe
    p(stage + ".kind", lambda: t.kind)
    p(stage + ".name", lambda: t.name)
    p(stage + ".c_name", lambda: t.c_name)
    p(stage + ".repr", lambda: repr(t))
    p(stage + ".vlen", lambda: (t.vlen, t.kind_flag))
    kind = p(stage + ".kind", lambda: int(t.kind))
    if kind in (1, 4, 5, 6, 14, 19):  # INT STRUCT UNION ENUM VAR-less sized kinds
        p(stage + ".size", lambda: t.size)
        p(stage + ".alignment", lambda: t.alignment)
    if kind == 1:
        p(stage + ".int", lambda: (t.bits, t.signed, t.is_bool, t.is_char))
    elif kind == 3:
        p(stage + ".array", lambda: (t.element, t.length, t.size))
    elif kind in (4, 5):
        p(stage + ".members", lambda: [(m.name, m.offset, m.bitfield_size, repr(m))
                                       for m in t.members])
    elif kind in (6, 19):
        p(stage + ".enumerators", lambda: (t.enumerators, t.signed))
    elif kind in (2, 8, 9, 10, 11, 12, 14, 17, 18):  # PTR TYPEDEF modifiers FUNC VAR tags
        p(stage + ".target", lambda: t.target)
        if kind != 12:
            p(stage + ".resolve", lambda: t.resolve())
        if kind == 14:
            p(stage + ".linkage", lambda: t.linkage)
    elif kind in (13,):
        p(stage + ".params", lambda: (t.params, t.return_type))
    elif kind == 15:
        p(stage + ".variables", lambda: t.variables)
    if kind in (1, 3, 4, 5, 6, 8, 19):
        ct = p(stage + ".ctype", lambda: t.ctype())
        if ct is not None:
            import ctypes

            size = ctypes.sizeof(ct)
            if size <= 1 << 16:  # the data is ours: no gigabyte buffers for a mutated length
                p(stage + ".format", lambda: t.format(bytes(size)))


def walk_btf(w: Walk, btf: Any, stage: str, limit: int = 400) -> None:
    p = w.probe
    n = p(stage + ".len", lambda: len(btf))
    types = p(stage + ".types", lambda: list(btf.types()))
    for t in (types or [])[:limit]:
        walk_type(w, t, f"{stage}.type")
    if n:
        p(stage + ".getitem", lambda: [btf[i] for i in range(1, min(n, limit) + 1)])
    p(stage + ".dump_c", lambda: btf.dump_c())
    p(stage + ".find", lambda: btf.get("int"))


def walk_open(w: Walk, obj: Any) -> None:
    from libbpf_py._ffi import lib

    p = w.probe
    p("obj.name", lambda: (obj.name, repr(obj)))
    progs = p("obj.programs", lambda: dict(obj.programs)) or {}
    for prog in progs.values():
        p("prog.attrs", lambda: (prog.name, prog.section, repr(prog)))
        p("prog.type", lambda: (prog.type, prog.expected_attach_type))
        p("prog.settings", lambda: (prog.autoload, prog.autoattach, prog.flags, prog.log_level))
        p("prog.insn_count", lambda: prog.insn_count)
    maps = p("obj.maps", lambda: dict(obj.maps)) or {}
    for m in maps.values():
        p("map.attrs", lambda: (m.name, repr(m), m.key_size, m.value_size, m.max_entries,
                                m.flags, m.numa_node, m.map_extra, m.pin_path))
        p("map.type", lambda: m.type)
        if lib.bpf_map__is_internal(m._ptr):  # global data: the others have no initial value
            p("map.initial_value", lambda: m.initial_value)
    secs = p("obj.sections", lambda: dict(obj.sections)) or {}
    for sec in secs.values():
        walk_section(w, sec, "open")
    btf = p("obj.btf", lambda: obj.btf)
    if btf is not None:
        walk_btf(w, btf, "obj.btf")


def walk_section(w: Walk, sec: Any, phase: str) -> None:
    p = w.probe
    stage = f"{phase}.section"
    p(stage, lambda: (sec.name, sec.read_only, repr(sec), sec.raw(), dir(sec), len(sec)))
    values = p(stage + ".to_dict", lambda: sec.to_dict()) or {}
    for name in list(sec):
        v = p(stage + ".get", lambda: getattr(sec, name))
        if name in values and not (phase == "loaded" and sec.read_only):
            p(stage + ".set", lambda: setattr(sec, name, v))


def walk_loaded(w: Walk, obj: Any) -> None:
    p = w.probe
    for prog in (p("loaded.programs", lambda: dict(obj.programs)) or {}).values():
        p("loaded.prog.fd", lambda: prog.fd)
        p("loaded.prog.info", lambda: prog.info())
    for m in (p("loaded.maps", lambda: dict(obj.maps)) or {}).values():
        p("loaded.map.fd", lambda: m.fd)
        p("loaded.map.info", lambda: m.info())
        if m._type not in NOT_LISTED:
            items = p("loaded.map.items", lambda: list(m.items())) or []
            frozen = m.flags & (RDONLY | RDONLY_PROG)  # .rodata, .kconfig: read-only after load
            for k, v in items[:4]:  # read back, and written back as read
                p("loaded.map.getitem", lambda: m[k] == v)
                if not frozen:
                    p("loaded.map.setitem", lambda: m.__setitem__(k, v))
    for sec in (p("loaded.sections", lambda: dict(obj.sections)) or {}).values():
        walk_section(w, sec, "loaded")
    p("loaded.load_log", lambda: obj.load_log)


RDONLY, RDONLY_PROG = 1 << 3, 1 << 7  # BPF_F_RDONLY, BPF_F_RDONLY_PROG
#: Map types without listable elements (buffers, struct_ops, local storage, queue/stack/bloom,
#: arena): they refuse items() by design.
NOT_LISTED = {4, 22, 23, 24, 26, 27, 28, 29, 30, 31, 32, 33}


def run_object(data: bytes) -> dict[str, Any]:
    import libbpf_py

    w = Walk()
    opened = w.probe("open", lambda: libbpf_py.Object.open(data, name="fuzz.o"))
    if opened is None:
        return {"outcome": w.outcome, "errors": w.errors, "loaded": False}
    walk_open(w, opened)
    obj = w.probe("load", opened.load)
    if obj is not None:
        walk_loaded(w, obj)
        w.probe("close", obj.close)
    else:
        w.probe("close", opened.close)
    return {"outcome": w.outcome, "errors": w.errors, "loaded": obj is not None}


def run_btf(data: bytes) -> dict[str, Any]:
    from libbpf_py import Btf

    w = Walk()
    btf = w.probe("btf.parse", lambda: Btf.from_bytes(data))
    if btf is None:
        return {"outcome": w.outcome, "errors": w.errors, "loaded": False}
    walk_btf(w, btf, "btf", limit=10_000)
    w.probe("btf.close", btf.close)
    return {"outcome": w.outcome, "errors": w.errors, "loaded": True}


WRONG = [None, 1.5, "text", b"", b"\x01", b"\x00" * 3, b"\x00" * 7, b"\x00" * 9, b"\x00" * 4096,
         -1, 2 ** 64, -(2 ** 63) - 1, 2 ** 200, [], [1, 2, 3], {"nope": 1}, (1,), object(),
         bytearray(5), True, float("nan")]


def run_values(data: bytes, rng: random.Random, ops: int = 24) -> dict[str, Any]:
    """Wrong keys/values into every map and wrong values into every global, of a loaded seed.
    A write either raises a clean error or lands; nothing crashes or truncates silently."""
    import libbpf_py

    w = Walk()
    obj = w.probe("load", lambda: libbpf_py.load(data, name="fuzz.o"))
    if obj is None:
        return {"outcome": w.outcome, "errors": w.errors, "loaded": False}
    maps = [m for m in obj.maps.values() if hasattr(m, "__setitem__") and hasattr(m, "items")]
    secs = [s for s in obj.sections.values() if not s.read_only and len(s)]
    for _ in range(ops):
        if maps and (not secs or rng.random() < 0.6):
            m = rng.choice(maps)
            k, v = rng.choice(WRONG + [0, 1]), rng.choice(WRONG)
            op = rng.choice(["set", "get", "del", "contains", "pop", "update", "set_flags"])
            fns: dict[str, Callable[[], Any]] = {
                "set": lambda: m.__setitem__(k, v), "get": lambda: m[k],
                "del": lambda: m.__delitem__(k), "contains": lambda: k in m,
                "pop": lambda: m.pop(k, None), "update": lambda: m.update([(k, v)]),
                "set_flags": lambda: m.set(k, v, flags=rng.choice([0, 1, 2, 4, 8, -1, 2 ** 40]))}
            w.probe(f"value.map.{op}", fns[op])
        elif secs:
            s = rng.choice(secs)
            name = rng.choice(list(s))
            v = rng.choice(WRONG)
            w.probe("value.global.set", lambda: setattr(s, name, v))
    w.probe("close", obj.close)
    return {"outcome": w.outcome, "errors": w.errors, "loaded": True}


# --- the fork server


def prepare() -> None:
    """Import and bind everything once in the parent: each forked child starts warm."""
    global PKG
    import logging

    import libbpf_py
    from libbpf_py import _ffi

    PKG = os.path.dirname(libbpf_py.__file__) + os.sep
    import pkgutil

    # Every module the children may use, imported here: one imported for the first time in a
    # child would be read from disk (a reinstall during a run would change or remove it).
    for info in pkgutil.walk_packages(libbpf_py.__path__, "libbpf_py."):
        if not info.name.startswith(("libbpf_py.tools", "libbpf_py.cli", "libbpf_py.exporter",
                                     "libbpf_py.gen", "libbpf_py.__main__", "libbpf_py._ffi._")):
            __import__(info.name)
    _ffi._bind_areas()
    # The source lines classify() reads, as imported: a reinstall during a run changes the
    # files, not the code the children run.
    for name, mod in list(sys.modules.items()):
        if name.startswith("libbpf_py") and getattr(mod, "__file__", None):
            linecache.getlines(mod.__file__)
    logger = logging.getLogger("libbpf_py")  # libbpf's warnings: thousands, all expected
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def start_child(fn: Callable[[], dict[str, Any]]) -> tuple[int, int]:
    """Fork a child that runs ``fn`` and writes its report (JSON) into a pipe: (pid, read end)."""
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        import faulthandler

        # A fatal signal writes the Python stack where it struck into the pipe: the parent
        # reports it with the crash.
        faulthandler.enable(file=os.fdopen(wfd, "w", closefd=False), all_threads=False)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # libbpf's stray stderr
            report = fn()
        except BaseException as e:  # noqa: BLE001 - a harness error is a finding too
            report = {"outcome": "unclear", "loaded": False, "errors": [{
                "stage": "harness", "type": type(e).__name__, "msg": str(e)[:300],
                "where": "", "clean": False, "tb": traceback.format_exc()[-1500:]}]}
        data = json.dumps(report, default=repr).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(wfd, view):]
        os._exit(0)
    os.close(wfd)
    return pid, r


def finish_child(pid: int, r: int, chunks: list[bytes], hung: bool,
                 timeout: float) -> dict[str, Any]:
    """Reap a child (killed first if ``hung``): its report, or the crash or hang that ended it."""
    if hung:  # SIGABRT first: faulthandler writes where it hangs, even inside C
        os.kill(pid, signal.SIGABRT)
        while select.select([r], [], [], 5)[0]:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.kill(pid, signal.SIGKILL)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if hung:
        return {"outcome": "hang", "loaded": False, "errors": [], "detail": f"> {timeout} s",
                "stack": _frames(chunks)}
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        return {"outcome": "crash", "loaded": False, "errors": [], "detail": sig,
                "stack": _frames(chunks)}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"outcome": "crash", "loaded": False, "errors": [],
                "detail": f"exit status {os.WEXITSTATUS(status)} without a report"}


def run_children(jobs: Iterator[tuple[Any, Callable[[], dict[str, Any]]]], timeout: float,
                 parallel: int = 1) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Run each job's function in its own child, at most ``parallel`` at a time, each with its
    own ``timeout``: yields (tag, report) as children finish."""
    running: dict[int, tuple[int, Any, float, list[bytes]]] = {}  # read fd -> pid, tag, ...
    jobs = iter(jobs)
    more = True
    while running or more:
        while more and len(running) < max(parallel, 1):
            job = next(jobs, None)
            if job is None:
                more = False
                break
            tag, fn = job
            pid, r = start_child(fn)
            running[r] = (pid, tag, time.monotonic() + timeout, [])
        if not running:
            break
        now = time.monotonic()
        for r, (pid, tag, deadline, chunks) in list(running.items()):
            if deadline <= now:  # a hang
                del running[r]
                yield tag, finish_child(pid, r, chunks, True, timeout)
        if not running:
            continue
        wait = max(min(d for _, _, d, _ in running.values()) - time.monotonic(), 0)
        ready, _, _ = select.select(list(running), [], [], wait)
        for r in ready:
            pid, tag, deadline, chunks = running[r]
            chunk = os.read(r, 1 << 16)
            if chunk:
                chunks.append(chunk)
                continue
            del running[r]
            yield tag, finish_child(pid, r, chunks, False, timeout)


def run_in_child(fn: Callable[[], dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Run ``fn`` in a forked child; its report, or the crash or hang that ended it."""
    for _, report in run_children(iter([(None, fn)]), timeout):
        return report
    raise AssertionError("no report")


def _frames(chunks: list[bytes]) -> list[str]:
    """The innermost frames of the stack faulthandler wrote."""
    text = b"".join(chunks).decode(errors="replace").splitlines()
    return [ln.strip() for ln in text if ln.strip().startswith("File ")][:8]


def kind_of(data: bytes) -> str:
    return "object" if data[:4] == b"\x7fELF" else "btf"


def run_file(data: bytes, timeout: float = 20.0) -> dict[str, Any]:
    """One input (an object or a raw BTF blob) in a child: the regression tests' entry."""
    if PKG is None:
        prepare()
    fn = run_object if kind_of(data) == "object" else run_btf
    return run_in_child(lambda: fn(data), timeout)


def fuzz(cases: int, btf_cases: int, value_cases: int, seed: int = 0, timeout: float = 20.0,
         keep: Path | None = None, progress: bool = True, jobs: int = 1) -> dict[str, Any]:
    """Run the three families; ``jobs`` children at a time (the inputs and each one's outcome
    do not depend on it: every case is its own child, seeded by its number)."""
    prepare()
    seeds = build_seeds()
    btf_seeds = {n: raw_btf(d) for n, d in seeds.items()}
    names = sorted(seeds)
    summary: dict[str, Any] = {}
    findings: list[dict[str, Any]] = []
    started = time.monotonic()
    plan = [("object", cases), ("btf", btf_cases), ("value", value_cases)]
    for family, n in plan:
        counts = dict.fromkeys(OUTCOMES, 0)
        loaded = 0

        def cases(family: str = family, n: int = n) -> Iterator[tuple[Any, Callable[[], Any]]]:
            for i in range(n):
                rng = random.Random(f"{seed}-{family}-{i}")
                seed_name = names[i % len(names)]
                if family == "object":
                    data, how = mutate_object(seeds[seed_name], rng)
                    fn: Callable[[], Any] = lambda data=data: run_object(data)  # noqa: E731
                elif family == "btf":
                    data, how = mutate_btf(btf_seeds[seed_name], rng)
                    fn = lambda data=data: run_btf(data)  # noqa: E731
                else:
                    data, how = seeds[seed_name], ["values"]
                    fn = lambda data=data, rng=rng: run_values(data, rng)  # noqa: E731
                yield (i, seed_name, how, data), fn

        done = 0
        for (i, seed_name, how, data), res in run_children(cases(), timeout, jobs):
            done += 1
            counts[res["outcome"]] += 1
            loaded += bool(res.get("loaded"))
            if res["outcome"] in ("crash", "hang", "unclear"):
                finding = {"family": family, "case": i, "seed": seed_name, "mutations": how,
                           **res, "errors": [e for e in res["errors"] if not e["clean"]][:3]}
                if keep is not None and family != "value":
                    keep.mkdir(parents=True, exist_ok=True)
                    ext = "o" if family == "object" else "btf"
                    path = keep / f"{res['outcome']}-{family}-{seed_name}-{seed}-{i}.{ext}"
                    path.write_bytes(data)
                    finding["file"] = str(path)
                findings.append(finding)
            if progress and done % 500 == 0:
                print(f"  {family}: {done}/{n} {counts} ({time.monotonic() - started:.0f} s)",
                      file=sys.stderr, flush=True)
        summary[family] = {"cases": n, **counts, "loaded": loaded}
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["jobs"] = jobs
    summary["seeds"] = names
    summary["findings"] = findings
    return summary
