"""Raw BTF records: parse ``struct btf_type`` (and what follows it), spell types in C, check a
BTF for what libbpf trusts.

- ``raw_type(p, id)`` parses one record into a ``RawType`` tuple (``btf.py``'s ``Type`` and
  ``_types.py``'s ctypes builder rest on it). Names that are not UTF-8 read with backslash
  escapes (they come only from malformed input), never a ``UnicodeDecodeError``.
- ``skip_modifiers``/``c_name``/``find_by_c_name``: typedef chains and C spellings; a loop in
  the BTF (a malformed input) raises ``MalformedBtfError``, never hangs.
- ``check_dumpable(p)``: refuses BTF whose by-value references loop or nest too deep, before it
  reaches libbpf's ``btf_dump``/``btf__align_of`` (they recurse on them without a bound: a
  stack overflow, SIGSEGV).

``p`` is a ``struct btf *`` (``as_btf_p`` turns a ``Btf`` into one).
"""

from __future__ import annotations

import ctypes
import struct

from ._ffi import lib
from ._ffi.core import btf_p
from .errors import BpfError

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any

# BTF kinds (linux/btf.h)
(BTF_KIND_UNKN, BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_ARRAY, BTF_KIND_STRUCT, BTF_KIND_UNION,
 BTF_KIND_ENUM, BTF_KIND_FWD, BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST,
 BTF_KIND_RESTRICT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_VAR, BTF_KIND_DATASEC,
 BTF_KIND_FLOAT, BTF_KIND_DECL_TAG, BTF_KIND_TYPE_TAG, BTF_KIND_ENUM64) = range(20)
BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL = 1, 2, 4
_MODIFIERS = frozenset({BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST, BTF_KIND_RESTRICT,
                        BTF_KIND_TYPE_TAG})
_KIND_WORD = {BTF_KIND_STRUCT: "struct", BTF_KIND_UNION: "union", BTF_KIND_ENUM: "enum",
              BTF_KIND_ENUM64: "enum"}


class OutOfRangeError(OverflowError, ValueError):
    """A value does not fit its C type (an ``OverflowError`` and a ``ValueError``)."""


class MalformedBtfError(TypeError):
    """A BTF that libbpf would walk into a crash or forever (a type loop, a chain too deep, a
    zero-sized scalar): malformed input, refused before libbpf sees it. A ``TypeError``."""


#: How many by-value references (typedef -> const -> array -> struct member ...) a type may
#: chain. Real BTF (vmlinux) stays under 30; libbpf recurses once per level.
MAX_DEPTH = 256
#: How many lines a dump of a BTF not from the kernel may have (``_Checker.dump_lines``); the
#: whole vmlinux of a distribution kernel is about 150,000.
MAX_DUMP_LINES = 2_000_000


def _c_int(v: int) -> int:
    """``v`` as a C ``int`` (32 bits, two's complement): what libbpf's offsets wrap to."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _padding_lines(cur_off: int, next_off: int) -> int:
    """At most the lines ``btf_dump_emit_bit_padding`` writes to fill the bits from
    ``cur_off`` to ``next_off``: an alignment mark, one ``long: 64;`` per 64 bits, and up to
    three smaller ones for the rest."""
    return 0 if cur_off >= next_off else (next_off - cur_off) // 64 + 4


# --- raw BTF records

_U32x3 = struct.Struct("=III")


class RawType(tuple):  # a plain tuple subclass: cheap, immutable
    """(kind, name, size_or_type, kind_flag, vlen, extra): one parsed ``struct btf_type``.

    ``extra`` depends on the kind: INT ``(encoding, bit_offset, bits)``; ARRAY ``(elem_type,
    index_type, nelems)``; STRUCT/UNION ``[(name, type, bit_offset, bitfield_size)]``;
    ENUM/ENUM64 ``[(name, value)]``; FUNC_PROTO ``[(name, type)]``; VAR ``linkage``;
    DATASEC ``[(var_type, offset, size)]``; DECL_TAG ``component_idx``; else None.
    """

    __slots__ = ()

    kind = property(lambda self: self[0])
    name = property(lambda self: self[1])
    size_or_type = property(lambda self: self[2])
    kind_flag = property(lambda self: self[3])
    vlen = property(lambda self: self[4])
    extra = property(lambda self: self[5])


def as_btf_p(btf: Any) -> Any:
    """The ``struct btf *`` of a ``Btf`` or of a raw pointer."""
    handle = getattr(btf, "_handle", None)
    if handle is not None:
        return handle()
    if isinstance(btf, int):
        return ctypes.cast(ctypes.c_void_p(btf), btf_p)
    return ctypes.cast(btf, btf_p)


def btf_addr(p: Any) -> int:
    return ctypes.cast(p, ctypes.c_void_p).value or 0


def _name(p: Any, off: int) -> str:
    s = lib.btf__name_by_offset(p, off)
    return s.decode(errors="backslashreplace") if s else ""


def raw_type(p: Any, type_id: int) -> RawType:
    """Parse type ``type_id`` of the ``struct btf *`` p. KeyError if there is no such id."""
    if type_id == 0:
        return RawType((BTF_KIND_UNKN, "void", 0, False, 0, None))
    if type_id >= lib.btf__type_cnt(p) or type_id < 0:
        raise KeyError(f"no BTF type id {type_id}")
    addr = lib.btf__type_by_id(p, type_id)
    if not addr:
        raise KeyError(f"no BTF type id {type_id}")
    name_off, info, st = _U32x3.unpack(ctypes.string_at(addr, 12))
    kind = (info >> 24) & 0x1F
    vlen = info & 0xFFFF
    kflag = bool(info >> 31)
    extra: Any = None
    rec = addr + 12
    if kind == BTF_KIND_INT:
        enc = struct.unpack("=I", ctypes.string_at(rec, 4))[0]
        extra = ((enc >> 24) & 0x0F, (enc >> 16) & 0xFF, enc & 0xFF)
    elif kind == BTF_KIND_ARRAY:
        extra = _U32x3.unpack(ctypes.string_at(rec, 12))
    elif kind in (BTF_KIND_STRUCT, BTF_KIND_UNION):
        words = struct.unpack(f"={3 * vlen}I", ctypes.string_at(rec, 12 * vlen))
        members = []
        for i in range(0, 3 * vlen, 3):
            off = words[i + 2]
            bitsize = off >> 24 if kflag else 0
            bitoff = off & 0xFFFFFF if kflag else off
            members.append((_name(p, words[i]), words[i + 1], bitoff, bitsize))
        extra = members
    elif kind == BTF_KIND_ENUM:
        fmt = "i" if kflag else "I"
        words = struct.unpack("=" + ("I" + fmt) * vlen, ctypes.string_at(rec, 8 * vlen))
        extra = [(_name(p, words[i]), words[i + 1]) for i in range(0, 2 * vlen, 2)]
    elif kind == BTF_KIND_ENUM64:
        words = struct.unpack(f"={3 * vlen}I", ctypes.string_at(rec, 12 * vlen))
        vals = []
        for i in range(0, 3 * vlen, 3):
            v = words[i + 1] | (words[i + 2] << 32)
            if kflag and v >= 1 << 63:
                v -= 1 << 64
            vals.append((_name(p, words[i]), v))
        extra = vals
    elif kind == BTF_KIND_FUNC_PROTO:
        words = struct.unpack(f"={2 * vlen}I", ctypes.string_at(rec, 8 * vlen))
        extra = [(_name(p, words[i]), words[i + 1]) for i in range(0, 2 * vlen, 2)]
    elif kind == BTF_KIND_VAR:
        extra = struct.unpack("=I", ctypes.string_at(rec, 4))[0]
    elif kind == BTF_KIND_DATASEC:
        words = struct.unpack(f"={3 * vlen}I", ctypes.string_at(rec, 12 * vlen))
        extra = [tuple(words[i:i + 3]) for i in range(0, 3 * vlen, 3)]
    elif kind == BTF_KIND_DECL_TAG:
        extra = struct.unpack("=i", ctypes.string_at(rec, 4))[0]
    return RawType((kind, _name(p, name_off), st, kflag, vlen, extra))


def skip_modifiers(p: Any, type_id: int) -> tuple[int, RawType]:
    """Follow typedef/const/volatile/restrict/type_tag to the underlying type."""
    t = raw_type(p, type_id)
    start = type_id
    for _ in range(MAX_DEPTH):
        if t.kind not in _MODIFIERS:
            return type_id, t
        type_id = t.size_or_type
        t = raw_type(p, type_id)
    raise MalformedBtfError(f"BTF type {start}: its typedef/modifier chain loops or is longer than "
                       f"{MAX_DEPTH} (malformed BTF)")


def c_name(p: Any, type_id: int, _depth: int = 0) -> str:
    """A C-like spelling of a type ("struct event", "unsigned int", "char[16]", "u32 *")."""
    if _depth > MAX_DEPTH:
        return f"<loop at type {type_id}>"
    _depth += 1
    t = raw_type(p, type_id)
    word = _KIND_WORD.get(t.kind)
    if word:
        return f"{word} {t.name}" if t.name else f"{word} <anon>"
    if t.kind == BTF_KIND_PTR:
        return c_name(p, t.size_or_type, _depth) + " *"
    if t.kind == BTF_KIND_ARRAY:
        dims = ""
        elem = type_id
        while t.kind == BTF_KIND_ARRAY:
            if _depth > MAX_DEPTH:  # (entered at the limit: a pointer/array chain that loops)
                return f"<loop at type {type_id}>"
            dims += f"[{t.extra[2]}]"
            elem = t.extra[0]
            t = raw_type(p, elem)
            _depth += 1
        return f"{c_name(p, elem, _depth)}{dims}"
    if t.kind in (BTF_KIND_CONST, BTF_KIND_VOLATILE, BTF_KIND_RESTRICT):
        qual = {BTF_KIND_CONST: "const", BTF_KIND_VOLATILE: "volatile",
                BTF_KIND_RESTRICT: "restrict"}[t.kind]
        return f"{qual} {c_name(p, t.size_or_type, _depth)}"
    if t.kind == BTF_KIND_FWD:
        return f"{'union' if t.kind_flag else 'struct'} {t.name}"
    return t.name or f"<{_KIND_NAMES[t.kind]} {type_id}>"


_KIND_NAMES = ("UNKN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
               "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT",
               "DECL_TAG", "TYPE_TAG", "ENUM64")


def find_by_c_name(p: Any, spelling: str) -> int:
    """Type id of "struct event", "union u", "enum e", or a plain name (typedef, int ...)."""
    words = spelling.split()
    kinds: tuple[int, ...]
    if len(words) == 2 and words[0] in ("struct", "union", "enum"):
        name = words[1]
        kinds = {"struct": (BTF_KIND_STRUCT,), "union": (BTF_KIND_UNION,),
                 "enum": (BTF_KIND_ENUM, BTF_KIND_ENUM64)}[words[0]]
    else:
        name = " ".join(words)
        kinds = (BTF_KIND_TYPEDEF, BTF_KIND_INT, BTF_KIND_FLOAT, BTF_KIND_STRUCT, BTF_KIND_UNION,
                 BTF_KIND_ENUM, BTF_KIND_ENUM64)
    for kind in kinds:
        found = lib.btf__find_by_name_kind(p, name.encode(errors="surrogateescape"), kind)
        if found > 0:
            return found
    raise KeyError(f"no BTF type {spelling!r}")


# --- checks before libbpf's unbounded recursions

def _refs(t: RawType) -> list[int]:
    """The type ids a record refers to (a PTR's target included)."""
    k = t.kind
    if k in (BTF_KIND_STRUCT, BTF_KIND_UNION):
        return [m[1] for m in t.extra]
    if k == BTF_KIND_ARRAY:
        return [t.extra[0], t.extra[1]]
    if k == BTF_KIND_FUNC_PROTO:
        return [t.size_or_type] + [prm[1] for prm in t.extra]
    if k == BTF_KIND_DATASEC:
        return [v[0] for v in t.extra]
    if k in _MODIFIERS or k in (BTF_KIND_PTR, BTF_KIND_FUNC, BTF_KIND_VAR, BTF_KIND_DECL_TAG):
        return [t.size_or_type]
    return []


class _Checker:
    """Checks, with explicit bounds, what libbpf's ``btf_dump`` and ``btf__align_of`` walk
    recursively without one; a BTF that would make them recurse forever (or overflow the C
    stack) raises ``MalformedBtfError`` here instead:

    - every reference loop passes through a struct/union (where ``btf_dump`` stops: a forward
      declaration, or its "unsatisfiable type cycle" error), and no by-value path (pointers
      end one, as in ``btf__align_of`` and the data dumper) loops;
    - ``btf_dump_order_type``, replayed here with its states, recurses at most ``MAX_DEPTH``.
    """

    def __init__(self, p: Any) -> None:
        self.p = p
        self.count = lib.btf__type_cnt(p)
        base = lib.btf__base_btf(p)
        # the types of a base (vmlinux under a module's split BTF) are checked with it
        self.first = lib.btf__type_cnt(base) if base else 1
        self.types: dict[int, RawType] = {}
        self.acyclic: set[int] = set()  # ids whose both walks below are done
        self.state: dict[int, int] = {}  # btf_dump_order_type's order_state: 1 ORDERING 2 ORDERED

    def raw(self, type_id: int) -> RawType:
        t = self.types.get(type_id)
        if t is None:
            t = self.types[type_id] = raw_type(self.p, type_id)
            if t.kind in (BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT) \
                    and t.size_or_type == 0:  # btf__align_of is 0: btf_dump divides by it
                raise self.fail(type_id, "a scalar of size 0")
            if t.kind in (BTF_KIND_STRUCT, BTF_KIND_UNION):
                for name, mtype, _off, _bits in t.extra:
                    if not self.sized(mtype):
                        raise self.fail(type_id, f"member {name or '<anon>'} has a type "
                                        "without size or alignment")
        return t

    def sized(self, type_id: int) -> bool:
        """Whether ``btf__align_of`` gives a type an alignment (it gives 0, which btf_dump
        divides by, to void, functions, forward declarations, variables, sections)."""
        for _ in range(MAX_DEPTH):
            if type_id == 0:
                return False
            t = raw_type(self.p, type_id)
            if t.kind in _MODIFIERS:
                type_id = t.size_or_type
            elif t.kind == BTF_KIND_ARRAY:
                type_id = t.extra[0]
            else:
                return t.kind in (BTF_KIND_INT, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT,
                                  BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_UNION)
        return False

    def fail(self, type_id: int, what: str) -> MalformedBtfError:
        name = c_name(self.p, type_id)
        if len(name) > 80:  # a looping chain spells itself 256 times
            name = name[:77] + "..."
        return MalformedBtfError(f"BTF type {type_id} ({name}): {what} "
                                 "(malformed BTF, refused before libbpf walks it)")

    def walks(self, root: int) -> None:
        """Both graphs acyclic below ``root`` (iterative DFS, depth-bounded)."""
        if root < self.first or root in self.acyclic:
            return
        self._walk(root, by_value=False)
        self._walk(root, by_value=True)
        self.acyclic.add(root)

    def _refs(self, tid: int, by_value: bool) -> Any:
        t = self.raw(tid)
        if by_value and t.kind == BTF_KIND_PTR:
            return iter(())  # a pointer ends a by-value path
        if not by_value and t.kind in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            return iter(())  # a loop through a record is one that btf_dump resolves
        return iter([r for r in _refs(t) if r >= self.first])

    def _walk(self, root: int, by_value: bool) -> None:
        seen: set[int] = set()
        stack = [(root, self._refs(root, by_value))]
        on_path = {root}
        while stack:
            tid, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on_path.discard(tid)
                seen.add(tid)
                continue
            if nxt in on_path:
                how = "by value" if by_value else "through pointers/typedefs/modifiers only"
                raise self.fail(nxt, f"refers to itself {how} (a loop)")
            if nxt in seen or nxt in self.acyclic:
                continue
            if len(stack) >= MAX_DEPTH:
                raise self.fail(root, f"references nest deeper than {MAX_DEPTH}")
            stack.append((nxt, self._refs(nxt, by_value)))
            on_path.add(nxt)

    def padding_lines(self, t: RawType) -> int:
        """An upper estimate of the padding lines ``btf_dump`` writes in a struct or union
        (``btf_dump_emit_struct_def``): about one ``long: 64;`` per 8 bytes of gap before each
        member and, in a struct, after the last (a member offset at 4 GiB: 67 million lines).
        Replays libbpf's arithmetic, ``int`` offsets included: a member ending past 2**31 bits
        wraps ``off`` negative, and the next member then sits after a 2**31-bit gap."""
        if t.kind not in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            return 0
        off = lines = 0
        for _name, mtype, bit_off, bits in t.extra:
            m_off = _c_int(bit_off)
            lines += _padding_lines(off, m_off)
            if bits:
                off = _c_int(m_off + bits)
            else:
                try:
                    size = lib.btf__resolve_size(self.p, mtype)
                except BpfError:
                    size = 0
                off = _c_int(m_off + _c_int(_c_int(max(size, 0)) * 8))
        if t.kind == BTF_KIND_STRUCT:
            lines += _padding_lines(off, _c_int(t.size_or_type * 8))
        return lines

    def dump_lines(self) -> int:
        """An upper estimate of the lines ``btf_dump`` writes for every type: anonymous
        structs, unions and enums are written out in full wherever they are used, and gaps
        between members as padding, so a small malformed BTF can make gigabytes of C. Capped at
        ``MAX_DUMP_LINES + 1``."""
        memo: dict[int, int] = {}
        on_path: set[int] = set()
        cap = MAX_DUMP_LINES + 1

        def inline(tid: int) -> int:  # lines written where type tid is used
            if tid < self.first:
                return 1
            got = memo.get(tid)
            if got is not None:
                return got
            if tid in on_path:
                raise self.fail(tid, "an anonymous type contains itself")
            on_path.add(tid)
            t = self.raw(tid)
            k = t.kind
            if k == BTF_KIND_ARRAY:
                n = inline(t.extra[0])
            elif k == BTF_KIND_PTR or (k in _MODIFIERS and k != BTF_KIND_TYPEDEF):
                n = inline(t.size_or_type)
            elif k in (BTF_KIND_STRUCT, BTF_KIND_UNION) and not t.name:
                n = 1 + sum(inline(m[1]) for m in t.extra) + self.padding_lines(t)
            elif k in (BTF_KIND_ENUM, BTF_KIND_ENUM64) and not t.name:
                n = 1 + t.vlen
            elif k == BTF_KIND_FUNC_PROTO:
                n = 1 + inline(t.size_or_type) + sum(inline(a[1]) for a in t.extra)
            else:
                n = 1
            on_path.discard(tid)
            memo[tid] = n = min(n, cap)
            return n

        total = 0
        for tid in range(self.first, self.count):
            t = self.raw(tid)
            if t.kind in (BTF_KIND_STRUCT, BTF_KIND_UNION) and t.name:
                total += 1 + sum(inline(m[1]) for m in t.extra) + self.padding_lines(t)
            elif t.kind == BTF_KIND_TYPEDEF:
                total += 1 + inline(t.size_or_type)
            else:
                total += 1
            if total > MAX_DUMP_LINES:
                return cap
        return total

    def order(self, type_id: int, through_ptr: bool, depth: int) -> int:
        """libbpf's ``btf_dump_order_type`` (btf_dump.c), replayed for its recursion depth."""
        if type_id < self.first:
            return 1
        st = self.state.get(type_id, 0)
        if st == 2:
            return 1
        if depth > MAX_DEPTH:
            raise self.fail(type_id, f"btf_dump would recurse deeper than {MAX_DEPTH}")
        t = self.raw(type_id)
        k = t.kind
        depth += 1
        if st == 1:
            return 0 if (k in (BTF_KIND_STRUCT, BTF_KIND_UNION) and through_ptr and t.name) \
                else -1
        if k in (BTF_KIND_INT, BTF_KIND_FLOAT, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FWD):
            self.state[type_id] = 2
            return 1
        if k == BTF_KIND_PTR:
            err = self.order(t.size_or_type, True, depth)
            self.state[type_id] = 2
            return err
        if k == BTF_KIND_ARRAY:
            return self.order(t.extra[0], False, depth)
        if k in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            if through_ptr and t.name:
                return 0
            self.state[type_id] = 1
            for m in t.extra:
                if self.order(m[1], False, depth) < 0:
                    return -1
            self.state[type_id] = 2
            return 1
        if k == BTF_KIND_TYPEDEF:
            strong = self.order(t.size_or_type, through_ptr, depth)
            if strong < 0:
                return strong
            if through_ptr and not strong:
                return 0
            self.state[type_id] = 2
            return 1
        if k in _MODIFIERS:
            return self.order(t.size_or_type, through_ptr, depth)
        if k == BTF_KIND_FUNC_PROTO:
            strong = 0
            for ref in _refs(t):
                err = self.order(ref, through_ptr, depth)
                if err < 0:
                    return err
                strong = strong or err
            return strong
        self.state[type_id] = 2
        return 0


_checked: dict[int, Any] = {}  # struct btf address -> its _Checker (results so far)


def check_types(p: Any, type_id: int = 0) -> None:
    """Refuse a BTF that libbpf would walk forever (``MalformedBtfError`` naming the type): type
    ``type_id``, or every type when 0. Results are kept per ``struct btf`` until
    ``forget_checks(addr)``."""
    addr = ctypes.cast(p, ctypes.c_void_p).value or 0
    chk = _checked.get(addr)
    if chk is None or chk.count != lib.btf__type_cnt(p):  # new, or types added since
        chk = _checked[addr] = _Checker(p)
    if type_id >= chk.count:
        raise KeyError(f"no BTF type id {type_id}")
    try:
        for i in (range(chk.first, chk.count) if type_id == 0 else (type_id,)):
            chk.walks(i)
        if type_id == 0:  # what dump_c does: btf_dump__dump_type for every id, states kept
            for i in range(chk.first, chk.count):
                chk.order(i, False, 0)
            if chk.dump_lines() > MAX_DUMP_LINES:
                raise MalformedBtfError(f"its C dump would be longer than {MAX_DUMP_LINES:,} "
                                        "lines (anonymous types written inline at each use, "
                                        "gaps between members written as padding: malformed "
                                        "BTF, refused before libbpf writes it)")
    except MalformedBtfError:
        # A walk cut short leaves types marked as seen that were never checked: the next
        # check (dump_c after a refused format()) starts over, and refuses again.
        _checked.pop(addr, None)
        raise


def forget_checks(addr: int) -> None:
    _checked.pop(addr, None)


def check_layout(p: Any, type_id: int) -> None:
    """Refuse a type whose by-value parts do not fit it (a member past its struct's end, an
    integer wider than its size): libbpf's data dumper (``btf_dump__dump_type_data``) trusts
    the layout and reads past the buffer it was given. ``MalformedBtfError``-free BTF only (call
    ``check_types`` first). ``TypeError`` names the type."""
    seen: set[int] = set()
    stack = [type_id]
    while stack:
        tid = stack.pop()
        if tid in seen or tid == 0:
            continue
        seen.add(tid)
        t = raw_type(p, tid)
        k = t.kind
        bad = ""
        if k == BTF_KIND_INT:
            _enc, bit_off, bits = t.extra
            if t.size_or_type not in (1, 2, 4, 8, 16) or bit_off + bits > t.size_or_type * 8:
                bad = f"an int of {t.size_or_type} bytes with {bits} bits at bit {bit_off}"
        elif k in (BTF_KIND_ENUM, BTF_KIND_ENUM64) and t.size_or_type not in (1, 2, 4, 8):
            bad = f"an enum of {t.size_or_type} bytes"
        elif k in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            size_bits = t.size_or_type * 8
            for name, mtype, bit_off, bitsize in t.extra:
                if bitsize:
                    end = bit_off + bitsize
                else:
                    try:
                        end = bit_off + lib.btf__resolve_size(p, mtype) * 8
                    except OSError:
                        bad = f"member {name or '<anon>'} has no size"
                        break
                if end > size_bits or bitsize > 128:
                    bad = f"member {name or '<anon>'} (bits {bit_off}..{end}) is past its end"
                    break
                stack.append(mtype)
        elif k == BTF_KIND_ARRAY:
            stack.append(t.extra[0])
        elif k in _MODIFIERS or k == BTF_KIND_VAR:
            stack.append(t.size_or_type)
        if bad:
            raise TypeError(f"BTF type {tid} ({c_name(p, tid)}): {bad} (malformed BTF, refused "
                            "before libbpf's data dumper reads past the value)")
