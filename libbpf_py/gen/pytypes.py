"""Python source for BTF types: ctypes classes laid out exactly as libbpf_py types them at run
time (``_types.ctype_for``), with field annotations, enums as ``IntEnum``; and the BTF of a C
header, compiled with clang (``python -m libbpf_py gen types event.h``).

- ``python_source(btf, spellings, origin)``: a module defining the types named (and what they
  depend on). The classes are generated from the ctypes classes the run time builds, so a
  generated type and ``RingBuffer(..., event_type="struct event")`` agree byte for byte.
- ``header_btf(headers, spellings=None, cflags=(), clang="clang")``: compiles a translation unit
  that includes the headers and declares one global of each type (clang writes BTF only for
  types in use), returns ``(Btf, spellings)``. Without ``spellings``, every struct, union, enum
  and typedef the headers define by name.
"""

from __future__ import annotations

import ctypes
import keyword
import os
import re
import subprocess
import tempfile

from .. import _types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, Optional

    from ..btf import Btf

__all__ = ["python_source", "header_btf"]

_DEFINED = re.compile(r"\b(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{")
_TYPEDEF = re.compile(r"\btypedef\s+[^;{}()]*?\b([A-Za-z_]\w*)\s*;")
_TYPEDEF_RECORD = re.compile(r"\}\s*([A-Za-z_]\w*)\s*;")


class _Writer:
    def __init__(self) -> None:
        self.names: dict[Any, str] = {}  # ctypes class / IntEnum -> its Python name
        self.taken: set[str] = set()
        self.blocks: list[str] = []

    def name_for(self, obj: Any, want: str) -> str:
        name = _types._py_ident(want)
        if keyword.iskeyword(name) or name in self.taken or name in ("ctypes", "enum", "rt"):
            n = 2
            while f"{name}_{n}" in self.taken:
                n += 1
            name = f"{name}_{n}"
        self.taken.add(name)
        self.names[obj] = name
        return name

    def expr(self, ct: Any) -> str:
        """A Python expression for a ctypes type, defining the records it needs first."""
        if isinstance(ct, type) and issubclass(ct, _types.c_uint128):
            return "rt.c_int128" if ct._signed_ else "rt.c_uint128"
        if isinstance(ct, type) and issubclass(ct, ctypes.Array):
            return f"{self.expr(ct._type_)} * {ct._length_}"
        if isinstance(ct, type) and issubclass(ct, (_types.BtfStruct, _types.BtfUnion)):
            return self.record(ct)
        return f"ctypes.{ct.__name__}"

    def enum(self, cls: Any) -> str:
        if cls in self.names:
            return self.names[cls]
        name = self.name_for(cls, cls.__name__)
        lines = [f"class {name}(enum.IntEnum):"]
        members = [(m.name, m.value) for m in cls]
        for mname, value in members:
            ident = mname if mname.isidentifier() and not keyword.iskeyword(mname) else \
                _types._py_ident(mname) + "_"
            lines.append(f"    {ident} = {value}")
        if not members:
            lines.append("    pass")
        self.blocks.append("\n".join(lines))
        return name

    def record(self, ct: Any) -> str:
        if ct in self.names:
            return self.names[ct]
        # dependencies first: field types, enums
        exprs = [(f[0], self.expr(f[1]), f[2:]) for f in ct._fields_]
        props = getattr(ct, "_props_", {})
        enums = {n: self.enum(p[2]) for n, p in props.items() if p[0] == "enum"}
        label = ct._btf_name_
        name = self.name_for(ct, ct.__name__)
        base = "rt.BtfUnion" if issubclass(ct, ctypes.Union) else "rt.BtfStruct"
        lines = [f"class {name}({base}):", f'    """{label} ({ctypes.sizeof(ct)} bytes)."""', ""]
        info = getattr(ct, "_info_", {})
        # a member named like a builtin (``bytes``) hides it from the annotations after it
        shadow = {m for m in ct._names_ if m in _BUILTINS}
        for member in ct._names_:
            ann = self.annotation(member, info, props)
            if shadow:
                ann = re.sub(r"(?<![\w.])(" + "|".join(sorted(shadow)) + r")\b", r"builtins.\1",
                             ann)
            lines.append(f"    {_attr_name(member)}: {ann}")
        lines += ["", "    _pack_ = 1", f"    _btf_name_ = {label!r}",
                  f"    _names_ = {list(ct._names_)!r}"]
        anon = getattr(ct, "_anonymous_", None)
        if anon:
            lines.append(f"    _anonymous_ = {list(anon)!r}")
        fields = ", ".join(f"({fname!r}, {e})" for fname, e, _bits in exprs)
        lines.append(f"    _fields_ = [{fields}]")
        for member, p in props.items():
            attr = _attr_name(member)
            if p[0] == "bitfield":
                _k, off, nbytes, shift, bits, signed = p
                lines.append(f"    {attr} = rt.bitfield({member!r}, {off}, {nbytes}, {shift}, "
                             f"{bits}, {signed}, {label + '.' + member!r})")
            elif p[0] == "enum":
                lines.append(f"    {attr} = rt.enum_member({p[1]!r}, {enums[member]})")
            elif p[0] == "chars":
                lines.append(f"    {attr} = rt.chars({p[1]!r}, ctypes.c_char * {p[2]._length_}, "
                             f"{label + '.' + member!r})")
            elif p[0] == "int128":
                lines.append(f"    {attr} = rt.int128({p[1]!r}, {p[2]}, "
                             f"{label + '.' + member!r})")
        for member in ct._names_:  # a keyword member: the annotated name reaches the field
            if member not in props and _attr_name(member) != member:
                lines.append(f"    {_attr_name(member)} = rt.alias({member!r})")
        self.blocks.append("\n".join(lines))
        # _info_ (what encoders check fields against) once the class exists
        items = []
        for member, (_tid, fct) in info.items():
            items.append(f"{member!r}: (0, {'None' if fct is None else self.expr(fct)})")
        self.blocks.append(f"{name}._info_ = {{{', '.join(items)}}}")
        return name

    def annotation(self, member: str, info: dict[str, Any], props: dict[str, Any]) -> str:
        p = props.get(member)
        if p is not None:
            return {"bitfield": "int", "chars": "bytes", "int128": "int"}.get(
                p[0], self.names.get(p[2], "int"))
        fct = info.get(member, (0, None))[1]
        return _annotation(fct, self)


def _annotation(ct: Any, w: _Writer) -> str:
    if ct is None:
        return "int"
    if ct is ctypes.c_bool:
        return "bool"
    if ct in (ctypes.c_float, ctypes.c_double):
        return "float"
    if ct is ctypes.c_char:
        return "bytes"
    if isinstance(ct, type) and issubclass(ct, ctypes.Array):
        if ct._type_ is ctypes.c_char:
            return "bytes"
        return f"ctypes.Array[{_element(ct._type_, w)}]"
    if isinstance(ct, type) and issubclass(ct, _types.c_uint128):
        return "int"
    if ct in w.names:
        return w.names[ct]
    return "int"


_BUILTINS = frozenset({"int", "bytes", "bool", "float"})  # the builtins annotations name
_PROPERTY = re.compile(r"    \w+ = rt\.(enum_member|chars|bitfield|int128|alias)\(")


def format_block(block: str) -> str:
    """A class block as written to a module: the member properties marked for mypy (the class
    annotates the value's type, not ``property``), and ``_fields_``/``_names_``/``_info_``
    lines longer than 100 characters one item a line."""
    import ast

    out = []
    for line in block.split("\n"):
        if _PROPERTY.match(line):  # a property where the class annotates the value's type
            line += "  # type: ignore[assignment]"
        if len(line) <= 100 or line.endswith("ignore[assignment]"):
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        head, _, rest = line.partition(" = ")
        node = ast.parse(rest, mode="eval").body
        if isinstance(node, ast.Dict):
            items = [f"{_segment(rest, k)}: {_segment(rest, v)}"
                     for k, v in zip(node.keys, node.values)]
        else:
            assert isinstance(node, ast.List)
            items = [_segment(rest, e) for e in node.elts]
        out.append(f"{head} = {rest[0]}")
        out += [f"{indent}    {it}," for it in items]
        out.append(f"{indent}{rest[-1]}")
    return "\n".join(out)


def _segment(source: str, node: Any) -> str:
    """The source text of an ``ast`` node of ``source``."""
    import ast

    text = ast.get_source_segment(source, node)
    assert text is not None
    return text


def _element(ct: Any, w: _Writer) -> str:
    """The type argument of ``ctypes.Array[...]``: the element's ctypes class (``ctypes.c_ubyte``
    for ``__u8 addr[16]``: indexing gives ints), a nested array, a record's class."""
    if isinstance(ct, type) and issubclass(ct, ctypes.Array):
        return f"ctypes.Array[{_element(ct._type_, w)}]"
    return w.names.get(ct) or w.expr(ct)


def _attr_name(member: str) -> str:
    return member if member.isidentifier() and not keyword.iskeyword(member) else \
        _types._py_ident(member) + "_"


def python_source(btf: Any, spellings: Iterable[str], origin: str) -> str:
    """A Python module (text) with ctypes classes for the BTF types ``spellings`` ("struct
    event", "enum e", typedef names: aliases) and what they depend on. ``origin`` is named in
    its docstring. ``KeyError`` for a spelling the BTF does not have."""
    import libbpf_py

    w = _Writer()
    aliases: list[str] = []
    for spelling in spellings:
        tid = _types.find_by_c_name(_types.as_btf_p(btf), spelling)
        _rid, t = _types.skip_modifiers(_types.as_btf_p(btf), tid)
        if t.kind in (_types.BTF_KIND_ENUM, _types.BTF_KIND_ENUM64) and \
                not spelling.startswith("enum "):
            expr = w.enum(_types.enum_for(btf, _rid))
        elif t.kind in (_types.BTF_KIND_ENUM, _types.BTF_KIND_ENUM64):
            w.enum(_types.enum_for(btf, tid))
            continue
        else:
            expr = w.expr(_types.ctype_for(btf, tid))
        if spelling.split()[0] not in ("struct", "union", "enum"):
            alias = _types._py_ident(spelling)
            if alias not in w.taken:
                w.taken.add(alias)
                aliases.append(f"{alias} = {expr}")
    head = (f'"""Python types for {origin}.\n\nGenerated by `python -m libbpf_py gen types` '
            f"(libbpf_py {libbpf_py.__version__}); do not edit: generate again.\n"
            f'Layouts are exactly those of the BTF clang wrote for these types.\n"""\n\n'
            "from __future__ import annotations\n\n{builtins}import ctypes\nimport enum\n\n"
            "from libbpf_py.gen import runtime as rt\n")
    names = [n for n in w.names.values()] + [a.split(" = ")[0] for a in aliases]
    body = "\n\n\n".join(format_block(b) for b in w.blocks)
    head = head.replace("{builtins}", "import builtins\n" if "builtins." in body else "")
    tail = ("\n\n" + "\n".join(aliases)) if aliases else ""
    return (f"{head}\n__all__ = {sorted(names)!r}\n\n\n{body}{tail}\n")


def header_names(text: str) -> list[str]:
    """C spellings of the types a header defines by name (a best effort over its text)."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    found: list[str] = []
    for word, name in _DEFINED.findall(text):
        found.append(f"{word} {name}")
    for regex in (_TYPEDEF, _TYPEDEF_RECORD):
        for name in regex.findall(text):
            if name not in found and name not in ("struct", "union", "enum"):
                found.append(name)
    return list(dict.fromkeys(found))


def header_btf(headers: Sequence[str], spellings: Optional[Sequence[str]] = None,
               cflags: Sequence[str] = (), clang: str = "clang") -> tuple[Btf, list[str]]:
    """Compile the headers into an object whose BTF has the types (one global of each) and
    return ``(Btf, spellings)``; the caller owns the ``Btf``. ``RuntimeError`` with clang's
    message if it fails."""
    import sysconfig

    import libbpf_py

    from ..btf import Btf

    if spellings is None:
        found: list[str] = []
        for h in headers:
            with open(h) as f:
                found += header_names(f.read())
        spellings = list(dict.fromkeys(found))
    if not spellings:
        raise ValueError(f"no named struct, union, enum or typedef found in {', '.join(headers)}"
                         " (name the types with --type)")
    lines = [f'#include "{os.path.abspath(h)}"' for h in headers]
    lines += [f"{s} *__libbpf_py_gen_{i};" if s.split()[0] in ("struct", "union")
              else f"{s} __libbpf_py_gen_{i};" for i, s in enumerate(spellings)]
    # a pointer is enough for records (no complete type needed); clang then writes the
    # record itself into BTF
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    with tempfile.TemporaryDirectory(prefix="libbpf_py_gen") as tmp:
        src = os.path.join(tmp, "types.c")
        obj = os.path.join(tmp, "types.o")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        cmd = [clang, "-g", "-O0", "-target", "bpf", f"-I{libbpf_py.get_include()}",
               *(f"-I{os.path.dirname(os.path.abspath(h))}" for h in headers)]
        if multiarch:
            cmd.append(f"-I/usr/include/{multiarch}")
        cmd += [*cflags, "-c", src, "-o", obj]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError(f"{clang} not found: generating types from a header needs clang "
                               "(the compiler that builds the BPF program)") from None
        if done.returncode:
            raise RuntimeError(f"clang failed on {', '.join(headers)}:\n{done.stderr.strip()}")
        btf = Btf.from_file(obj)
    return btf, list(spellings)
