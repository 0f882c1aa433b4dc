"""libbpf_py.enums against libbpf's name tables and the UAPI linux/bpf.h it bundles. Unprivileged.

The naming rule, checked exactly for every member: a member is its UAPI enumerator without the
prefix (``BPF_MAP_TYPE_HASH`` -> ``MapType.HASH``, ``BPF_CGROUP_INET_INGRESS`` ->
``AttachType.CGROUP_INET_INGRESS``), and libbpf's ``libbpf_bpf_*_type_str`` returns that name
lowercased ("hash", "cgroup_inet_ingress"). In libbpf v1.7.0 the rule has no exception in any of
the four tables (libbpf.c: map_type_name[], prog_type_name[], attach_type_name[],
link_type_name[]); in particular attach_type_name[] spells every attach type as the lowercased UAPI
name (the short names such as "ingress" are bpftool's, not libbpf's). The only members outside the
rule are the IntEnum aliases of deprecated UAPI names, listed in ALIASES.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from enum import IntEnum
from pathlib import Path
from typing import Any, Callable

import pytest

from libbpf_py._ffi import consts, lib
import libbpf_py
import libbpf_py.maps
from libbpf_py.enums import AttachType, LinkType, MapFlags, MapType, ProgType, UpdateFlags

REPO = Path(__file__).resolve().parent.parent
#: _ffi.consts: the UAPI numbers concept modules branch on, by their C names
CONSTS = [n for n in vars(consts) if n.startswith(("BPF_", "BTF_"))]
LIBBPF_SRC = REPO / "libbpf"
UAPI_BPF_H = LIBBPF_SRC / "include" / "uapi" / "linux" / "bpf.h"
needs_source = pytest.mark.skipif(not UAPI_BPF_H.is_file(),
                                  reason="libbpf headers not available (source tree only)")

# (Python enum, C enum, UAPI prefix, C __MAX_* enumerator, libbpf's name function)
ENUMS: list[tuple[type[IntEnum], str, str, str, Callable[[int], Any]]] = [
    (MapType, "bpf_map_type", "BPF_MAP_TYPE_", "__MAX_BPF_MAP_TYPE", lib.libbpf_bpf_map_type_str),
    (ProgType, "bpf_prog_type", "BPF_PROG_TYPE_", "__MAX_BPF_PROG_TYPE",
     lib.libbpf_bpf_prog_type_str),
    (AttachType, "bpf_attach_type", "BPF_", "__MAX_BPF_ATTACH_TYPE",
     lib.libbpf_bpf_attach_type_str),
    (LinkType, "bpf_link_type", "BPF_LINK_TYPE_", "__MAX_BPF_LINK_TYPE",
     lib.libbpf_bpf_link_type_str),
]
IDS = [e[0].__name__ for e in ENUMS]

# Aliases -> canonical member. In UAPI the *_DEPRECATED spellings are declared first and the plain
# names are defined equal to them; libbpf's map_type_name[] names the value after the plain name
# ("cgroup_storage"), so the plain name is the canonical IntEnum member and *_DEPRECATED its alias.
ALIASES = {
    MapType: {"CGROUP_STORAGE_DEPRECATED": "CGROUP_STORAGE",
              "PERCPU_CGROUP_STORAGE_DEPRECATED": "PERCPU_CGROUP_STORAGE"},
    ProgType: {},
    AttachType: {},
    LinkType: {},
}


@pytest.mark.parametrize("enum, c_enum, prefix, c_max, name_str", ENUMS, ids=IDS)
def test_names_match_libbpf(enum, c_enum, prefix, c_max, name_str):
    libbpf = {m.name: (name_str(m) or b"<NULL>").decode() for m in enum}
    assert libbpf == {m.name: m.name.lower() for m in enum}


@pytest.mark.parametrize("enum, c_enum, prefix, c_max, name_str", ENUMS, ids=IDS)
def test_aliases(enum, c_enum, prefix, c_max, name_str):
    aliases = {name: m.name for name, m in enum.__members__.items() if name != m.name}
    assert aliases == ALIASES[enum]
    for alias, canonical in aliases.items():
        assert enum[alias] is enum[canonical]
        assert name_str(enum[alias]) == canonical.lower().encode()


@pytest.mark.parametrize("enum, c_enum, prefix, c_max, name_str", ENUMS, ids=IDS)
def test_values_contiguous_and_cover_libbpf_table(enum, c_enum, prefix, c_max, name_str):
    top = max(enum)
    assert sorted(m.value for m in enum) == list(range(top + 1))
    # libbpf's table ends where the enum does: it names no value we lack.
    assert name_str(top + 1) is None
    assert name_str(-1) is None


# --- against the UAPI header: enumerator names, values and __MAX_*


def _c_enumerators(c_enum: str) -> list[str]:
    text = UAPI_BPF_H.read_text()
    body = re.search(rf"^enum {c_enum} \{{(.*?)^\}};", text, re.S | re.M)
    assert body, f"enum {c_enum} not found in {UAPI_BPF_H}"
    body_text = re.sub(r"/\*.*?\*/|//[^\n]*", "", body.group(1), flags=re.S)
    names = []
    for part in filter(None, (p.strip() for p in body_text.split(","))):
        m = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:=.*)?", part, re.S)
        assert m, f"enum {c_enum}: cannot parse {part!r}"
        names.append(m.group(1))
    return names


@pytest.fixture(scope="module")
def c_values(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Every enumerator of the four C enums (and the update flags), valued by the C compiler."""
    cc = shutil.which(os.environ.get("CC", "gcc"))
    if cc is None:
        pytest.skip("gcc not available: needed to evaluate the C enums")
    names = [n for _, c_enum, *_ in ENUMS for n in _c_enumerators(c_enum)]
    names += ["BPF_ANY", "BPF_NOEXIST", "BPF_EXIST", "BPF_F_LOCK"]
    names += [f"BPF_F_{name}" for name in MapFlags.__members__]
    names += CONSTS
    tmp = tmp_path_factory.mktemp("enums")
    src = tmp / "enums.c"
    src.write_text("#include <stdio.h>\n#include <linux/bpf.h>\n#include <linux/btf.h>\n\n"
                   "int main(void)\n{\n"
                   + "".join(f'\tprintf("{n} %lld\\n", (long long){n});\n' for n in names)
                   + "\treturn 0;\n}\n")
    exe = tmp / "enums"
    built = subprocess.run([cc, f"-I{LIBBPF_SRC / 'include' / 'uapi'}", str(src), "-o", str(exe)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


@needs_source
@pytest.mark.parametrize("enum, c_enum, prefix, c_max, name_str", ENUMS, ids=IDS)
def test_members_equal_uapi_enum(enum, c_enum, prefix, c_max, name_str, c_values):
    """Same names (aliases included) with the same values as the C enum, and complete."""
    enumerators = _c_enumerators(c_enum)
    assert enumerators[-1] == c_max
    assert all(n.startswith(prefix) for n in enumerators[:-1])
    c_members = {n[len(prefix):]: c_values[n] for n in enumerators[:-1]}
    py_members = {name: m.value for name, m in enum.__members__.items()}
    assert py_members == c_members
    assert max(enum) == c_values[c_max] - 1


@needs_source
def test_update_flags_equal_uapi(c_values):
    assert {name: f.value for name, f in UpdateFlags.__members__.items()} == {
        "ANY": c_values["BPF_ANY"], "NOEXIST": c_values["BPF_NOEXIST"],
        "EXIST": c_values["BPF_EXIST"], "LOCK": c_values["BPF_F_LOCK"]}


@needs_source
def test_map_flags_equal_uapi(c_values):
    """``MapFlags`` (``BPF_F_*`` of bpf_map_create) lives in enums, with the C values; the
    package and ``libbpf_py.maps`` hand out the same class."""
    assert {name: f.value for name, f in MapFlags.__members__.items()} == {
        name: c_values[f"BPF_F_{name}"] for name in MapFlags.__members__}
    assert libbpf_py.MapFlags is MapFlags and libbpf_py.maps.MapFlags is MapFlags


@needs_source
def test_ffi_consts_equal_uapi(c_values):
    """Every number of ``_ffi.consts`` (the map types and BTF kinds concept modules branch on
    without building an enum) has its C header's value."""
    assert len(CONSTS) > 15
    assert {n: getattr(consts, n) for n in CONSTS} == {n: c_values[n] for n in CONSTS}
