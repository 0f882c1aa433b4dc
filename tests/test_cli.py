"""The command line: version, features, inspect, btf dump, prog/map/link list, map dump."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import libbpf_py
from conftest import compile_bpf
from libbpf_py import Object


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "libbpf_py", *args], capture_output=True,
                          text=True)


def cli_json(*args: str) -> object:
    out = cli(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_version() -> None:
    out = cli("version")
    assert out.returncode == 0
    assert out.stdout == f"libbpf_py {libbpf_py.__version__} (bundled libbpf 1.7.0)\n"


def test_inspect_json_is_exact(bpf_path) -> None:
    report = cli_json("inspect", str(bpf_path("getppid")))
    assert report["name"] == "getppid" and report["license"] == "GPL"
    assert report["programs"] == [{
        "name": "on_getppid", "section": "tracepoint/syscalls/sys_enter_getppid",
        "type": "tracepoint", "attach_type": None,
        "instructions": report["programs"][0]["instructions"], "autoload": True,
        "core_relocations": 0}]
    assert report["programs"][0]["instructions"] > 10
    common = {"pinning": "none", "pin_path": None, "flags": 0}
    assert report["maps"] == [
        {"name": "config", "type": "array", "key_type": "__u32", "value_type": "__u32",
         "key_size": 4, "value_size": 4, "max_entries": 1, **common},
        {"name": "counts", "type": "hash", "key_type": "__u32", "value_type": "__u64",
         "key_size": 4, "value_size": 8, "max_entries": 64, **common},
        {"name": "events", "type": "ringbuf", "key_type": None, "value_type": None,
         "key_size": 0, "value_size": 0, "max_entries": 64 * 1024, **common},
    ]
    assert report["globals"] == {} and report["core_relocations"] == []


def test_inspect_types_globals_pinning_license(bpf_path) -> None:
    path = str(bpf_path("cli_inspect"))
    report = cli_json("inspect", path)
    assert report["license"] == "Dual BSD/GPL"
    progs = {p["name"]: p for p in report["programs"]}
    assert progs["on_getppid"]["type"] == "tracepoint"
    assert progs["on_getppid"]["attach_type"] is None
    assert progs["on_connect4"]["type"] == "cgroup_sock_addr"
    assert progs["on_connect4"]["attach_type"] == "cgroup_inet4_connect"
    assert progs["on_connect4"]["core_relocations"] == 0
    with Object.open(path) as obj:  # instruction counts are libbpf's
        for name, p in obj.programs.items():
            assert progs[name]["instructions"] == p.insn_count
    maps = {m["name"]: m for m in report["maps"]}
    assert (maps["events_by_pid"]["key_type"], maps["events_by_pid"]["value_type"]) == (
        "__u32", "struct event")
    assert maps["events_by_pid"]["value_size"] == 24 and maps["events_by_pid"]["pinning"] == "none"
    assert maps["pinned_counts"]["pinning"] == "by_name"
    assert maps["pinned_counts"]["pin_path"] == "/sys/fs/bpf/pinned_counts"
    assert maps["by_event"] == {
        "name": "by_event", "type": "lru_hash", "key_type": "struct event", "value_type": "int",
        "key_size": 24, "value_size": 4, "max_entries": 8, "flags": 2,  # BPF_F_NO_COMMON_LRU
        "pinning": "none", "pin_path": None}
    assert report["globals"] == {
        ".rodata": [
            {"name": "target_pid", "type": "const volatile __u32", "offset": 0, "size": 4,
             "value": 42},
            {"name": "greeting", "type": "const volatile char[6]", "offset": 4, "size": 6,
             "value": "hello"}],
        ".data": [{"name": "counter", "type": "int", "offset": 0, "size": 4, "value": -7}],
        ".bss": [
            {"name": "last_event", "type": "struct event", "offset": 0, "size": 24,
             "value": {"pid": 0, "comm": "", "colour": 0, "total": 0}},
            {"name": "bss_total", "type": "__u64", "offset": 24, "size": 8, "value": 0}],
    }
    text = cli("inspect", path)
    assert text.returncode == 0, text.stderr
    assert "license 'Dual BSD/GPL'" in text.stdout
    assert "__u32 -> struct event" in text.stdout and "pinning by_name" in text.stdout
    assert "const volatile __u32 target_pid = 42" in text.stdout


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.root
def test_inspect_core_relocations_match_libbpfs_own(bpf_path) -> None:
    """The CO-RE records read from .BTF.ext are the ones libbpf applies at load (its debug log
    prints each: "prog 'p': relo #i: <byte_off> [id] struct task_struct.tgid (0:0 @ ...)")."""
    path = str(bpf_path("cli_inspect"))
    relos = cli_json("inspect", path)["core_relocations"]
    logger = logging.getLogger("libbpf_py")
    handler, level = _Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with Object.open(path) as opened:
            opened.maps["pinned_counts"].pin_path = None
            opened.load().close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    pat = re.compile(r"prog '(\w+)': relo #(\d+): <(\w+)> \[\d+\] ([\w ]+?\.?[\w.]*) "
                     r"\(([\d:]+) @")
    seen = [m.groups() for line in handler.lines if (m := pat.search(line))]
    # tgid's offset (reused for the parent's), real_parent's, tgid's size, real_parent exists
    assert len(seen) == len(relos) == 4
    kinds = {"byte_off": "field_byte_offset", "byte_sz": "field_byte_size"}
    for (prog, idx, kind, spec, access), r in zip(seen, relos):
        assert (r["program"], kinds.get(kind, kind), r["spec"], r["access"]) == (
            prog, r["kind"], spec, access)
    assert sorted((r["kind"], r["spec"]) for r in relos) == [
        ("field_byte_offset", "struct task_struct.real_parent"),
        ("field_byte_offset", "struct task_struct.tgid"),
        ("field_byte_size", "struct task_struct.tgid"),
        ("field_exists", "struct task_struct.real_parent")]
    text = cli("inspect", path).stdout
    assert "struct task_struct.real_parent  (0:1)" in text


def test_inspect_works_unprivileged(bpf_path) -> None:
    """inspect only opens the object: as nobody it reports exactly what it reports as root."""
    as_root = cli_json("inspect", str(bpf_path("cli_inspect")))
    d = tempfile.mkdtemp(prefix="libbpf_py-cli-")
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "cli_inspect.bpf.o")
        shutil.copy(bpf_path("cli_inspect"), path)
        os.chmod(path, 0o644)
        cmd = [sys.executable, "-m", "libbpf_py", "inspect", path, "--json"]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env = dict(os.environ, PYTHONPATH=str(Path(libbpf_py.__file__).parent.parent))
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["name"] == "cli_inspect"
        report["name"] = as_root["name"]
        assert report == as_root
        if os.geteuid() == 0:  # and the kernel-wide lists need privileges: a clear error
            denied = subprocess.run(cmd[:-3] + ["prog", "list"], capture_output=True, text=True,
                                    env=env, cwd="/")
            assert denied.returncode == 1
            assert denied.stderr == ("libbpf_py prog: list prog ids: bpf_prog_get_next_id: "
                                     "Operation not permitted (EPERM)\n")
    finally:
        shutil.rmtree(d)


def test_inspect_errors(bpf_path, tmp_path) -> None:
    missing = cli("inspect", str(tmp_path / "nope.o"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
    (tmp_path / "junk.o").write_bytes(b"not an elf at all")
    junk = cli("inspect", str(tmp_path / "junk.o"))
    assert junk.returncode == 1 and "not an ELF file" in junk.stderr
    assert "Traceback" not in missing.stderr + junk.stderr


def test_elf_reader_agrees_with_pyelftools(bpf_path) -> None:
    from elftools.elf.elffile import ELFFile

    from libbpf_py.utils.elf import ElfFile

    special = {"SHN_UNDEF": 0, "SHN_ABS": 0xFFF1, "SHN_COMMON": 0xFFF2}
    for path in (str(bpf_path("cli_inspect")), os.path.realpath(sys.executable)):
        ours = ElfFile.read(path)
        with open(path, "rb") as f:
            ref = ELFFile(f)
            theirs = list(ref.iter_sections())
            assert [(s.name, s.offset, s.size, s.link, s.entsize) for s in ours.sections] == [
                (s.name, s.header.sh_offset, s.header.sh_size, s.header.sh_link,
                 s.header.sh_entsize) for s in theirs]
            for s in theirs:
                if s.header.sh_type not in ("SHT_NOBITS", "SHT_NULL"):
                    assert ours.section_data(s.name) == s.data(), s.name
            symtab = ref.get_section_by_name(".symtab")
            expected = [] if symtab is None else [
                (y.name, y["st_value"], y["st_size"],
                 special.get(y["st_shndx"], y["st_shndx"])) for y in symtab.iter_symbols()]
            assert [(y.name, y.value, y.size, y.section) for y in ours.symbols()] == expected
    assert len(ElfFile.read(str(bpf_path("cli_inspect"))).symbols()) > 10
    assert ours.section("nope") is None and ours.section_data("nope") is None
    with pytest.raises(ValueError, match="is not an ELF file"):
        ElfFile(b"#!/bin/sh", "script")


def _bpftool_raw(path: str) -> list[str]:
    out = subprocess.run(["bpftool", "btf", "dump", "file", path], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith("[")]


def test_btf_dump_raw_matches_bpftool(bpf_path) -> None:
    if shutil.which("bpftool") is None:
        pytest.fail("bpftool is needed (apt-get install bpftool)")
    path = str(bpf_path("cli_inspect"))
    out = cli("btf", "dump", path, "--format", "raw")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == _bpftool_raw(path)
    vml = cli("btf", "dump", "vmlinux", "--format", "raw")
    assert vml.stdout.splitlines() == _bpftool_raw("/sys/kernel/btf/vmlinux")


def test_btf_dump_c_vmlinux_compiles_a_core_program(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "libbpf_py", "btf", "dump"],
                         stdout=open(tmp_path / "vmlinux.h", "w"), stderr=subprocess.PIPE,
                         text=True)
    assert out.returncode == 0, out.stderr
    header = (tmp_path / "vmlinux.h").read_text()
    assert header.startswith("#ifndef __VMLINUX_H__\n") and "struct task_struct {" in header
    (tmp_path / "cli_core.bpf.c").write_text(
        '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n#include <bpf/bpf_core_read.h>\n'
        "int seen;\n"
        'SEC("tracepoint/syscalls/sys_enter_getppid")\nint prog(void *ctx)\n{\n'
        "\tstruct task_struct *t = (struct task_struct *)bpf_get_current_task();\n"
        "\tseen = BPF_CORE_READ(t, real_parent, tgid);\n\treturn 0;\n}\n"
        'char LICENSE[] SEC("license") = "GPL";\n')
    obj = compile_bpf(tmp_path / "cli_core.bpf.c", tmp_path)
    report = cli_json("inspect", str(obj))
    assert {r["spec"] for r in report["core_relocations"]} == {
        "struct task_struct.real_parent", "struct task_struct.tgid"}
    assert report["programs"][0]["core_relocations"] == len(report["core_relocations"])


def test_btf_dump_errors(tmp_path) -> None:
    out = cli("btf", "dump", str(tmp_path / "nope"))
    assert out.returncode == 1 and "no such file" in out.stderr
    (tmp_path / "junk").write_bytes(b"junk")
    out = cli("btf", "dump", str(tmp_path / "junk"))
    assert out.returncode == 1 and "no BTF found" in out.stderr and "Traceback" not in out.stderr


@pytest.fixture
def loaded(bpf_path):
    """cli_inspect loaded (its by-name pin disabled), on_getppid attached."""
    with Object.open(bpf_path("cli_inspect")) as opened:
        opened.maps["pinned_counts"].pin_path = None
        obj = opened.load()
    link = obj.programs["on_getppid"].attach()
    try:
        yield obj, link
    finally:
        link.detach()
        obj.close()


@pytest.mark.root
def test_prog_map_link_lists(loaded) -> None:
    obj, link = loaded
    prog = obj.programs["on_getppid"]
    info = prog.info()
    progs = {p["id"]: p for p in cli_json("prog", "list")}
    p = progs[info.id]
    assert (p["name"], p["type"], p["tag"]) == ("on_getppid", "tracepoint", info.tag)
    map_ids = {m.info().id: m.name for m in obj.maps.values()}
    assert set(p["map_ids"]) == set(info.map_ids) and set(p["map_ids"]) <= set(map_ids)
    assert progs[obj.programs["on_connect4"].info().id]["type"] == "cgroup_sock_addr"
    maps = {m["id"]: m for m in cli_json("map", "list")}
    for map_id, name in map_ids.items():
        assert maps[map_id]["name"] == name[:15]
    ev = maps[obj.maps["events_by_pid"].info().id]
    assert (ev["type"], ev["key_size"], ev["value_size"], ev["max_entries"]) == (
        "hash", 4, 24, 16)
    links = {ln["prog_id"]: ln for ln in cli_json("link", "list")}
    if not libbpf_py.features.has("perf_link"):  # before 5.15 a tracepoint attachment is no link
        assert info.id not in links
    else:
        want = {"type": "perf_event", "id": link.info().id, "prog_id": info.id}
        if libbpf_py.features.has("perf_link_info"):  # 6.6: what the perf event is
            want.update(perf_event_type="tracepoint", tp_name="sys_enter_getppid", cookie=0)
        assert links[info.id] == want
        assert f"{link.info().id}: perf_event  prog {info.id}" in cli("link", "list").stdout
    text = cli("prog", "list").stdout
    assert f"{info.id}: tracepoint  name on_getppid  tag {info.tag}" in text
    assert f"{ev['id']}: hash  name events_by_pid" in cli("map", "list").stdout


@pytest.mark.root
def test_map_dump_by_id_and_pinned_path(loaded, bpffs) -> None:
    obj, _link = loaded
    m = obj.maps["events_by_pid"]
    m[7] = {"pid": 7, "comm": b"sh", "colour": 2, "total": 99}
    m[8] = {"pid": 8, "comm": b"bash", "colour": 1, "total": 1 << 40}
    map_id = m.info().id
    expected = [{"key": 7, "value": {"pid": 7, "comm": "sh", "colour": "GREEN", "total": 99}},
                {"key": 8, "value": {"pid": 8, "comm": "bash", "colour": "RED",
                                     "total": 1 << 40}}]
    dumped = cli_json("map", "dump", str(map_id))
    assert sorted(dumped, key=lambda e: e["key"]) == expected
    path = os.path.join(bpffs, "events")
    m.pin(path)
    try:
        assert sorted(cli_json("map", "dump", path), key=lambda e: e["key"]) == expected
        text = cli("map", "dump", path)
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[-1] == "Found 2 elements"
        assert ("key: (__u32)7  value: (struct event){.pid = (__u32)7,.comm = (char[8])"
                "['s','h',],.colour = (enum colour)GREEN,.total = (__u64)99,}") in lines
    finally:
        m.unpin(path)
    # A struct key, and the .data section's array map (its value is a DATASEC).
    obj.maps["by_event"][{"pid": 1, "comm": b"k", "colour": 1, "total": 2}] = -5
    assert cli_json("map", "dump", str(obj.maps["by_event"].info().id)) == [
        {"key": {"pid": 1, "comm": "k", "colour": "RED", "total": 2}, "value": -5}]
    obj.data.counter = 123
    data_id = obj.data.map.info().id
    assert cli_json("map", "dump", str(data_id)) == [{"key": 0, "value": {"counter": 123}}]
    assert cli("map", "dump", str(data_id)).stdout == (
        'key: 0  value: SEC(".data") int counter = (int)123;\nFound 1 element\n')


@pytest.mark.root
def test_map_dump_per_cpu(loaded) -> None:
    obj, _link = loaded
    m = obj.maps["percpu_hits"]
    ncpu = len(m[0])  # a per-CPU value is a list: one per possible CPU
    m[1] = [10 + cpu for cpu in range(ncpu)]
    dumped = cli_json("map", "dump", str(m.info().id))
    assert dumped == [
        {"key": 0, "values": [{"cpu": cpu, "value": 0} for cpu in range(ncpu)]},
        {"key": 1, "values": [{"cpu": cpu, "value": 10 + cpu} for cpu in range(ncpu)]}]
    text = cli("map", "dump", str(m.info().id)).stdout.splitlines()
    assert text[-1] == "Found 2 elements"
    last = ncpu - 1
    assert "key: (__u32)1" in text and f"\tvalue (CPU {last:02d}): (__u64){10 + last}" in text


@pytest.mark.root
def test_map_dump_errors(tmp_path, bpffs) -> None:
    out = cli("map", "dump", "4000000000")
    assert out.returncode == 1 and "no map with id 4000000000" in out.stderr
    out = cli("map", "dump", str(tmp_path / "nothing"))
    assert out.returncode == 1 and "no such map id or pinned path" in out.stderr
    for o in (out,):
        assert "Traceback" not in o.stderr


@pytest.mark.root
def test_features_json() -> None:
    out = cli("features", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["features"]["btf"] is True
    # what this process's probe says (the development machine has CONFIG_KPROBES unset)
    assert report["features"]["kprobes"] is libbpf_py.features.has("kprobes")
    assert report["program_types"]["tracepoint"] is True
    assert report["map_types"]["ringbuf"] is True
    assert report["kernel"] == ".".join(map(str, libbpf_py.features.kernel_version()))


@pytest.mark.root
def test_features_text_names_the_rows_of_docs_kernels_md() -> None:
    out = cli("features")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"kernel {'.'.join(map(str, libbpf_py.features.kernel_version()))}"
    row = next(line for line in lines if line.split()[1:2] == ["kprobes"])
    has = "yes" if libbpf_py.features.has("kprobes") else "no"
    assert row.split() == [has, "kprobes", "kprobe,", "kretprobe,", "ksyscall"]
    assert next(line for line in lines if " btf " in line).split()[0] == "yes"
    assert "docs/kernels.md" in lines[-2] and "degrades" in lines[-1]


def test_cli_uses_only_the_public_api() -> None:
    """cli/ is a client of the library like any user's script: nothing from the raw layer
    (``_ffi``, ``lib``), no private module or name of the package (cli's own ``_values`` aside),
    no private attribute."""
    import ast

    cli_dir = Path(libbpf_py.__file__).parent / "cli"
    problems = []
    for f in sorted(cli_dir.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            where = f"{f.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and (  # the package, outside cli/
                    node.level > 1 or (node.module or "").startswith("libbpf_py")):
                parts = (node.module or "").split(".")
                names = [a.name for a in node.names]
                if any(p.startswith("_") for p in parts) or any(n.startswith("_") for n in names):
                    problems.append(f"{where}: from {'.' * node.level}{node.module} import "
                                    f"{', '.join(names)}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("libbpf_py") and "._" in a.name:
                        problems.append(f"{where}: import {a.name}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                problems.append(f"{where}: .{node.attr}")
    assert problems == []


def test_no_command_prints_help() -> None:
    out = cli()
    assert out.returncode == 2 and "COMMAND" in out.stdout
