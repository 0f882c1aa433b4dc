"""The command line: version, features, inspect."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import libbpf_py


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "libbpf_py", *args], capture_output=True,
                          text=True)


def test_version() -> None:
    out = cli("version")
    assert out.returncode == 0
    assert out.stdout == f"libbpf_py {libbpf_py.__version__} (bundled libbpf 1.7.0)\n"


def test_inspect_json_is_exact(bpf_path) -> None:
    out = cli("inspect", str(bpf_path("getppid")), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["programs"] == [{
        "name": "on_getppid", "section": "tracepoint/syscalls/sys_enter_getppid",
        "type": "tracepoint", "instructions": report["programs"][0]["instructions"],
        "autoload": True}]
    assert report["programs"][0]["instructions"] > 10
    assert report["maps"] == [
        {"name": "config", "type": "array", "key_size": 4, "value_size": 4, "max_entries": 1,
         "flags": 0},
        {"name": "counts", "type": "hash", "key_size": 4, "value_size": 8, "max_entries": 64,
         "flags": 0},
        {"name": "events", "type": "ringbuf", "key_size": 0, "value_size": 0,
         "max_entries": 64 * 1024, "flags": 0},
    ]


def test_inspect_text_and_errors(bpf_path, tmp_path) -> None:
    out = cli("inspect", str(bpf_path("getppid")))
    assert out.returncode == 0
    assert "on_getppid" in out.stdout and 'SEC("tracepoint/syscalls/sys_enter_getppid")' in out.stdout
    missing = cli("inspect", str(tmp_path / "nope.o"))
    assert missing.returncode == 1 and "No such file" in missing.stderr


@pytest.mark.root
def test_features_json() -> None:
    out = cli("features", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["features"]["btf"] is True
    assert report["features"]["kprobes"] is False  # this kernel has CONFIG_KPROBES unset
    assert report["program_types"]["tracepoint"] is True
    assert report["map_types"]["ringbuf"] is True
    assert report["kernel"] == ".".join(map(str, libbpf_py.features.kernel_version()))


def test_no_command_prints_help() -> None:
    out = cli()
    assert out.returncode == 2 and "COMMAND" in out.stdout
