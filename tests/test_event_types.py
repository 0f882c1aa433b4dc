"""Event types without hand-written mirrors (issue 11, friction 1): a struct a program uses only
through a local pointer is not in its BTF; libbpf_py reads it from the object's DWARF, or
generates Python types from the C header through clang, and says what to do when neither is
there."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import libbpf_py
from libbpf_py import Object
from libbpf_py._dwarf import MissingTypeError, btf_from_dwarf
from libbpf_py._types import ctype_for, numpy_dtype

from conftest import BPF_SRC

HEADER = BPF_SRC / "local_event.h"


def _generated(tmp_path: Path, *args: str) -> object:
    out = tmp_path / "local_event_types.py"
    done = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "types", str(HEADER),
                           "-o", str(out), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    spec = importlib.util.spec_from_file_location("local_event_types", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_type_used_through_a_local_pointer_is_not_in_btf_but_in_dwarf(bpf_path) -> None:
    path = bpf_path("local_event")
    with Object.open(path) as opened:
        assert opened.btf is not None and opened.btf.get("struct event") is None
    types = btf_from_dwarf(path)
    try:
        assert "struct event" in types.names() and "enum ev_kind" in types.names()
        event = ctype_for(types.btf, types.find("struct event"))
        assert ctypes.sizeof(event) == 80
        assert [(n, getattr(event, "_raw_" + n, getattr(event, n, None)).offset)
                for n in ("pid", "ts", "comm", "kind", "args_count")
                if hasattr(getattr(event, "_raw_" + n, getattr(event, n)), "offset")] == [
            ("pid", 0), ("ts", 8), ("comm", 16), ("kind", 36), ("args_count", 64)]
        assert types.btf.find("struct event").format(bytes(80)).startswith("(struct event)")
        with pytest.raises(KeyError):
            types.find("struct nope")
    finally:
        types.btf.close()


def test_generated_types_match_the_dwarf_layout(bpf_path, tmp_path: Path) -> None:
    mod = _generated(tmp_path)
    event = mod.event  # type: ignore[attr-defined]
    types = btf_from_dwarf(bpf_path("local_event"))
    try:
        from_dwarf = ctype_for(types.btf, types.find("struct event"))
        assert ctypes.sizeof(event) == ctypes.sizeof(from_dwarf) == 80
        assert str(numpy_dtype(event)) == str(numpy_dtype(from_dwarf))  # S0 != S0 in numpy
        assert [f[0] for f in event._fields_] == [f[0] for f in from_dwarf._fields_]
    finally:
        types.btf.close()
    ev = event()
    ev.flags, ev.mode, ev.kind, ev.addr = 5, 17, mod.ev_kind.EV_CLOSE, 2**127  # type: ignore
    ev.comm = b"a\0b"
    assert (ev.flags, ev.mode, ev.kind.name, ev.addr, ev._raw("comm")[:3]) == (
        5, 17, "EV_CLOSE", 2**127, b"a\0b")
    assert mod.u64 is ctypes.c_uint64 and mod.__all__ == sorted(mod.__all__)  # type: ignore
    only = _generated(tmp_path, "-t", "struct inner")
    assert only.__all__ == ["inner"]  # type: ignore[attr-defined]


@pytest.mark.static
def test_generated_types_pass_mypy_strict_and_ruff(tmp_path: Path) -> None:
    """gen types output is checked like a skeleton's: a script using it passes mypy --strict
    (the member properties, ``__u8`` arrays as ``ctypes.Array[ctypes.c_ubyte]``), and the C
    member named ``in`` is reached as ``in_``, as annotated."""
    mod = _generated(tmp_path)
    ev = mod.event()  # type: ignore[attr-defined]
    ev.in_.hi = 3
    assert getattr(ev, "in").hi == 3 and ev.in_.hi == 3
    (tmp_path / "user.py").write_text(
        "from local_event_types import ev_kind, event\n\n"
        "ev = event()\n"
        "ev.in_.lo = 1\n"
        "n: int = ev.in_.hi + ev.bytes[2] + ev.flags + ev.addr + ev.args_count\n"
        "name: bytes = ev.comm\n"
        "kind: ev_kind = ev.kind\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                           "--cache-dir", str(tmp_path / "cache"), "user.py",
                           "local_event_types.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(pyproject), str(tmp_path / "local_event_types.py")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_gen_types_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h"
    bad.write_text("struct broken { int x }\n")
    done = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "types", str(bad)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "clang failed on" in done.stderr
    done = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "types", str(HEADER), "-t",
                           "struct nope"], capture_output=True, text=True)
    assert done.returncode == 1 and "nope" in done.stderr


@pytest.mark.root
@pytest.mark.kernel("tracefs", "ringbuf")
def test_ring_buffer_events_typed_without_a_mirror(bpf_path, tmp_path: Path) -> None:
    """RingBuffer(event_type="struct event") on an object whose BTF lacks it: from DWARF; the
    generated class gives the same values; a stripped object gets an error that says why."""
    mod = _generated(tmp_path)
    opened = Object.open(bpf_path("local_event"))
    opened.rodata.target_pid = os.getpid()
    with opened.load() as obj:
        obj.attach()
        got: list[tuple[str, object]] = []

        def keep(tag: str):
            def cb(ev: Any) -> None:  # values are copied out: the record is a view
                inner = getattr(ev, "in")  # a C member named like a Python keyword
                got.append((tag, (ev.pid, ev.ts, ev.comm, ev.flags, ev.mode, ev.kind, ev.word,
                                  (inner.lo, inner.hi), ev.addr, ev.args_count)))
            return cb

        with libbpf_py.RingBuffer(obj.maps["events"], keep("dwarf"),
                                  event_type="struct event") as rb:
            os.getppid()
            rb.poll(timeout=1)
        with libbpf_py.RingBuffer(obj.maps["events"], keep("generated"),
                                  event_type=mod.event) as rb:  # type: ignore[attr-defined]
            os.getppid()
            rb.poll(timeout=1)
    with open("/proc/self/comm", "rb") as f:
        comm = f.read().strip()[:15]
    want = (os.getpid(), 0x1122334455667788, comm, 5, 17, 2, 0xDEADBEEF, (1, 2),
            (0x20010DB8 << 96) | 1, 3)
    assert got == [("dwarf", want), ("generated", want)]
    assert got[0][1][5].name == "EV_CLOSE"  # type: ignore[index,union-attr]


def test_missing_type_error_says_why_and_what_to_do(bpf_path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped.bpf.o"
    subprocess.run(["llvm-strip", "-g", str(bpf_path("local_event")), "-o", str(stripped)],
                   check=True)
    from libbpf_py._dwarf import object_ctype

    with Object.open(stripped) as opened:
        with pytest.raises(MissingTypeError) as e:
            object_ctype(opened._state, "struct event", "event_type='struct event'")
    msg = str(e.value)
    assert "no such type 'struct event' in the BTF of object 'stripped.bpf.o'" in msg
    assert "only through a local pointer" in msg and "no DWARF either" in msg
    assert "python -m libbpf_py gen types" in msg and isinstance(e.value, ValueError)
