"""Python skeletons (``python -m libbpf_py gen skeleton``): generated for an object with every
kind of global, struct-keyed maps and ring buffer events; loaded and run on the kernel; checked
by mypy --strict (a right use passes, wrong uses fail) and ruff; deterministic; the BTF hash
and the format version guard the run time."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py

HERE = Path(__file__).resolve().parent
PYPROJECT = HERE.parent / "pyproject.toml"


def generate(obj: Path, out: Path, *extra: str) -> str:
    subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "skeleton", str(obj), "-o",
                    str(out), "--name", "skeleton", *extra], check=True)
    return out.read_text()


@pytest.fixture
def skel_dir(bpf_path, tmp_path: Path) -> Path:
    generate(bpf_path("skeleton"), tmp_path / "skeleton_skel.py", "-t", "struct event")
    return tmp_path


def import_skeleton(path: Path, name: str = "skeleton_skel"):
    mod_name = f"{name}_{os.getpid()}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules[mod_name]
    return mod


USER_SCRIPT = '''\
import os

import libbpf_py
from skeleton_skel import Event, FlowKey, FlowVal, Limits, Mode, Skeleton


def main() -> tuple[int, list[int], Limits, int, FlowVal, list[Event], dict[FlowKey, FlowVal]]:
    with Skeleton.open() as opened:
        opened.rodata.target_pid = os.getpid()
        opened.rodata.mode = Mode.MODE_ALL
        opened.rodata.limits = Limits(min=3, max=40)
        opened.data.step = 5
        skel = opened.load()
    with skel:
        skel.attach()
        got: list[Event] = []

        def on_event(e: Event) -> None:
            got.append(Event.from_buffer_copy(e))

        with libbpf_py.RingBuffer(skel.maps.events, on_event, event_type=Event) as rb:
            for _ in range(3):
                os.getppid()
            rb.poll(0)
        key = FlowKey(pid=os.getpid(), port=80, proto=6)
        flow = skel.maps.flows[key]
        total: int = skel.maps.totals[0]
        return (skel.data_custom.custom_hits, skel.bss.counters.tolist(), skel.bss.seen, total,
                flow, got, skel.maps.flows.pop_all())
'''


def test_generated_skeleton_loads_and_runs(skel_dir: Path) -> None:
    (skel_dir / "user.py").write_text(USER_SCRIPT)
    sys.path.insert(0, str(skel_dir))
    try:
        user = import_skeleton(skel_dir / "user.py", "user")
        skel_mod = sys.modules["skeleton_skel"]
        hits, counters, seen, total, flow, events, popped = user.main()
    finally:
        sys.path.remove(str(skel_dir))
        sys.modules.pop("skeleton_skel", None)
    assert hits == 5 + 3  # .data.custom: initial 5, +1 per call
    assert counters == [0, 15, 0, 0]  # .bss array: step (5, set before load) per call
    assert isinstance(seen, skel_mod.Limits) and (seen.min, seen.max) == (3, 40)
    assert total == 3
    assert isinstance(flow, skel_mod.FlowVal)  # values decode into the module's own classes
    assert (flow.packets, flow.bytes, flow.mode) == (3, 120, skel_mod.Mode.MODE_ALL)
    assert flow.mode is skel_mod.Mode.MODE_ALL
    assert [(e.pid, e.step, e.tag) for e in events] == [(os.getpid(), 5, b"skel")] * 3
    key = skel_mod.FlowKey(pid=os.getpid(), port=80, proto=6)
    [(k, v)] = popped.items()  # decoded keys: the module's class, hashable, equal by value
    assert isinstance(k, skel_mod.FlowKey) and k == key and v == flow
    assert popped[(os.getpid(), 80, 6)] == flow


def test_phases_rodata_read_only_after_load(skel_dir: Path) -> None:
    mod = import_skeleton(skel_dir / "skeleton_skel.py")
    with mod.Skeleton.open() as opened:
        assert opened.rodata.limits.max == 100 and opened.data.step == 2
        opened.rodata.target_pid = 7
        assert opened.rodata.target_pid == 7
        assert sorted(opened.progs.tick.name for _ in [0]) == ["tick"]
        skel = opened.load()
    with skel:
        assert skel.rodata.target_pid == 7
        with pytest.raises(AttributeError):
            skel.rodata.target_pid = 8  # no setter after load (mypy says so too)
        with pytest.raises(libbpf_py.ReadOnlyError):
            skel.rodata.section_.target_pid = 8
        skel.data.step = 9  # live
        assert skel.data.section_.map[0][:4] == (9).to_bytes(4, sys.byteorder)
    assert skel.closed


WRONG = {
    'skel.rodata.target_pid = 1\n': "Property \"target_pid\" defined in \"SkeletonRodata\" is "
                                    "read-only",
    'opened.rodata.target_pid = "1"\n': 'Incompatible types in assignment (expression has type '
                                        '"str", variable has type "int")',
    'opened.rodata.limits = 3\n': 'variable has type "Limits"',
    'skel.bss.no_such_global\n': '"SkeletonBss" has no attribute "no_such_global"',
    'skel.maps.flows[3]\n': 'Invalid index type "int" for "TypedMap[FlowKey, FlowVal]"',
    'x: str = skel.maps.totals[0]\n': 'variable has type "str"',
}


def run_mypy(d: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    # a child process: mypy's objects would slow every later test's gc.collect() (fd check)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                           "--cache-dir", str(cache), "user.py"], cwd=d, capture_output=True,
                          text=True)


@pytest.mark.static
def test_mypy_strict_accepts_a_user_script(skel_dir: Path, tmp_path: Path) -> None:
    (skel_dir / "user.py").write_text(USER_SCRIPT)
    out = run_mypy(skel_dir, tmp_path / "cache")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.static
def test_mypy_strict_refuses_wrong_uses(skel_dir: Path, tmp_path: Path) -> None:
    head = ("from skeleton_skel import Skeleton\n\n"
            "opened = Skeleton.open()\nskel = opened.load()\n")
    (skel_dir / "user.py").write_text(head + "".join(WRONG))
    out = run_mypy(skel_dir, tmp_path / "cache")
    assert out.returncode == 1
    errors = [ln for ln in out.stdout.splitlines() if ": error:" in ln]
    for i, (line, message) in enumerate(WRONG.items()):
        lineno = head.count("\n") + i + 1
        assert any(e.startswith(f"user.py:{lineno}:") and message in e for e in errors), \
            (line, message, out.stdout)
    assert len(errors) == len(WRONG), out.stdout


@pytest.mark.static
def test_deterministic_and_lint_clean(bpf_path, skel_dir: Path, tmp_path: Path) -> None:
    first = (skel_dir / "skeleton_skel.py").read_text()
    (tmp_path / "again").mkdir()
    again = generate(bpf_path("skeleton"), tmp_path / "again" / "skeleton_skel.py", "-t",
                     "struct event")
    assert first == again
    assert "gen skeleton skeleton.bpf" in first and "-t 'struct event'" in first
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                          str(PYPROJECT), str(skel_dir / "skeleton_skel.py")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_btf_hash_and_format_are_checked(skel_dir: Path) -> None:
    text = (skel_dir / "skeleton_skel.py").read_text()
    bad = skel_dir / "bad_hash.py"
    bad.write_text(text.replace("_BTF_CHECKSUM = '", "_BTF_CHECKSUM = '1"))
    mod = import_skeleton(bad)
    with pytest.raises(ValueError, match="not the one the skeleton was generated from"):
        mod.Skeleton.open()
    future = skel_dir / "future.py"
    future.write_text(text.replace("srt.require(3, ", "srt.require(99, "))
    with pytest.raises(ImportError, match="format 99.*serves format 3: upgrade libbpf_py"):
        import_skeleton(future)


def test_event_type_from_a_header(bpf_path, tmp_path: Path) -> None:
    text = generate(bpf_path("skeleton"), tmp_path / "h.py", "-t", "struct event", "--header",
                    str(HERE / "bpf" / "skeleton.h"))
    assert "class Event(rt.BtfStruct):" in text
    mod = import_skeleton(tmp_path / "h.py")
    assert [n for n, *_ in mod.Event._fields_] == ["pid", "step", "_raw_tag"]
    assert libbpf_py.Map is not None and mod.Event(pid=1, tag=b"ab").tag == b"ab"


def test_unknown_type_is_a_clear_error(bpf_path, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "skeleton",
                          str(bpf_path("skeleton")), "-t", "struct nope"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "struct nope" in out.stderr and "Traceback" not in out.stderr


def _skeleton_variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """tests/bpf/skeleton.bpf.c with one edit, compiled."""
    from conftest import BPF_SRC, compile_bpf

    text = (BPF_SRC / "skeleton.bpf.c").read_text()
    assert old in text
    src = tmp_path / f"{name}.bpf.c"
    src.write_text(text.replace(old, new))
    return compile_bpf(src, tmp_path)


def test_packaged_object_is_checked_by_layout(bpf_path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # --object-resource: the module loads PACKAGE's file and checks its layout, not its bytes
    pkg = f"skelpkg_{os.getpid()}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    obj = tmp_path / pkg / "skeleton.bpf.o"
    monkeypatch.syspath_prepend(str(tmp_path))
    text = generate(bpf_path("skeleton"), tmp_path / "res_skel.py", "-t", "struct event",
                    "--object-resource", f"{pkg}:skeleton.bpf.o")
    assert "_OBJECT" not in text and "_BTF_CHECKSUM" not in text
    assert "        'type struct flow_key: 8 bytes (pid @0 4, port @32 2, proto @48 1)',\n" in text
    assert "        'map flows: hash, key 8 bytes, value 24 bytes, 16 entries',\n" in text
    mod = import_skeleton(tmp_path / "res_skel.py")
    try:
        with pytest.raises(FileNotFoundError, match=f"{obj} is missing: the skeleton skeleton "
                           f"loads the BPF object packaged with {pkg}"):
            mod.Skeleton.open()
        from libbpf_py.gen.skeleton_runtime import btf_checksum

        # another compilation of the same layout (other code: other line info, other BTF)
        same = _skeleton_variant(tmp_path, "same", "old->packets += 1;", "old->packets += 2;")
        with libbpf_py.Object.open(same) as a, libbpf_py.Object.open(bpf_path("skeleton")) as b:
            assert btf_checksum(a) != btf_checksum(b)
        obj.write_bytes(same.read_bytes())
        with mod.Skeleton.open() as opened:
            opened.rodata.target_pid = os.getpid()
            opened.rodata.mode = mod.Mode.MODE_ALL
            assert isinstance(opened.rodata.limits, mod.Limits)  # the classes, found by name
            skel = opened.load()
        with skel:
            skel.attach()
            os.getppid()
            (key,) = skel.maps.flows.keys()
            assert isinstance(key, mod.FlowKey) and key.pid == os.getpid()
            assert isinstance(skel.maps.flows[key], mod.FlowVal)
        # a real difference fails at open, naming what differs
        other = _skeleton_variant(tmp_path, "other", "__u16 port;", "__u32 port;")
        obj.write_bytes(other.read_bytes())
        with pytest.raises(ValueError, match=(
                r"not laid out as the skeleton was generated for .*map flows: generated for "
                r"'hash, key 8 bytes, value 24 bytes, 16 entries', the object has 'hash, key 12 "
                r"bytes, .*type struct flow_key: generated for '8 bytes \(pid @0 4, port @32 2, "
                r"proto @48 1\)', the object has '12 bytes \(pid @0 4, port @32 4, "
                r"proto @64 1\)'")):
            mod.Skeleton.open()
    finally:
        sys.modules.pop(pkg, None)


def test_tool_skeletons_are_current() -> None:
    # each tool's committed skeleton is what its freshly built object generates
    script = HERE.parent / "scripts" / "gen-tool-skeletons.py"
    out = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    from libbpf_py.tools import SKELETONS

    assert "runqlat" in SKELETONS
