"""Python skeletons: one typed module per BPF object (``python -m libbpf_py gen skeleton``).

``skeleton_source(data, name, ...)`` opens the object (nothing is loaded), and writes a module
that embeds its bytes and defines, from its BTF:

- ctypes classes for the types of its maps' keys and values, its globals and the ``--type``
  names (``gen.pytypes``: annotated ``BtfStruct``s, enums as ``IntEnum``);
- ``<Name>Open``: the open phase (``<Name>.open(**opts)``), rodata writable, ``load()``;
- ``<Name>``: the loaded phase, ``attach()``/``detach()``/``close()``/``with``, ``.progs.<p>``,
  ``.maps.<m>`` (key/value maps typed ``TypedMap[K, V]``), one class per data section with a
  property per variable (``.rodata`` read-only, ``.data``/``.bss``/custom sections live).

The text depends only on the object and the arguments (deterministic); its header says how to
generate it again. The run-time side is ``gen.skeleton_runtime``.
"""

from __future__ import annotations

import ctypes
import keyword
import re

from .. import _types
from . import pytypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Optional

__all__ = ["skeleton_source", "default_name"]

_KV_MAPS = frozenset({"hash", "array", "lru_hash"})  # decoded as K -> V (not per-CPU lists)


class _Writer(pytypes._Writer):
    """``pytypes``' writer with Python class names: ``struct flow_key`` -> ``FlowKey``."""

    def name_for(self, obj: Any, want: str) -> str:
        return super().name_for(obj, _camel(_types._py_ident(want)))


def _string_lines(text: str, indent: str, width: int = 100) -> list[str]:
    """``text`` as a Python string literal in lines of at most ``width`` (implicit
    concatenation in parentheses, cut after ", "), ending with a comma."""
    one = f"{indent}{text!r},"
    if len(one) <= width:
        return [one]
    parts: list[str] = []
    for piece in text.split(", "):
        if parts and len(indent) + 3 + len(repr(parts[-1] + ", " + piece)) <= width:
            parts[-1] += ", " + piece
        else:
            if parts:
                parts[-1] += ", "
            parts.append(piece)
    lines = [f"{indent} {part!r}" for part in parts]
    lines[0] = f"{indent}({parts[0]!r}"
    lines[-1] += "),"
    return lines


def default_name(path: str) -> str:
    """``prog`` for ``dir/prog.bpf.o``."""
    import os

    base = os.path.basename(path)
    for suffix in (".bpf.o", ".o"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return _types._py_ident(base)


def _wrap_command(command: str, width: int) -> list[str]:
    """The command's words in lines of at most ``width`` (an option and its value together; a
    quoted word never split)."""
    import shlex

    words = [shlex.quote(w) for w in shlex.split(command)]
    units: list[str] = []
    for word in words:
        if units and units[-1].startswith("-") and " " not in units[-1] and \
                not word.startswith("-"):
            units[-1] += " " + word
        else:
            units.append(word)
    lines = [""]
    for unit in units:
        if lines[-1] and len(lines[-1]) + 1 + len(unit) > width:
            lines.append(unit)
        else:
            lines[-1] = f"{lines[-1]} {unit}".lstrip()
    return lines


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p) or "Skel"


def _ident(name: str, reserved: frozenset[str] = frozenset()) -> str:
    ident = _types._py_ident(name)
    if ident[0].isdigit():
        ident = "_" + ident
    if keyword.iskeyword(ident) or ident in reserved:
        ident += "_"
    return ident


def _section_attr(sec: str) -> str:
    return _ident(sec.lstrip(".").replace(".", "_"))


def _var_annotation(var: Any, w: Any) -> str:
    ct = var.ctype
    if var.dims:
        inner = ct
        for _ in var.dims:
            inner = inner._type_
        ann = pytypes._annotation(inner, w)
        for _ in var.dims:
            ann = f"srt.Array[{ann}]"
        return ann
    return pytypes._annotation(ct, w)


def skeleton_source(data: bytes, name: str, command: str, types: Sequence[str] = (),
                    headers: Sequence[str] = (), cflags: Sequence[str] = (),
                    clang: str = "clang", resource: Optional[str] = None) -> str:
    """The module text of the skeleton of the object ``data``. ``command`` is how it was
    generated (written into its header). ``types``: C spellings of more types to write (event
    structs): from the object's BTF, else its DWARF, else ``headers`` compiled by clang.
    ``resource``: ``"package:path/in/it.bpf.o"``: the module does not embed the object but
    loads that file of the installed package, and checks its layout (``skeleton_runtime.layout``)
    instead of a checksum of its BTF."""
    import libbpf_py

    from ..object import Object
    from .skeleton_runtime import FORMAT, btf_checksum, layout

    if resource is not None:
        package, sep, path = resource.partition(":")
        if not sep or not path or not all(p.isidentifier() for p in package.split(".")):
            raise ValueError(f"--object-resource {resource!r}: expected PACKAGE:PATH "
                             "(libbpf_py.tools:bpf/runqlat.bpf.o)")

    opened = Object.open(data, name=name)
    extra_btf = None
    try:
        w = _Writer()
        cls_name = _camel(name)
        for reserved in (cls_name, f"{cls_name}Open", f"{cls_name}Maps", f"{cls_name}Progs",
                         "srt", "libbpf_py", "TYPE_CHECKING"):
            w.taken.add(reserved)
        for attr in [*opened.maps, *opened.programs,
                     *(v for sec in opened.sections.values() for v in sec._vars)]:
            w.taken.add(_ident(attr))
        btf = opened.btf
        addr = _types.btf_addr(_types.as_btf_p(btf)) if btf is not None else None
        state = opened._state

        # maps: internal ones are the data sections
        maps: list[tuple[str, str]] = []  # (map name, annotation)
        for mname, m in sorted(opened.maps.items()):
            if libbpf_py._ffi.lib.bpf_map__is_internal(m._ptr):
                continue
            ann = "libbpf_py.Map"
            kid = libbpf_py._ffi.lib.bpf_map__btf_key_type_id(m._ptr)
            vid = libbpf_py._ffi.lib.bpf_map__btf_value_type_id(m._ptr)
            if btf is not None and kid and vid and m.type.name.lower() in _KV_MAPS:
                kt = w.expr(_types.ctype_for(btf, kid))
                vt = w.expr(_types.ctype_for(btf, vid))
                del kt, vt
                kann = pytypes._annotation(_types.ctype_for(btf, kid), w)
                vann = pytypes._annotation(_types.ctype_for(btf, vid), w)
                ann = f"srt.TypedMap[{kann}, {vann}]"
            maps.append((mname, ann))

        # data sections and their variables
        sections: list[tuple[str, bool, list[tuple[str, str, str]]]] = []
        for sname, sec in sorted(opened.sections.items()):
            vars_ = []
            for vname, var in sec._vars.items():
                if var.ctype is not None and not (isinstance(var.ctype, type) and issubclass(
                        var.ctype, ctypes.Array) and var.ctype._type_ is ctypes.c_char):
                    w.expr(var.ctype)
                vars_.append((vname, _ident(vname, frozenset({"section_"})),
                              _var_annotation(var, w)))
            read_only = sname.startswith(".rodata") or sname == ".kconfig"
            sections.append((sname, read_only, vars_))

        # more types by name: the object's BTF, its DWARF, or the headers
        for spelling in types:
            if spelling.startswith("enum ") and btf is not None and btf.get(spelling):
                w.enum(_types.enum_for(btf, btf.find(spelling).id))  # an IntEnum, not c_uint
                continue
            try:
                ct = _object_type(state, spelling)
            except LookupError:
                if not headers:
                    raise
                if extra_btf is None:
                    extra_btf, _ = pytypes.header_btf(headers, list(types), cflags, clang)
                ct = _types.ctype_for_name(extra_btf, spelling)
            w.expr(ct)

        # which type ids the classes are (to register them at open)
        reg = sorted((k[1], w.names[v]) for k, v in list(_types._ctype_cache.items())
                     if k[0] == addr and v in w.names)
        enums = sorted((k[1], w.names[v]) for k, v in list(_types._enum_cache.items())
                       if k[0] == addr and v in w.names)
        checksum = btf_checksum(opened)
        progs = sorted(opened.programs)
        named: list[tuple[str, str]] = []  # (C spelling, class): named types, found by name
        lay: tuple[str, ...] = ()
        if resource is not None:
            ids = {t: n for t, n in reg + enums}
            assert btf is not None or not ids
            named = sorted({(btf[t].c_name, n) for t, n in ids.items()
                            if btf is not None and btf[t].name})
            lay = layout(opened, [c for c, _n in named])
    finally:
        if extra_btf is not None:
            extra_btf.close()
        opened.close()

    if resource is not None:
        return _module(name, cls_name, command, libbpf_py.__version__, FORMAT, w, maps, sections,
                       progs, [], [], "", b"", (resource, lay, named))
    return _module(name, cls_name, command, libbpf_py.__version__, FORMAT, w, maps, sections,
                   progs, reg, enums, checksum, data)


def _object_type(state: Any, spelling: str) -> Any:
    from .._dwarf import object_ctype
    from ..errors import BpfError

    try:
        return object_ctype(state, spelling, f"--type {spelling!r}")
    except (BpfError, KeyError) as e:
        raise LookupError(str(e)) from None


def _module(name: str, cls: str, command: str, version: str, fmt: int, w: Any,
            maps: list[tuple[str, str]],
            sections: list[tuple[str, bool, list[tuple[str, str, str]]]], progs: list[str],
            reg: list[tuple[int, str]], enums: list[tuple[int, str]], checksum: str,
            data: bytes,
            resource: Optional[tuple[str, tuple[str, ...], list[tuple[str, str]]]] = None) -> str:
    out: list[str] = []
    put = out.append
    cmd = " \\\n        ".join(_wrap_command(command, 76))
    what = "embedding it" if resource is None else "loading a packaged object"
    where = "" if resource is None else (
        f"The object is the file {resource[0].partition(':')[2]!r} of the installed package "
        f"{resource[0].partition(':')[0]}\n(not embedded: its layout is checked at open).\n\n")
    put(f'r"""Skeleton of the BPF object {name!r}: a typed module {what}.\n\n{where}'
        f"Generated by libbpf_py {version} with:\n\n    {cmd}\n\n"
        "Do not edit: generate again. Use::\n\n"
        f"    with {cls}.open() as opened:    # rodata, map sizes, autoload: before load\n"
        f"        skel = opened.load()\n"
        f"    with skel:\n"
        f"        skel.attach()\n"
        '"""\n')
    put("from __future__ import annotations\n")
    # only what the classes use: enum and gen.runtime (BTF types) cost milliseconds of cold
    # start that a skeleton without records or enums does not pay (libbpf_py imports ctypes)
    text = "\n".join(w.blocks) + "".join(a for _m, a in maps) + "".join(
        a for _s, _r, vs in sections for _v, _i, a in vs)
    imports = "import builtins\n" if "builtins." in text else ""
    imports += "import ctypes\n" if re.search(r"\bctypes\.", text) else ""
    imports += "import enum\n" if "(enum.IntEnum)" in text else ""
    imports += "\nimport libbpf_py\n"
    imports += "from libbpf_py.gen import runtime as rt\n" if re.search(r"\brt\.", text) else ""
    put(imports.lstrip("\n") + "\n"
        "try:\n    from libbpf_py.gen import skeleton_runtime as srt\n"
        "except ImportError as _e:  # a libbpf_py without skeletons\n"
        f"    raise ImportError(\"{name} is a skeleton generated by libbpf_py {version}; the \"\n"
        "                      f\"installed libbpf_py cannot serve it ({_e}): upgrade it\") "
        "from None\n")
    put("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from typing import Any\n")
    put(f"srt.require({fmt}, {name!r}, {version!r})\n")
    exported = sorted(w.names.values())
    put(f"__all__ = {[cls, cls + 'Open', *exported]!r}\n")
    for block in w.blocks:
        put(pytypes.format_block(block) + "\n")

    def props(kind: str, items: list[tuple[str, str]], getter: str) -> list[str]:
        lines = []
        for member, ann in items:
            attr = _ident(member)
            lines += ["    @property", f"    def {attr}(self) -> {ann}:",
                      f"        v: {ann} = self.{getter}({member!r})", "        return v", ""]
        return lines

    # maps and programs
    lines = [f"class {cls}Maps(srt.Maps):", f'    """The maps of {name}."""', "",
             "    __slots__ = ()", ""]
    lines += props("map", maps, "_get")
    put("\n".join(lines).rstrip() + "\n")
    lines = [f"class {cls}Progs(srt.Programs):", f'    """The programs of {name}."""', "",
             "    __slots__ = ()", ""]
    lines += props("program", [(p, "libbpf_py.Program") for p in progs], "_get")
    put("\n".join(lines).rstrip() + "\n")

    # one class per section and phase
    sec_classes: list[tuple[str, str, str, str]] = []  # (section, attr, open class, loaded)
    for sname, read_only, vars_ in sections:
        base = _camel(_section_attr(sname))
        loaded_cls = f"{cls}{base}"
        open_cls = f"{cls}{base}Open"
        for phase_cls, writable in ((open_cls, sname != ".kconfig"), (loaded_cls, not read_only)):
            doc = f"{sname} of {name}: " + (
                "initial values (before load)" if phase_cls == open_cls else
                "read-only after load" if read_only else "live (the kernel's map, mmapped)")
            lines = [f"class {phase_cls}(srt.Globals):", f'    """{doc}."""', "",
                     "    __slots__ = ()", ""]
            for vname, attr, ann in vars_:
                lines += ["    @property", f"    def {attr}(self) -> {ann}:",
                          f"        v: {ann} = self._s[{vname!r}]", "        return v", ""]
                if writable and not ann.startswith("srt.Array["):
                    lines += [f"    @{attr}.setter", f"    def {attr}(self, value: {ann}) -> None:",
                              f"        self._s[{vname!r}] = value", ""]
            if not vars_:
                lines.append("    pass")
            put("\n".join(lines).rstrip() + "\n")
        sec_classes.append((sname, _section_attr(sname), open_cls, loaded_cls))

    def phase(pcls: str, base: str, doc: str, open_phase: bool) -> str:
        lines = [f"class {pcls}(srt.{base}):", f'    """{doc}"""', "", "    __slots__ = ()"]
        if resource is not None:
            if open_phase:
                lines.append("    _LAYOUT = (")
                for line in resource[1]:
                    lines += _string_lines(line, "        ")
                lines.append("    )")
                lines.append("    _NAMED_TYPES = (")
                lines += [f"        ({c!r}, {n})," for c, n in resource[2]]
                lines.append("    )")
        else:
            lines.append(f"    _BTF_CHECKSUM = {checksum!r}")
        if open_phase and resource is None:
            for attr, pairs in (("_TYPES", reg), ("_ENUMS", enums)):
                lines.append(f"    {attr} = (")
                lines += [f"        ({t}, {n})," for t, n in pairs]
                lines.append("    )")
        lines.append("")
        lines += ["    @property", f"    def maps(self) -> {cls}Maps:",
                  f"        return {cls}Maps(self._obj)", "",
                  "    @property", f"    def progs(self) -> {cls}Progs:",
                  f"        return {cls}Progs(self._obj)", ""]
        for sname, attr, open_cls, loaded_cls in sec_classes:
            if open_phase and sname == ".kconfig":
                continue
            c = open_cls if open_phase else loaded_cls
            lines += ["    @property", f"    def {attr}(self) -> {c}:",
                      f"        return {c}(self._sec({sname!r}))", ""]
        if open_phase:
            lines += ["    def load(self) -> " + cls + ":",
                      '        """``bpf_object__load``: the loaded skeleton (this one is '
                      'spent)."""',
                      "        skel: " + cls + " = self._load()", "        return skel", ""]
        else:
            lines += ["    @classmethod",
                      f"    def open(cls, **open_options: Any) -> {cls}Open:",
                      '        """``bpf_object__open_mem`` of the ' +
                      ('embedded' if resource is None else 'packaged') +
                      ' object (``Object.open`` options)."""',
                      f"        skel: {cls}Open = {cls}Open._open(object_bytes(), {name!r}, "
                      "open_options)",
                      "        return skel", "",
                      "    @classmethod",
                      f"    def open_and_load(cls, **open_options: Any) -> {cls}:",
                      '        """``open()`` then ``load()``."""',
                      "        return cls.open(**open_options).load()", ""]
        return "\n".join(lines).rstrip() + "\n"

    put(phase(cls, "Skeleton", f"{name}, loaded: ``{cls}.open(...).load()`` or "
              f"``{cls}.open_and_load(...)``.", False))
    put(phase(f"{cls}Open", "OpenSkeleton", f"{name}, opened (before load).", True))
    put(f"{cls}Open._LOADED = {cls}\n")
    if resource is not None:
        package, _, path = resource[0].partition(":")
        put("def object_bytes() -> bytes:\n    \"\"\"The object: the file packaged with "
            f"{package} (not embedded).\"\"\"\n"
            f"    return srt.resource_bytes({package!r}, {path!r}, {name!r})")
        return "\n\n\n".join(x.rstrip("\n") for x in out) + "\n"
    hex_text = data.hex()
    chunks = "\n".join(f"    {hex_text[i:i + 88]!r}" for i in range(0, len(hex_text), 88))
    put(f"_OBJECT = (\n{chunks}\n)\n")
    put("def object_bytes() -> bytes:\n    \"\"\"The embedded object (its ELF bytes).\"\"\"\n"
        "    return srt.object_bytes(_OBJECT)")
    return "\n\n\n".join(x.rstrip("\n") for x in out) + "\n"
