"""Built-in tools run against a workload the test creates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

import libbpf_py
from libbpf_py.tools import object_path

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]


def start_tool(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "libbpf_py", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # printed once the programs are attached
    assert "Tracing exec()" in line, line + proc.stderr.read()
    return proc


def test_execsnoop_sees_the_workload() -> None:
    marker = f"libbpf-py-{uuid.uuid4().hex[:8]}"
    tool = start_tool("execsnoop", "--json", "-x", "-d", "3")
    ok = subprocess.Popen(["/bin/echo", marker, "second arg"], stdout=subprocess.DEVNULL)
    ok.wait()
    with pytest.raises(FileNotFoundError):
        subprocess.run(["/nonexistent/libbpf-py-missing", marker])
    out, err = tool.communicate(timeout=30)
    assert tool.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    mine = [e for e in events if e["args"][:2] == ["/bin/echo", marker]]
    assert len(mine) == 1, events
    (ev,) = mine
    assert (ev["pid"], ev["ppid"], ev["ret"], ev["comm"]) == (ok.pid, os.getpid(), 0, "echo")
    assert ev["args"] == ["/bin/echo", marker, "second arg"]
    failed = [e for e in events if e["args"] == ["/nonexistent/libbpf-py-missing", marker]]
    assert [e["ret"] for e in failed] == [-2]  # -ENOENT, shown with -x


def test_execsnoop_text_columns_and_pid_filter() -> None:
    marker = f"libbpf-py-{uuid.uuid4().hex[:8]}"
    # A shell that waits for a line on stdin, then execs echo: its pid is known beforehand.
    sh = subprocess.Popen(["/bin/sh", "-c", f"read x; exec /bin/echo {marker}"],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    tool = start_tool("execsnoop", "-p", str(sh.pid), "-d", "3")
    subprocess.run(["/bin/echo", "not-this-one"], stdout=subprocess.DEVNULL)
    sh.communicate("go\n")
    out, err = tool.communicate(timeout=30)
    assert tool.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"]
    assert lines[1:] == [f"{'echo':<16} {sh.pid:<7} {os.getpid():<7} {0:>3} /bin/echo {marker}"]


def test_tool_object_is_built() -> None:
    with libbpf_py.Object.open(object_path("execsnoop")) as obj:
        assert sorted(obj.programs) == ["on_execve_enter", "on_execve_exit"]
