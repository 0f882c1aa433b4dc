"""The raw layer (libbpf_py._ffi) against the C library it binds. Unprivileged.

- the signature table: applied to the loaded library as written, every function exported by the
  bundled .so, and every row agreeing with the C prototype (read from the headers' clang AST);
- the exported symbol set: exactly libbpf.map's globals plus our shim's ``lbpy_*``;
- the ``*_opts`` structures: sizeof/offsetof of every named field equal to the C compiler's
  (a probe program compiled with gcc against the bundled headers), fields as declared in C;
- callback types and opaque handles against libbpf's typedefs and structs;
- error translation (INT and PTR checks, ``strerror``) and ``make_opts``.

Checks that read C sources need the source tree (``libbpf/`` next to ``tests/``); from an installed
wheel they skip with "libbpf headers not available (source tree only)".
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import json
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

import libbpf_py
from conftest import python_child
from libbpf_py import _ffi
from libbpf_py._ffi import core
from libbpf_py._ffi import ALL_STRUCTS
from libbpf_py._ffi.attach import bpf_uprobe_opts
from libbpf_py._ffi.core import ALL_SIGNATURES as SIGNATURES
from libbpf_py._ffi.core import INT, NONE, PTR
from libbpf_py.errors import BpfError

REPO = Path(__file__).resolve().parent.parent
LIBBPF_SRC = REPO / "libbpf"
SHIM_H = REPO / "src" / "lbpy.h"  # every function the shim (src/*.c) exports
LIBBPF_MAP = LIBBPF_SRC / "src" / "libbpf.map"
# The include path setup.py compiles libbpf with.
INCLUDES = [LIBBPF_SRC / "src", LIBBPF_SRC / "include", LIBBPF_SRC / "include" / "uapi"]
HAVE_SOURCE = all((LIBBPF_SRC / p).is_file() for p in
                  ("src/libbpf.h", "src/bpf.h", "src/btf.h", "src/libbpf.map",
                   "include/uapi/linux/bpf.h")) and SHIM_H.is_file()
needs_source = pytest.mark.skipif(not HAVE_SOURCE,
                                  reason="libbpf headers not available (source tree only)")

SIG = {name: (restype, argtypes, how) for name, restype, argtypes, how in SIGNATURES}
# The core's types and every area's (importing an area builds its classes; binding is separate).
FFI_MODULES = [core] + [importlib.import_module(f"libbpf_py._ffi.{area}") for area in _ffi.AREAS]
_LAID_OUT = set(ALL_STRUCTS) | {c for m in FFI_MODULES for c in getattr(m, "INFO_STRUCTS", ())
                                 + getattr(m, "KERNEL_STRUCTS", ())}
#: Opaque handles: every mirrored structure that is neither an opts, an info nor a kernel one.
HANDLES = {name: cls for m in FFI_MODULES for name, cls in vars(m).items()
           if isinstance(cls, type) and issubclass(cls, ctypes.Structure)
           and cls is not ctypes.Structure and cls not in _LAID_OUT}
CALLBACKS = {name: cls for m in FFI_MODULES for name, cls in vars(m).items()
             if isinstance(cls, type) and issubclass(cls, ctypes._CFuncPtr)}  # type: ignore[attr-defined]
# Every libbpf API name starts with one of these (libbpf.map's globals), the shim's with lbpy_.
API_PREFIXES = ("bpf_", "btf_", "libbpf_", "ring_buffer__", "ring__", "user_ring_buffer__",
                "perf_buffer__", "lbpy_")


def _tool(env: str, default: str) -> str:
    tool = shutil.which(os.environ.get(env, default))
    if tool is None:
        pytest.skip(f"{default} not available: needed to read the C declarations")
    return tool


# --- the library's dynamic symbols and the allowed export set


@lru_cache(maxsize=None)
def exported_symbols() -> frozenset[str]:
    """Names the .so defines in .dynsym with global/weak binding and default visibility."""
    elffile = pytest.importorskip("elftools.elf.elffile")
    with open(_ffi.LIBRARY_PATH, "rb") as f:
        dynsym = elffile.ELFFile(f).get_section_by_name(".dynsym")
        return frozenset(
            s.name for s in dynsym.iter_symbols()
            if s.name and s["st_shndx"] != "SHN_UNDEF"
            and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
            and s["st_other"]["visibility"] in ("STV_DEFAULT", "STV_PROTECTED")
            and s["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_GNU_IFUNC"))


def libbpf_map_globals() -> set[str]:
    """The global symbols of every version node of libbpf.map (libbpf's exported API)."""
    names: set[str] = set()
    for block in re.findall(r"global:(.*?)(?:local:|\})", LIBBPF_MAP.read_text(), re.S):
        names.update(re.findall(r"^\s*([A-Za-z_]\w*)\s*;", block, re.M))
    return names


def shim_exports() -> set[str]:
    """Functions src/lbpy.h declares LBPY_API (visibility default)."""
    return set(re.findall(r"^LBPY_API\b[^;{(]*?\b(\w+)\s*\(", SHIM_H.read_text(), re.M))


def test_library_is_the_bundled_one():
    path = Path(_ffi.LIBRARY_PATH)
    assert path == Path(_ffi.__file__).parent / "_libbpf.so"
    assert Path(_ffi.lib._name) == path


def test_signature_table_has_one_row_per_function():
    names = [row[0] for row in SIGNATURES]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert {how for *_, how in SIGNATURES} <= {INT, PTR, NONE}


def _applied_problems(name: str) -> list[str]:
    restype, argtypes, how = SIG[name]
    fn = getattr(_ffi.lib, name)
    problems = []
    if fn.restype is not restype:
        problems.append(f"restype {fn.restype!r}")
    if list(fn.argtypes) != list(argtypes):
        problems.append(f"argtypes {fn.argtypes!r}")
    if fn.errcheck is not {INT: _ffi._check_int, PTR: _ffi._check_ptr, NONE: None}[how]:
        problems.append(f"errcheck {fn.errcheck!r} for {how}")
    if how == INT and not (isinstance(restype, type) and issubclass(restype, ctypes._SimpleCData)
                           and restype._type_ in "bhilq"):
        problems.append("INT check on a result that is not a signed integer (-errno lost)")
    if how == PTR and not (restype in (ctypes.c_void_p, ctypes.c_char_p)
                           or isinstance(restype, type) and issubclass(restype, ctypes._Pointer)):
        problems.append("PTR check on a result that is not a pointer")
    return problems


def test_signatures_applied():
    """Every row is applied to the loaded library exactly as the table says (one test for the
    whole table: the failure lists every function that differs)."""
    problems = {name: p for name in SIG if (p := _applied_problems(name))}
    assert problems == {}


def test_table_functions_are_exported():
    missing = {name for name in SIG if name not in exported_symbols()}
    assert not missing


def test_exports_are_libbpf_api_or_shim():
    stray = {s for s in exported_symbols() if not s.startswith(API_PREFIXES)}
    assert not stray, f"the .so exports non-libbpf symbols (visibility leak?): {sorted(stray)}"


@needs_source
def test_exports_equal_libbpf_map_plus_shim():
    shim = shim_exports()
    assert shim and all(name.startswith("lbpy_") for name in shim), shim
    api = libbpf_map_globals()
    assert len(api) > 300  # the parse found libbpf.map's version nodes
    exported = exported_symbols()
    assert sorted(exported - api - shim) == []  # leaked internals
    assert sorted((api | shim) - exported) == []  # API lost (visibility, missing source file)


# --- C declarations, read from clang's AST of the public headers (+ the shim)


@lru_cache(maxsize=None)
def c_decls() -> dict[str, dict[str, Any]]:
    """Top-level declarations of libbpf.h, bpf.h, btf.h and the shim's lbpy.h, from clang's AST:
    ``functions``: name -> (type, [parameter types]); ``typedefs``: name -> type;
    ``structs``: name -> [(field name or None, type)] (None for a forward declaration)."""
    clang = _tool("CLANG", "clang")
    src = "".join(f'#include "{h}"\n' for h in ("libbpf.h", "bpf.h", "btf.h")) + \
        f'#include "{SHIM_H}"\n'
    cmd = [clang, "-fsyntax-only", "-Xclang", "-ast-dump=json", "-x", "c", "-",
           '-DLBPY_LIBBPF_VERSION="probe"', *(f"-I{d}" for d in INCLUDES)]
    done = subprocess.run(cmd, input=src.encode(), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    # Keep only strings: the suite's fd-leak check runs gc.collect() around every test.
    functions: dict[str, Any] = {}
    typedefs: dict[str, str] = {}
    structs: dict[str, Any] = {}
    for node in json.loads(done.stdout)["inner"]:
        kind, name = node.get("kind"), node.get("name")
        if not name:
            continue
        inner = node.get("inner", ())
        if kind == "FunctionDecl":
            functions.setdefault(name, (node["type"]["qualType"], [
                p["type"]["qualType"] for p in inner if p.get("kind") == "ParmVarDecl"]))
        elif kind == "TypedefDecl":
            typedefs.setdefault(name, node["type"]["qualType"])
        elif kind == "RecordDecl" and node.get("tagUsed") == "struct":
            if node.get("completeDefinition"):
                structs[name] = [(f.get("name"), f["type"]["qualType"]) for f in inner
                                 if f.get("kind") == "FieldDecl"]
            else:
                structs.setdefault(name, None)
    return {"functions": functions, "typedefs": typedefs, "structs": structs}


C_INTS = {
    "signed char": ctypes.c_byte, "unsigned char": ctypes.c_ubyte,
    "short": ctypes.c_short, "unsigned short": ctypes.c_ushort,
    "int": ctypes.c_int, "unsigned int": ctypes.c_uint,
    "long": ctypes.c_long, "unsigned long": ctypes.c_ulong,
    "long long": ctypes.c_longlong, "unsigned long long": ctypes.c_ulonglong,
}


def _int_kind(ct: Any) -> tuple[Any, ...]:
    return ("int", ctypes.sizeof(ct), ct(-1).value < 0)


def _split_args(s: str) -> list[str]:
    """'void *, int (*)(int, int), size_t' -> its top-level comma-separated parts."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    if cur.strip() and cur.strip() != "void":
        parts.append(cur.strip())
    return parts


def split_function_type(s: str) -> tuple[str, list[str]]:
    """'ret (args)' or 'ret (*)(args)' -> (ret, [args])."""
    s = s.strip()
    assert s.endswith(")"), s
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        depth += (s[i] == ")") - (s[i] == "(")
        if depth == 0:
            break
    ret = s[:i].strip()
    if ret.endswith("(*)"):
        ret = ret[:-3].strip()
    return ret, _split_args(s[i + 1:-1])


def c_kind(s: str) -> tuple[Any, ...]:
    """A C type spelling from clang, reduced to what a ctypes type must agree with."""
    s = re.sub(r"\b(const|volatile|restrict|__restrict)\b", " ", s)
    s = " ".join(s.split()).replace(" *", "*")
    typedefs = c_decls()["typedefs"]
    if "(*)" in s:
        return ("fnptr", None)
    if s.endswith("*"):
        return ("ptr", c_kind(s[:-1]))
    if s in typedefs:
        target = typedefs[s]
        return ("fnptr", s) if "(*)" in target else c_kind(target)
    if s in ("void", "char"):
        return (s,)
    if s in ("_Bool", "bool"):
        return ("bool",)
    if s.startswith(("struct ", "enum ")):
        return tuple(s.split(" ", 1))
    if s in C_INTS:
        return _int_kind(C_INTS[s])
    raise AssertionError(f"test_ffi does not know the C type {s!r}")


def py_kind(ct: Any) -> tuple[Any, ...]:
    """A ctypes type reduced to the same terms as c_kind."""
    if ct is None:
        return ("void",)
    if ct is ctypes.c_bool:
        return ("bool",)
    if ct is ctypes.c_char_p:
        return ("ptr", ("char",))
    if ct is ctypes.c_void_p:
        return ("ptr", ("void",))
    if ct is ctypes.c_char:
        return ("char",)
    if issubclass(ct, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return ("fnptr", next((n for n, c in CALLBACKS.items() if c is ct), None))
    if issubclass(ct, ctypes._Pointer):
        return ("ptr", py_kind(ct._type_))
    if issubclass(ct, ctypes.Structure):
        return ("struct", ct.__name__)
    if issubclass(ct, ctypes._SimpleCData) and ct._type_ in "bBhHiIlLqQ":
        return _int_kind(ct)
    raise AssertionError(f"test_ffi does not know the ctypes type {ct!r}")


def compatible(c: tuple[Any, ...], p: tuple[Any, ...]) -> bool:
    """Whether a ctypes type (kind p) passes/receives the C type (kind c) correctly."""
    if c == p:
        return True
    if c[0] == "enum":  # enums are int-sized on every Linux ABI
        return p[0] == "int" and p[1] == ctypes.sizeof(ctypes.c_int)
    if c[0] == "ptr" and p[0] == "ptr":
        pointee_c, pointee_p = c[1], p[1]
        if pointee_p == ("void",):
            # c_void_p is fine for buffers and structs we don't model, but an opaque handle must
            # be typed so a bpf_map* can't go where a bpf_object* is due (DESIGN.md).
            return not (pointee_c[0] == "struct" and pointee_c[1] in HANDLES)
        if pointee_p == ("char",):  # c_char_p: only for char *
            return pointee_c == ("char",)
        return compatible(pointee_c, pointee_p)
    return False


def _prototype_mismatches(name: str) -> list[Any]:
    restype, argtypes, _ = SIG[name]
    decl = c_decls()["functions"].get(name)
    if decl is None:
        return ["not declared in libbpf.h, bpf.h, btf.h or lbpy.h"]
    c_type, c_params = decl
    if len(argtypes) != len(c_params):
        return [f"{len(argtypes)} argtypes for C: {c_type}"]
    c_ret, _ = split_function_type(c_type)
    return [
        (what, c, getattr(py, "__name__", py))
        for what, c, py in [("return", c_ret, restype)]
        + [(f"arg {i}", c, p) for i, (c, p) in enumerate(zip(c_params, argtypes))]
        if not compatible(c_kind(c), py_kind(py))
    ]


@needs_source
def test_signatures_match_c_prototypes():
    """Every row agrees with the C prototype: argument count, and per argument/result the kind
    (integer size and signedness, bool, pointer, which opaque struct, which callback typedef).
    Failure: {function: [(position, C type, ctypes type)]}."""
    mismatches = {name: m for name in SIG if (m := _prototype_mismatches(name))}
    assert mismatches == {}


@needs_source
@pytest.mark.parametrize("name", list(CALLBACKS))
def test_callback_type_matches_typedef(name: str):
    cb = CALLBACKS[name]
    typedef = c_decls()["typedefs"].get(name)
    assert typedef is not None, f"no typedef {name} in libbpf.h or lbpy.h"
    c_ret, c_args = split_function_type(typedef)
    assert len(cb._argtypes_) == len(c_args), typedef
    assert compatible(c_kind(c_ret), py_kind(cb._restype_)), (c_ret, cb._restype_)
    for i, (c, p) in enumerate(zip(c_args, cb._argtypes_)):
        assert compatible(c_kind(c), py_kind(p)), (i, c, p)
    assert cb._flags_ & ctypes._FUNCFLAG_CDECL  # type: ignore[attr-defined]


def test_callback_types_cover_libbpf_callbacks():
    assert set(CALLBACKS) >= {"ring_buffer_sample_fn", "perf_buffer_sample_fn",
                              "perf_buffer_lost_fn", "lbpy_log_fn"}


@needs_source
@pytest.mark.parametrize("name", list(HANDLES))
def test_handle_is_opaque_libbpf_struct(name: str):
    assert "_fields_" not in vars(HANDLES[name])  # opaque: never dereferenced from Python
    assert name in c_decls()["structs"], f"libbpf declares no struct {name}"


# --- *_opts structures: layout from the C compiler, fields from the C declaration


def _opts_fields(cls: type[ctypes.Structure]) -> list[tuple[str, Any]]:
    return [(n, ct) for n, ct, *_ in cls._fields_ if not n.startswith("_pad")]


@needs_source
@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=lambda c: c.__name__)
def test_opts_layout_matches_c(cls: type[ctypes.Structure], tmp_path: Path):
    cc = _tool("CC", "gcc")
    name = cls.__name__
    lines = [f'\tprintf("sizeof %zu\\n", sizeof(struct {name}));']
    for field, _ in _opts_fields(cls):
        lines.append(f'\tprintf("{field} %zu %zu\\n", offsetof(struct {name}, {field}), '
                     f'sizeof(((struct {name} *)0)->{field}));')
    src = tmp_path / "layout.c"
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "libbpf.h"\n'
                   '#include "bpf.h"\n#include "btf.h"\n\nint main(void)\n{\n'
                   + "\n".join(lines) + "\n\treturn 0;\n}\n")
    exe = tmp_path / "layout"
    built = subprocess.run([cc, *(f"-I{d}" for d in INCLUDES), str(src), "-o", str(exe)],
                           capture_output=True, text=True)
    assert built.returncode == 0, f"struct {name}: probe does not compile:\n{built.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    c_layout: dict[str, Any] = {}
    for line in out.splitlines():
        key, *nums = line.split()
        c_layout[key] = int(nums[0]) if key == "sizeof" else (int(nums[0]), int(nums[1]))
    py_layout: dict[str, Any] = {"sizeof": ctypes.sizeof(cls)}
    for field, ctype in _opts_fields(cls):
        # (offset, size of the field's ctypes type): C's offsetof and sizeof(member)
        py_layout[field] = (getattr(cls, field).offset, ctypes.sizeof(ctype))
    assert py_layout == c_layout, f"struct {name}"
    assert core.make_opts(cls).sz == c_layout["sizeof"]  # type: ignore[attr-defined]


def _kernel_fields(cls: type[Any], prefix: str = "", base: int = 0) -> list[tuple[str, int, int]]:
    """(C member path, offset, size) of every field, nested structs and unions walked: a member
    of an anonymous union (``_anonymous_``) is named as C names it, without the union. Other
    ``_`` names stand for C's unnamed holes and bitfields: not members to ask for. A named
    bitfield (``perf_event_attr.freq``) is (path, -1 - first bit, width): C has no offsetof for
    it, so both sides set it to all ones in a zeroed structure and look which bits changed."""
    out = []
    anonymous = getattr(cls, "_anonymous_", ())
    for name, ctype, *bits in cls._fields_:
        if name.startswith("_") and name not in anonymous:
            continue
        if bits:
            out.append((prefix + name, -1 - _bitfield_start(cls, name, bits[0], base), bits[0]))
            continue
        offset = base + getattr(cls, name).offset
        nested = isinstance(ctype, type) and issubclass(ctype, (ctypes.Structure, ctypes.Union))
        if name in anonymous:
            out += _kernel_fields(ctype, prefix, offset)
            continue
        out.append((prefix + name, offset, ctypes.sizeof(ctype)))
        if nested:
            out += _kernel_fields(ctype, f"{prefix}{name}.", offset)
    return out


def _bitfield_start(cls: type[Any], name: str, width: int, base: int) -> int:
    """The first bit (from the structure's start, little-endian order) of bitfield ``name``."""
    inst = cls()
    setattr(inst, name, (1 << width) - 1)
    value = int.from_bytes(bytes(inst), "little")
    assert bin(value).count("1") == width, name
    return base * 8 + (value & -value).bit_length() - 1


KERNEL_STRUCTS = [c for m in FFI_MODULES for c in getattr(m, "KERNEL_STRUCTS", ())]


def test_kernel_structs_are_listed() -> None:
    names = {c.__name__ for c in KERNEL_STRUCTS}
    assert {"bpf_prog_info", "bpf_link_info", "bpf_map_info", "perf_event_attr",
            "perf_event_mmap_page"} <= names


# first_bit/bits: where the bits a bitfield assignment set are (little-endian bit numbering, as
# _bitfield_start counts them)
_BIT_HELPERS = """static int first_bit(const void *p, size_t n)
{
\tconst unsigned char *b = p;

\tfor (size_t i = 0; i < n * 8; i++)
\t\tif (b[i / 8] >> (i % 8) & 1)
\t\t\treturn (int)i;
\treturn -1;
}

static int bits(const void *p, size_t n)
{
\tconst unsigned char *b = p;
\tint count = 0;

\tfor (size_t i = 0; i < n * 8; i++)
\t\tcount += b[i / 8] >> (i % 8) & 1;
\treturn count;
}

"""


@needs_source
@pytest.mark.parametrize("cls", KERNEL_STRUCTS, ids=lambda c: c.__name__)
def test_kernel_struct_layout_matches_c(cls: type[ctypes.Structure], tmp_path: Path):
    """Kernel structures (``bpf_link_info`` ...): sizeof, and offsetof/sizeof of every member,
    nested members of the anonymous unions included, equal to the C compiler's."""
    cc = _tool("CC", "gcc")
    name = cls.__name__
    fields = _kernel_fields(cls)
    assert len(fields) > 3
    lines = [f'\tprintf("sizeof %zu\\n", sizeof(struct {name}));', f"\tstruct {name} s;"]
    for path, offset, _ in fields:
        if offset < 0:  # a bitfield: its first bit and width, from a zeroed structure
            lines.append(f"\tmemset(&s, 0, sizeof(s));\n\ts.{path} = -1;\n"
                         f'\tprintf("{path} %d %d\\n", -1 - first_bit(&s, sizeof(s)), '
                         f"bits(&s, sizeof(s)));")
            continue
        lines.append(f'\tprintf("{path} %zu %zu\\n", offsetof(struct {name}, {path}), '
                     f'sizeof(((struct {name} *)0)->{path}));')
    src = tmp_path / "layout.c"
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include <string.h>\n'
                   '#include <linux/perf_event.h>\n#include "bpf.h"\n\n' + _BIT_HELPERS
                   + "int main(void)\n{\n" + "\n".join(lines) + "\n\treturn 0;\n}\n")
    exe = tmp_path / "layout"
    built = subprocess.run([cc, *(f"-I{d}" for d in INCLUDES), str(src), "-o", str(exe)],
                           capture_output=True, text=True)
    assert built.returncode == 0, f"struct {name}: probe does not compile:\n{built.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    c_layout: dict[str, Any] = {}
    for line in out.splitlines():
        key, *nums = line.split()
        c_layout[key] = int(nums[0]) if key == "sizeof" else (int(nums[0]), int(nums[1]))
    py_layout: dict[str, Any] = {"sizeof": ctypes.sizeof(cls)}
    py_layout.update({path: (off, size) for path, off, size in fields})
    assert py_layout == c_layout, f"struct {name}"


@needs_source
@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=lambda c: c.__name__)
def test_opts_fields_match_c_declaration(cls: type[ctypes.Structure]):
    record = c_decls()["structs"].get(cls.__name__)
    assert record is not None, f"libbpf defines no struct {cls.__name__}"
    c_fields = [(n, c_type) for n, c_type in record if n]  # unnamed: bitfield padding
    py_fields = _opts_fields(cls)
    assert [n for n, _ in py_fields] == [n for n, _ in c_fields]
    wrong = [(n, c, p.__name__) for (n, c), (_, p) in zip(c_fields, py_fields)
             if not compatible(c_kind(c), py_kind(p))]
    assert wrong == []
    # sz comes first and is a size_t: libbpf's OPTS_VALID reads it before anything else
    assert cls._fields_[0][0] == "sz" and cls._fields_[0][1] is ctypes.c_size_t


@pytest.mark.parametrize("cls", ALL_STRUCTS, ids=lambda c: c.__name__)
def test_make_opts_fills_sz(cls: type[ctypes.Structure]):
    opts = core.make_opts(cls)
    assert isinstance(opts, cls)
    assert opts.sz == ctypes.sizeof(cls)  # type: ignore[attr-defined]
    assert bytes(opts)[ctypes.sizeof(ctypes.c_size_t):] == bytes(
        ctypes.sizeof(cls) - ctypes.sizeof(ctypes.c_size_t))  # the rest zeroed


def test_make_opts_sets_fields():
    opts = core.make_opts(bpf_uprobe_opts, bpf_cookie=0x1122334455667788, retprobe=True,
                       func_name=b"malloc")
    assert opts.sz == ctypes.sizeof(bpf_uprobe_opts)
    assert (opts.bpf_cookie, opts.retprobe, opts.func_name) == (0x1122334455667788, True,
                                                               b"malloc")
    assert (opts.ref_ctr_offset, opts.attach_mode) == (0, 0)


# --- error translation


def test_int_check_raises_bpferror_with_errno():
    with pytest.raises(BpfError) as info:
        _ffi.lib.bpf_obj_get(b"/nonexistent/x")
    err = info.value
    assert isinstance(err, OSError)
    assert "bpf_obj_get" in str(err)
    if err.errno in (errno.EPERM, errno.ENOSYS):
        pytest.skip(f"bpf(2) is not permitted here ({errno.errorcode[err.errno]}: seccomp or "
                    "kernel.unprivileged_bpf_disabled on an old kernel)")
    assert err.errno == errno.ENOENT
    assert err.strerror == os.strerror(errno.ENOENT)
    assert str(err) == f"bpf_obj_get: {os.strerror(errno.ENOENT)} (ENOENT)"


def test_ptr_check_raises_bpferror_with_errno():
    with pytest.raises(BpfError) as info:
        _ffi.lib.bpf_object__open_file(b"/nonexistent/x.bpf.o", None)
    err = info.value
    assert err.errno == errno.ENOENT
    assert err.strerror == os.strerror(errno.ENOENT)
    assert "bpf_object__open_file" in str(err)


def test_ptr_check_with_libbpf_errno():
    # Not an ELF object: libelf gives an ELF_K_NONE descriptor and libbpf fails with its own code
    # LIBBPF_ERRNO__FORMAT (libbpf.c, bpf_object__elf_init), outside the errno range.
    junk = ctypes.create_string_buffer(b"definitely not an ELF object", 64)
    with pytest.raises(BpfError) as info:
        _ffi.lib.bpf_object__open_mem(junk, len(junk), None)
    assert info.value.errno == 4001
    assert info.value.strerror == "BPF object format invalid"
    assert "bpf_object__open_mem" in str(info.value)


def test_strerror():
    # libbpf_utils.c, libbpf_strerror_table[ERRCODE_OFFSET(FORMAT)]
    assert _ffi.strerror(4001) == "BPF object format invalid"
    assert _ffi.strerror(-4001) == "BPF object format invalid"
    assert _ffi.strerror(4007) == "Kernel verifier blocks program loading"
    assert _ffi.strerror(errno.ENOENT) == os.strerror(errno.ENOENT)
    assert _ffi.strerror(5000) == "Unknown libbpf error 5000"


def test_check_helper():
    assert _ffi.check(7, "what") == 7
    assert _ffi.check(0, "what") == 0
    with pytest.raises(BpfError) as info:
        _ffi.check(-errno.EINVAL, "update map 'm'")
    assert info.value.errno == errno.EINVAL
    assert info.value.context == "update map 'm'"
    assert str(info.value) == f"update map 'm': {os.strerror(errno.EINVAL)} (EINVAL)"


def test_core_rows_bind_on_first_use_and_areas_on_first_miss():
    """``import libbpf_py`` binds no table and builds no area's classes (cold start); a core row
    is bound when its function is first used, an area's table when one of its functions is."""
    code = (
        "import sys, libbpf_py._ffi as f\n"
        "areas = [f'libbpf_py._ffi.{a}' for a in f.AREAS]\n"
        "before = set(f.lib.__dict__)\n"
        "assert not [a for a in areas if a in sys.modules], sys.modules\n"
        "f.lib.bpf_object__name\n"
        "assert set(f.lib.__dict__) - before == {'bpf_object__name'}, f.lib.__dict__\n"
        "assert not [a for a in areas if a in sys.modules]\n"
        "f.lib.ring_buffer__poll\n"
        "assert all(a in sys.modules for a in areas)\n"
        "print(sorted(before))\n"
    )
    # What importing the package itself uses: the version query and the log callback setter.
    assert python_child(code).split() == ["['lbpy_libbpf_version',", "'lbpy_set_log_fn']"]


def test_library_is_the_mirrored_libbpf_release() -> None:
    """Import refuses a library of another libbpf release than the tables mirror."""
    assert _ffi.LIBBPF_VERSION == libbpf_py.LIBBPF_VERSION
    assert _ffi.LIBBPF_VERSION.split(".")[:2] == ["1", "7"]
    assert _ffi.check_libbpf_version("1.7.3") == "1.7.3"
    for other in ("1.8.0", "2.7.0", "1.6.1", "junk"):
        with pytest.raises(ImportError, match=rf"is libbpf {other}, but libbpf_py's tables "
                                              r"mirror libbpf 1\.7 \(a build bug"):
            _ffi.check_libbpf_version(other)


def test_holding_gil_binds_the_same_library_without_errcheck_rows_only() -> None:
    """``holding_gil`` (the element calls of plain data maps) binds a core row a second time,
    from the already loaded library, with the row's signature; rows with errcheck are refused
    (their callers would not see the error)."""
    fn = _ffi.holding_gil("bpf_map_lookup_elem")
    assert fn.argtypes == _ffi.lib.bpf_map_lookup_elem.argtypes
    assert fn.restype is ctypes.c_int
    key, value = ctypes.c_uint32(0), ctypes.c_uint64()
    # An fd that is no map: the call runs and returns -errno (no errcheck on this row).
    assert fn(-1, ctypes.addressof(key), ctypes.addressof(value)) == -errno.EBADF
    assert ctypes.cast(fn, ctypes.c_void_p).value == ctypes.cast(
        _ffi.lib.bpf_map_lookup_elem, ctypes.c_void_p).value
    with pytest.raises(ValueError, match="bpf_object__open_file.*without errcheck"):
        _ffi.holding_gil("bpf_object__open_file")


def test_lib_stub_is_shipped_and_current() -> None:
    """``_ffi/_lib.pyi``, what mypy sees as ``lib``, ships with the package and is what
    scripts/gen-ffi-stub.py makes from the tables: one typed method per row, none missing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_ffi_stub",
                                                  REPO / "scripts" / "gen-ffi-stub.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    shipped = (Path(_ffi.__file__).parent / "_lib.pyi").read_text()
    assert shipped == gen.stub_text(), "run scripts/gen-ffi-stub.py (after pip install .)"
    rows = gen.rows()
    assert len(rows) == shipped.count("\n    def ") > 200
    assert "    def bpf_map_get_fd_by_id(self, a0: int, /) -> int: ..." in shipped
