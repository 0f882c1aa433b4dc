"""Fuzzing and soak (tests/stress, ``python -m stress``): the saved inputs that once crashed or
raised unclear errors replay cleanly, each in a child process; objects libbpf would crash on are
refused at open with a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py

TESTS = Path(__file__).resolve().parent
CORPUS = sorted(p for p in (TESTS / "stress" / "corpus").iterdir()
                if p.suffix in (".o", ".btf"))


def stress(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stress", *args], cwd=TESTS,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.root
def test_corpus_replays_cleanly() -> None:
    """Every saved input opens, walks, loads (or is refused) with a clean error: no crash,
    no hang, nothing but BpfError or a ValueError/TypeError libbpf_py raised naming it."""
    assert CORPUS, "tests/stress/corpus is empty"
    done = stress("replay", *map(str, CORPUS))
    lines = done.stdout.splitlines()
    assert len(lines) == len(CORPUS), done.stderr
    bad = [ln for ln in lines if not ln.split(": ", 1)[1].startswith(("clean", "load"))]
    assert done.returncode == 0 and not bad, "\n".join(bad) + done.stderr


def test_struct_ops_map_in_maps_section_is_refused_at_open(bpf_path) -> None:
    with pytest.raises(libbpf_py.BpfError, match=r'map .so. is a BPF_MAP_TYPE_STRUCT_OPS '
                       r'declared in SEC\("\.maps"\): declare struct_ops maps as a struct in '
                       r'SEC\("\.struct_ops"\)') as e:
        libbpf_py.Object.open(bpf_path("struct_ops_in_maps"))
    assert e.value.errno == 22 and e.value.context.startswith("open object ")


def test_names_that_are_not_utf8_read_escaped() -> None:
    raw = (TESTS / "stress" / "corpus" / "program-name-not-utf8.o").read_bytes()
    with libbpf_py.Object.open(raw) as o:
        names = list(o.programs)
        assert any("\\x" in n for n in names), names
        for n in names:
            assert o.programs[n].name == n


def test_unknown_map_types_are_members() -> None:
    raw = (TESTS / "stress" / "corpus" / "map-type-unknown.o").read_bytes()
    with libbpf_py.Object.open(raw) as o:
        types = [m.type for m in o.maps.values()]
    unknown = [t for t in types if t.name.startswith("UNKNOWN_")]
    assert unknown and all(isinstance(t, libbpf_py.MapType) for t in types)
    assert unknown[0] == int(unknown[0].name.removeprefix("UNKNOWN_"))
    assert libbpf_py.MapType(4096).name == "UNKNOWN_4096"
    with pytest.raises(ValueError):
        libbpf_py.MapType(2 ** 40)


@pytest.mark.root
def test_short_fuzz_run_is_clean() -> None:
    """The command's short run (the big one's figures are in bench/robust/RESULTS.md): every family
    without a crash, a hang or an unclear error, and mutated objects that still load and walk."""
    import json

    done = stress("fuzz", "--cases", "100", "--seed", "7", "--json")
    summary = json.loads(done.stdout)
    for family in ("object", "btf", "value"):
        s = summary[family]
        assert (s["crash"], s["hang"], s["unclear"]) == (0, 0, 0), (family, summary["findings"])
        assert s["cases"] == s["clean"] + s["load"]
    assert summary["object"]["loaded"] > 0 and summary["object"]["load"] > 0
    assert done.returncode == 0


@pytest.mark.root
def test_short_soak_keeps_fds_and_rss_flat() -> None:
    """The soak command, short (the 10,000-cycle run: bench/robust/RESULTS.md): every phase
    without fd growth and with RSS flat; every record of the records phase counted once."""
    import json

    done = stress("soak", "--cycles", "100", "--sample", "25", "--json")
    result = json.loads(done.stdout)
    assert [p["phase"] for p in result["phases"]] == ["object", "buffers", "records"]
    for phase in result["phases"]:
        assert phase["cycles"] == 100 and len(phase["samples"]) == 4
        assert phase["fd_growth"] == 0, phase
        assert phase["rss_growth"] <= 1 << 20, phase
    assert result["phases"][2]["records"] == 100 * 2 * 64
    assert result["ok"] and done.returncode == 0


def test_anonymous_members_read_and_write_from_the_outer_record(bpf_path) -> None:
    """Members of an anonymous struct/union that are enums, char arrays or bitfields (ctypes
    promotes only plain fields) are attributes of the record that holds them."""
    with libbpf_py.Object.open(bpf_path("anon_members")) as o:
        held = o.data.held
        assert (held.x, held.lvl, held.tag, held.small, held.neg, held.as_level) == \
            (1, 2, b"ab", 5, -3, 2)
        assert held.lvl.name == "HIGH" and held.as_level.name == "HIGH"
        held.lvl, held.tag, held.small, held.neg = 1, b"xyz", 7, -16
        o.data.held = held
        again = o.data.held
        assert (again.lvl, again.tag, again.small, again.neg) == (1, b"xyz", 7, -16)
        assert "lvl=" in repr(again) and "tag=" in repr(again)
