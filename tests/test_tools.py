"""Built-in tools run against a workload the test creates."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

import libbpf_py
from libbpf_py.tools import object_path

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]


_spawned: list[subprocess.Popen[str]] = []


def spawn(argv: list[str], **kw: object) -> subprocess.Popen[str]:
    """subprocess.Popen, killed and reaped after the test even when it fails."""
    proc: subprocess.Popen[str] = subprocess.Popen(argv, text=True,  # type: ignore[call-overload]
                                                   **kw)
    _spawned.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _reap_processes() -> Iterator[None]:
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


TOOL_NAMES = ["execsnoop", "opensnoop", "syscount", "runqlat", "biolatency", "tcpconnect",
              "tcplife", "profile"]


def start_tool(*args: str) -> subprocess.Popen[str]:
    """Start ``python -m libbpf_py <tool> ...``; returns once its programs are attached."""
    proc = spawn([sys.executable, "-m", "libbpf_py", *args], stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # printed once the programs are attached
    if not line.startswith("Tracing "):
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{args[0]} did not start: {line}{err}{out}")
    return proc


def finish(tool: subprocess.Popen[str], *, interrupt: bool = True) -> str:
    """The tool's output once it ended: on Ctrl-C (SIGINT) or, without ``interrupt``, at the
    end of its ``-d`` duration."""
    if interrupt:
        tool.send_signal(signal.SIGINT)
    out, err = tool.communicate(timeout=30)
    assert tool.returncode == 0, err
    return out


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def waiting_python(code: str) -> subprocess.Popen[str]:
    """A Python child that runs ``code`` after reading a line from stdin: its pid is known
    before it does anything the test traces. ``sys.stdout`` reports back to the test."""
    child = spawn([sys.executable, "-c", "import os, sys, time\n"
                   "print('ready', flush=True)\nsys.stdin.readline()\n" + code],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"  # exec'd and started: /proc/PID/comm is final
    return child


def comm_of(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def test_execsnoop_sees_the_workload() -> None:
    marker = f"libbpf-py-{uuid.uuid4().hex[:8]}"
    tool = start_tool("execsnoop", "--json", "-x", "-d", "30")
    ok = spawn(["/bin/echo", marker, "second arg"], stdout=subprocess.DEVNULL)
    ok.wait()
    with pytest.raises(FileNotFoundError):
        subprocess.run(["/nonexistent/libbpf-py-missing", marker])
    events = json_lines(finish(tool))
    mine = [e for e in events if e["args"][:2] == ["/bin/echo", marker]]
    assert len(mine) == 1, events
    (ev,) = mine
    assert (ev["pid"], ev["ppid"], ev["ret"], ev["comm"]) == (ok.pid, os.getpid(), 0, "echo")
    assert ev["args"] == ["/bin/echo", marker, "second arg"]
    failed = [e for e in events if e["args"] == ["/nonexistent/libbpf-py-missing", marker]]
    assert [e["ret"] for e in failed] == [-2]  # -ENOENT, shown with -x


def test_execsnoop_variable_length_args_are_cut_like_libbpf_tools() -> None:
    # a record holds the fixed part and only the argument bytes read (tail=True): at most 20
    # arguments, each at most 127 bytes (+ NUL), however long the argv
    marker = f"libbpf-py-{uuid.uuid4().hex[:8]}"
    argv = ["/bin/echo", marker, "x" * 200, *(f"a{i}" for i in range(22))]
    tool = start_tool("execsnoop", "--json", "-d", "30")
    spawn(argv, stdout=subprocess.DEVNULL).wait()
    events = [e for e in json_lines(finish(tool)) if e["args"][1:2] == [marker]]
    assert [e["args"] for e in events] == [["/bin/echo", marker, "x" * 127,
                                            *(f"a{i}" for i in range(17))]]


def test_execsnoop_text_columns_and_pid_filter() -> None:
    marker = f"libbpf-py-{uuid.uuid4().hex[:8]}"
    # A shell that waits for a line on stdin, then execs echo: its pid is known beforehand.
    sh = spawn(["/bin/sh", "-c", f"read x; exec /bin/echo {marker}"],
               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    tool = start_tool("execsnoop", "-p", str(sh.pid), "-d", "30")
    subprocess.run(["/bin/echo", "not-this-one"], stdout=subprocess.DEVNULL)
    sh.communicate("go\n")
    lines = finish(tool).splitlines()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"]
    assert lines[1:] == [f"{'echo':<16} {sh.pid:<7} {os.getpid():<7} {0:>3} /bin/echo {marker}"]


PROGRAMS = {
    "execsnoop": ["on_execve_enter", "on_execve_exit"],
    "opensnoop": ["on_open_enter", "on_open_exit", "on_openat2_enter", "on_openat2_exit",
                  "on_openat_enter", "on_openat_exit"],
    "syscount": ["on_sys_enter", "on_sys_exit"],
    "runqlat": ["on_sched_switch", "on_sched_wakeup", "on_sched_wakeup_new"],
    "biolatency": ["on_block_rq_complete", "on_block_rq_insert", "on_block_rq_insert_two_args",
                   "on_block_rq_issue", "on_block_rq_issue_two_args"],
    "tcpconnect": ["on_inet_sock_set_state"],
    "tcplife": ["on_inet_sock_set_state"],
    "profile": ["do_perf_event"],
}


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_tool_is_written_against_its_skeleton(name: str) -> None:
    # issue 15's dogfooding: no string lookups, no hand-written mirror of a BPF struct, no
    # config map; the tool's object through its generated skeleton only
    import importlib
    import inspect
    import re

    from libbpf_py.tools import SKELETONS, TOOLS

    assert set(SKELETONS) == set(TOOLS)
    source = inspect.getsource(importlib.import_module(f"libbpf_py.tools.{TOOLS[name]}"))
    assert f"from .{name}_skel import " in source
    found = re.findall(r"""\.(?:maps|programs|sections)\[|\bimport struct\b|struct\.Struct|"""
                       r"""\bobject_path\(|libbpf_py\.load\(|Object\.open\(|\bcstr\(""", source)
    assert found == []


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_tool_object_is_built(name: str) -> None:
    with libbpf_py.Object.open(object_path(name)) as obj:
        assert sorted(obj.programs) == PROGRAMS[name]


def test_every_tool_is_registered_and_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    from libbpf_py.tools import TOOLS

    assert sorted(TOOLS) == sorted(TOOL_NAMES)
    for name in TOOL_NAMES:
        with pytest.raises(SystemExit) as exit_:
            importlib.import_module(f"libbpf_py.tools.{TOOLS[name]}").main(["--help"])
        assert exit_.value.code == 0
        usage = capsys.readouterr().out
        assert usage.startswith(f"usage: {name} ")
        assert "--json" in usage and "--duration" in usage
        assert ("--pid" in usage) == (name != "biolatency")
    # and through the command line
    r = subprocess.run([sys.executable, "-m", "libbpf_py", "tcplife", "--help"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("usage: tcplife "), r.stderr


@pytest.mark.parametrize("argv, message", [
    (["opensnoop", "-p", "-5"], "argument -p/--pid: expected a positive integer, not '-5'"),
    (["runqlat", "0"], "argument interval: expected a positive number of seconds, not '0'"),
    (["tcplife", "-L", "70000"], "expected a port number (1..65535), not '70000'"),
    (["syscount", "-e", "ENOPE"], "unknown errno 'ENOPE' (give a number or a name"),
    (["runqlat", "-P", "-L"], "argument -L/--tids: not allowed with argument -P/--pids"),
    (["profile", "-U", "-K"],
     "argument -K/--kernel-stacks-only: not allowed with argument -U/--user-stacks-only"),
    (["profile", "-F", "0"], "argument -F/--frequency: expected a positive integer, not '0'"),
    (["profile", "-d", "1", "2"], "give the duration once: -d SECONDS or a positional duration"),
])
def test_bad_arguments_are_named(argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"libbpf_py.tools.{argv[0]}").main(argv[1:])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


# --- opensnoop

def test_opensnoop_sees_the_workload() -> None:
    marker = f"libbpf-py-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        present, missing = os.path.join(tmp, marker), os.path.join(tmp, marker + "-missing")
        with open(present, "w"):
            pass
        child = waiting_python(
            f"fd = os.open({present!r}, os.O_RDONLY | os.O_CLOEXEC)\n"
            f"try:\n    os.open({missing!r}, os.O_RDONLY | os.O_NOFOLLOW)\n"
            "except FileNotFoundError:\n    pass\nprint(fd, flush=True)\n")
        comm = comm_of(child.pid)
        tool = start_tool("opensnoop", "--json", "-p", str(child.pid), "-d", "30")
        with open(present):  # the test's own open: filtered out by -p
            pass
        fd = int(child.communicate("go\n", timeout=30)[0])
        events = json_lines(finish(tool))
    assert {e["pid"] for e in events} == {child.pid}
    mine = [(e["comm"], e["fd"], e["err"], e["flags"], e["path"]) for e in events
            if marker in e["path"]]
    assert mine == [(comm, fd, 0, os.O_RDONLY | os.O_CLOEXEC, present),
                    (comm, -1, 2, os.O_NOFOLLOW | os.O_CLOEXEC, missing)]  # Python adds CLOEXEC


def test_opensnoop_text_columns_and_failed_only() -> None:
    marker = f"/nonexistent-libbpf-py-{uuid.uuid4().hex[:8]}"
    sh = spawn(["/bin/sh", "-c", f"read x; exec cat /proc/self/stat {marker}"],
               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tool = start_tool("opensnoop", "-x", "-p", str(sh.pid), "-d", "30")
    sh.communicate("go\n", timeout=30)
    lines = finish(tool).splitlines()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "PATH"]
    assert f"{sh.pid:<6} {'cat':<16} {-1:>4} {2:>3} {marker}" in lines[1:]
    assert all(" -1 " in line for line in lines[1:])  # -x: failed opens only
    assert not any("/proc/self/stat" in line for line in lines)


def test_opensnoop_extended_columns_and_name_filter() -> None:
    missing = f"/nonexistent-libbpf-py-{uuid.uuid4().hex[:8]}"
    child = waiting_python(f"try:\n    os.open({missing!r}, os.O_RDONLY | os.O_NOFOLLOW)\n"
                           "except FileNotFoundError:\n    pass\n")
    comm = comm_of(child.pid)
    tool = start_tool("opensnoop", "-T", "-U", "-e", "-n", comm, "-d", "30")
    child.communicate("go\n", timeout=30)
    lines = finish(tool).splitlines()
    assert lines[0].split() == ["TIME(s)", "UID", "PID", "COMM", "FD", "ERR", "FLAGS", "PATH"]
    assert all(comm in line.split()[3] for line in lines[1:])  # -n: only matching comms
    (row,) = [line for line in lines[1:] if line.endswith(missing)]
    stamp, rest = row.split(" ", 1)
    assert float(stamp) >= 0
    flags = os.O_NOFOLLOW | os.O_CLOEXEC  # Python adds O_CLOEXEC
    assert rest.lstrip() == (f"{os.getuid():<6} {child.pid:<6} {comm:<16} {-1:>4} {2:>3} "
                             f"{flags:08o} {missing}")


# --- syscount

def test_syscount_counts_the_workload_exactly() -> None:
    # getppid and umask: syscalls the interpreter itself does not make
    child = waiting_python("for _ in range(1234):\n    os.getppid()\n"
                           "for _ in range(77):\n    os.umask(0o22)\n")
    tool = start_tool("syscount", "--json", "-p", str(child.pid), "-T", "500", "-d", "30")
    child.communicate("go\n", timeout=30)
    rows = {r["syscall"]: r for r in json_lines(finish(tool))}
    assert rows["getppid"]["count"] == 1234
    assert rows["umask"]["count"] == 77
    assert rows["getppid"]["nr"] == {"x86_64": 110, "aarch64": 173}[os.uname().machine]


def test_syscount_by_process_with_errno_and_latency() -> None:
    child = waiting_python("for _ in range(55):\n    try:\n        os.close(999)\n"
                           "    except OSError:\n        pass\n")
    comm = comm_of(child.pid)
    tool = start_tool("syscount", "-P", "-e", "EBADF", "-L", "-p", str(child.pid), "-d", "30")
    child.communicate("go\n", timeout=30)
    lines = finish(tool).splitlines()
    assert lines[0].startswith("[") and lines[0].endswith("]")
    assert lines[1].split() == ["PID", "COMM", "COUNT", "TIME", "(us)"]
    row = lines[2]
    assert row.startswith(f"{child.pid:<6} {comm:<15} {55:>8} ")
    assert float(row.split()[-1]) > 0
    assert lines[3:] == [""]


# --- runqlat

def test_runqlat_histogram_of_the_workload() -> None:
    child = waiting_python("for _ in range(50):\n    time.sleep(0.002)\n")
    idle = spawn(["/bin/sh", "-c", "read x"], stdin=subprocess.PIPE)
    tool = start_tool("runqlat", "--json", "-p", str(child.pid), "-d", "30")
    quiet = start_tool("runqlat", "-p", str(idle.pid), "-d", "1")
    child.communicate("go\n", timeout=30)
    (hist,) = json_lines(finish(tool))
    # the blocked process never waited on a run queue: an empty histogram prints nothing
    assert finish(quiet, interrupt=False) == "\n"
    assert hist["unit"] == "usecs"
    # each sleep ends with a wakeup and a wait on the run queue; preemptions may add more
    assert sum(b["count"] for b in hist["buckets"]) >= 50
    for b in hist["buckets"]:
        assert b["high"] == 2 * max(b["low"], 1) - 1 and b["count"] > 0


def test_runqlat_interval_and_count() -> None:
    # bcc's `runqlat INTERVAL COUNT`: COUNT histograms, one per interval, then exit
    tool = spawn([sys.executable, "-m", "libbpf_py", "runqlat", "--json", "0.05", "3"],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = tool.communicate(timeout=30)
    assert tool.returncode == 0, err
    hists = json_lines(out)
    assert len(hists) == 3 and all(h["unit"] == "usecs" for h in hists)
    assert hists[0]["time"] < hists[1]["time"] < hists[2]["time"]


def test_syscount_prints_every_interval() -> None:
    tool = start_tool("syscount", "-i", "0.05", "-d", "30")
    assert tool.stdout is not None
    stamps = 0
    while stamps < 2:  # two interval reports, then Ctrl-C: a third, final one
        line = tool.stdout.readline()
        assert line, "syscount ended early"
        stamps += line.startswith("[")
    lines = finish(tool).splitlines()  # the rest of the second report, and the final one
    final = [i for i, line in enumerate(lines) if line.startswith("[")]
    assert len(final) == 1
    assert lines[final[0] + 1].split() == ["SYSCALL", "COUNT"]


def test_runqlat_per_thread_and_per_process() -> None:
    # The child's two threads sleep; it stays alive (so its comm is readable) until told to exit.
    code = ("import threading\n"
            "def work():\n    for _ in range(30):\n        time.sleep(0.002)\n"
            "t = threading.Thread(target=work)\nt.start()\n"
            "print(t.native_id, flush=True)\nt.join()\nprint('done', flush=True)\n"
            "sys.stdin.readline()\n")
    child = waiting_python(code)
    assert child.stdin is not None and child.stdout is not None
    comm = comm_of(child.pid)
    per_thread = start_tool("runqlat", "--json", "-L", "-p", str(child.pid), "-d", "30")
    per_process = start_tool("runqlat", "-P", "-p", str(child.pid), "-d", "30")
    child.stdin.write("go\n")
    child.stdin.flush()
    worker = int(child.stdout.readline())
    assert child.stdout.readline() == "done\n"
    hists = {h["tid"]: h for h in json_lines(finish(per_thread))}
    lines = finish(per_process).splitlines()
    child.stdin.close()
    child.wait()
    assert sorted(hists) == sorted([child.pid, worker])
    assert sum(b["count"] for b in hists[worker]["buckets"]) >= 30
    assert lines[:3] == ["", f"pid = {child.pid} {comm}",
                         "     usecs               : count     distribution"]
    assert sum(int(line.split(":")[1].split("|")[0]) for line in lines[3:] if "->" in line) >= 30


# --- biolatency

@pytest.fixture
def loop_device() -> Iterator[str]:
    """A loop device over a 4 MiB file, detached afterwards."""
    with tempfile.NamedTemporaryFile(dir="/var/tmp") as backing:
        backing.truncate(4 << 20)
        backing.flush()
        dev = subprocess.run(["losetup", "--find", "--show", backing.name], check=True,
                             capture_output=True, text=True).stdout.strip()
        try:
            yield dev
        finally:
            subprocess.run(["losetup", "-d", dev], check=True)


def direct_reads(dev: str, count: int) -> None:
    import mmap

    buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT wants
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        for i in range(count):
            assert os.preadv(fd, [buf], i * 4096) == 4096
    finally:
        os.close(fd)
        buf.close()


def test_biolatency_counts_direct_io_on_a_loop_device(loop_device: str) -> None:
    tool = start_tool("biolatency", "--json", "--disk", os.path.basename(loop_device), "-d", "30")
    direct_reads(loop_device, 32)
    (hist,) = json_lines(finish(tool))
    assert hist["unit"] == "usecs" and "disk" not in hist
    assert sum(b["count"] for b in hist["buckets"]) == 32  # one request per O_DIRECT read


def test_biolatency_text_histogram_per_disk(loop_device: str) -> None:
    tool = start_tool("biolatency", "-D", "--disk", loop_device, "-d", "30")
    direct_reads(loop_device, 8)
    lines = finish(tool).splitlines()
    assert lines[:3] == ["", f"disk = {os.path.basename(loop_device)}",
                         "     usecs               : count     distribution"]
    counts = [int(line.split(":")[1].split("|")[0]) for line in lines[3:] if "->" in line]
    assert sum(counts) == 8 and lines[-1] == "" and len(counts) == len(lines) - 4


def test_biolatency_rejects_an_unknown_disk() -> None:
    r = subprocess.run([sys.executable, "-m", "libbpf_py", "biolatency", "--disk", "nosuchdisk",
                        "-d", "1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no block device 'nosuchdisk'" in r.stderr


# --- tcpconnect

def test_tcpconnect_sees_the_connections() -> None:
    with socket.socket() as server, socket.socket(socket.AF_INET6) as closed6:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        closed6.bind(("::1", 0))  # bound, not listening: connecting to it is refused
        refused_port = closed6.getsockname()[1]
        tool = start_tool("tcpconnect", "--json", "-p", str(os.getpid()), "-d", "30")
        with socket.create_connection(("127.0.0.1", port)) as client:
            sport = client.getsockname()[1]
            server.accept()[0].close()
        with socket.socket(socket.AF_INET6) as failing:
            with pytest.raises(ConnectionRefusedError):
                failing.connect(("::1", refused_port))
            failed_sport = failing.getsockname()[1]
        events = json_lines(finish(tool))
    with open("/proc/thread-self/comm") as f:
        comm = f.read().strip()
    keys = ("pid", "comm", "ip", "saddr", "sport", "daddr", "dport", "established")
    assert [tuple(e[k] for k in keys) for e in events] == [
        (os.getpid(), comm, 4, "127.0.0.1", sport, "127.0.0.1", port, True),
        (os.getpid(), comm, 6, "::1", failed_sport, "::1", refused_port, False),
    ]
    assert all(e["latency_ns"] > 0 for e in events)


def test_tcpconnect_text_columns_and_port_filter() -> None:
    with socket.socket() as a, socket.socket() as b:
        for s in (a, b):
            s.bind(("127.0.0.1", 0))
            s.listen()
        bport = b.getsockname()[1]
        tool = start_tool("tcpconnect", "-L", "-P", str(bport), "-d", "30")
        socket.create_connection(a.getsockname()).close()
        with socket.create_connection(("127.0.0.1", bport)) as c:
            sport = c.getsockname()[1]
        lines = finish(tool).splitlines()
    with open("/proc/thread-self/comm") as f:
        comm = f.read().strip()
    assert lines[0].split() == ["PID", "COMM", "IP", "SADDR", "LPORT", "DADDR", "DPORT"]
    assert lines[1:] == [f"{os.getpid():<6} {comm[:12]:<12} {4:<2} {'127.0.0.1':<16} "
                         f"{sport:<6} {'127.0.0.1':<16} {bport}"]


def test_tcpconnect_failed_only_with_latency() -> None:
    with socket.socket() as server, socket.socket() as closed:
        server.bind(("127.0.0.1", 0))
        server.listen()
        closed.bind(("127.0.0.1", 0))
        refused_port = closed.getsockname()[1]
        tool = start_tool("tcpconnect", "-x", "-l", "-p", str(os.getpid()), "-d", "30")
        socket.create_connection(server.getsockname()).close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", refused_port))
        lines = finish(tool).splitlines()
    assert lines[0].split() == ["PID", "COMM", "IP", "SADDR", "DADDR", "DPORT", "LAT(ms)"]
    (row,) = lines[1:]  # the refused attempt only
    fields = row.split()
    with open("/proc/thread-self/comm") as f:
        comm = f.read().strip()[:12]
    assert fields[:6] == [str(os.getpid()), comm, "4", "127.0.0.1", "127.0.0.1",
                          str(refused_port)]
    assert float(fields[6]) > 0


# --- tcplife

def tcp_session(sent: int, received: int) -> tuple[int, int]:
    """A loopback TCP session of the test process: the client sends ``sent`` bytes, the server
    answers ``received`` bytes, the client closes first. Returns (client port, server port)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"x" * sent)
                got = 0
                while got < sent:
                    got += len(conn.recv(65536))
                conn.sendall(b"y" * received)
                got = 0
                while got < received:
                    got += len(client.recv(65536))
                ports = client.getsockname()[1], server.getsockname()[1]
                client.close()
                assert conn.recv(1) == b""  # the client's FIN arrived: close the server side
    return ports


def test_tcplife_reports_both_ends_of_a_session() -> None:
    tool = start_tool("tcplife", "--json", "-p", str(os.getpid()), "-d", "30")
    cport, sport = tcp_session(3000, 70000)
    events = json_lines(finish(tool))
    with open("/proc/thread-self/comm") as f:
        comm = f.read().strip()
    keys = ("pid", "comm", "ip", "laddr", "lport", "raddr", "rport", "tx_bytes", "rx_bytes")
    lo = "127.0.0.1"
    # the kernel's counters (tcp_info's bytes_acked / bytes_received) also count the sequence
    # numbers of FIN (each side's FIN is acked and received) and, on the connecting side, SYN
    assert sorted(tuple(e[k] for k in keys) for e in events) == sorted([
        (os.getpid(), comm, 4, lo, cport, lo, sport, 3000 + 2, 70000 + 1),  # client: connect()ed
        (os.getpid(), comm, 4, lo, sport, lo, cport, 70000 + 1, 3000 + 1),  # server: closed last
    ])
    assert all(e["span_ns"] > 0 for e in events)


def test_tcplife_text_columns_and_port_filter() -> None:
    with socket.socket() as probe:  # a port the listener of tcp_session() won't get
        probe.bind(("127.0.0.1", 0))
        tool = start_tool("tcplife", "-D", str(probe.getsockname()[1]), "-d", "30")
        tcp_session(10, 10)
        lines = finish(tool).splitlines()
    assert lines == ["PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS"]
    tool = start_tool("tcplife", "-p", str(os.getpid()), "-d", "30")
    cport, sport = tcp_session(4096, 2048)
    lines = finish(tool).splitlines()
    with open("/proc/thread-self/comm") as f:
        comm = f.read().strip()[:10]
    rows = sorted(line.rsplit(" ", 1)[0] for line in lines[1:])
    assert rows == sorted([
        f"{os.getpid():<5} {comm:<10} {'127.0.0.1':<15} {cport:<5} {'127.0.0.1':<15} {sport:<5} "
        f"{4:>5} {2:>5}",
        f"{os.getpid():<5} {comm:<10} {'127.0.0.1':<15} {sport:<5} {'127.0.0.1':<15} {cport:<5} "
        f"{2:>5} {4:>5}",
    ])


def test_syscall_table_matches_this_machine_s_uapi_headers() -> None:
    # The shipped table was generated from the UAPI headers; the ones installed here (libc6-dev)
    # must agree on every number both know.
    from libbpf_py.tools.syscalls import syscall_name, syscall_names

    defines = subprocess.run(["cpp", "-dM", "-"], input="#include <asm/unistd.h>\n",
                             capture_output=True, text=True, check=True).stdout
    header = {}
    for line in defines.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].startswith("__NR_") and parts[2].isdigit():
            header[int(parts[2])] = parts[1][len("__NR_"):]
    table = syscall_names()
    common = header.keys() & table.keys()
    assert len(common) > 250
    assert {nr: table[nr] for nr in common} == {nr: header[nr] for nr in common}
    assert syscall_name(10**6) == "[unknown: 1000000]"
    with pytest.raises(ValueError, match="no system call table for architecture 'mips'"):
        syscall_names("mips")


# --- profile

def build_profile_target(pie: bool) -> str:
    """tests/native/profile_target.c built with frame pointers (the kernel walks user stacks
    through them), PIE or not; cached by source and flags under tests/.cache/."""
    import hashlib
    import shutil

    tests = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(tests, "native", "profile_target.c")
    flags = ["-O0", "-g", "-fno-omit-frame-pointer",
             *(["-fPIE", "-pie"] if pie else ["-fno-pie", "-no-pie"])]
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read() + " ".join(flags).encode()).hexdigest()[:12]
    from conftest import CACHE

    out = os.path.join(CACHE, f"profile_target-{'pie' if pie else 'nopie'}-{digest}")
    if not os.path.exists(out):
        if shutil.which("gcc") is None:
            pytest.fail("gcc is needed to build the profile workload", pytrace=False)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["gcc", *flags, src, "-o", f"{out}.tmp"], check=True)
        os.replace(f"{out}.tmp", out)
    return out


def profile_workload(exe: str, mode: str = "spin") -> subprocess.Popen[str]:
    """The workload running (burning CPU in user space, or reading /dev/zero in the kernel)."""
    proc = spawn([exe, mode], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def run_profiles(*argvs: list[str]) -> list[str]:
    """Run several `profile -d 1 -F 199 ...` at once (each has its own perf events and maps);
    their outputs. (-c PERIOD replaces -F.)"""
    tools = [start_tool("profile", "-d", "1", *([] if "-c" in argv else ["-F", "199"]), *argv)
             for argv in argvs]
    return [finish(tool, interrupt=False) for tool in tools]


def folded(text: str) -> list[tuple[list[str], int]]:
    """Folded lines -> (frames, comm first, root to leaf; count)."""
    rows = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        rows.append((stack.split(";"), int(count)))
    return rows


def calls(frames: list[str], *names: str) -> bool:
    """Whether ``names`` appear consecutively in ``frames`` (caller first)."""
    n = len(names)
    return any(tuple(frames[i:i + n]) == names for i in range(len(frames) - n + 1))


@pytest.mark.parametrize("pie, only", [(True, "-p"), (False, "-L")],
                         ids=["pie-process", "non-pie-thread"])
def test_profile_folded_user_stacks(pie: bool, only: str) -> None:
    exe = build_profile_target(pie)
    work = profile_workload(exe)
    comm = comm_of(work.pid)
    assert comm == os.path.basename(exe)[:15]
    (out,) = run_profiles([only, str(work.pid), "--folded"])  # -L: its main thread's tid
    rows = folded(out)
    assert rows and all(frames[0] == comm and count > 0 for frames, count in rows), out
    # the spin is a leaf called by main: sampled in user mode, no kernel frames follow (an
    # interrupt being handled on the workload's stack may add some)
    spin = [(f, c) for f, c in rows if calls(f, "main", "libbpf_py_profile_spin")]
    assert any(f[-2:] == ["main", "libbpf_py_profile_spin"] for f, _ in spin), out
    assert all("libbpf_py_profile_spin" not in f or (f, c) in spin for f, c in rows), out
    assert len({";".join(f) for f, _ in rows}) == len(rows)  # identical stacks are merged
    assert sum(c for _, c in spin) > 0


def test_profile_text_and_json_stacks() -> None:
    from libbpf_py.utils.symbols import ElfSymbols

    exe = build_profile_target(pie=False)
    work = profile_workload(exe)
    comm = comm_of(work.pid)
    text, js = run_profiles(["-p", str(work.pid)], ["-p", str(work.pid), "--json"])
    # bcc's layout: frames innermost first, "- comm (pid)", the count, a blank line
    blocks = [b.splitlines() for b in text.split("\n\n") if b]
    assert blocks and all(b[-2] == f"    {'-':<16} {comm} ({work.pid})" for b in blocks), text
    spin = [b for b in blocks
            if b[:2] == ["    libbpf_py_profile_spin", "    main"]]
    assert spin and all(int(b[-1].strip()) > 0 for b in spin), text
    # JSON: one record per stored stack, with addresses resolved to symbol+offset in the binary
    records = json_lines(js)
    assert records and all((r["pid"], r["comm"]) == (work.pid, comm) for r in records)
    elf = ElfSymbols(exe)
    spin_json = [r for r in records if [f["symbol"] for f in r["user_stack"][:2]]
                 == ["libbpf_py_profile_spin", "main"]]
    assert spin_json, records
    # sampled in user mode: no kernel stack (unless an interrupt was being handled)
    assert any(r["kernel_stack"] == [] for r in spin_json), spin_json
    for r in spin_json:
        assert r["count"] > 0
        assert not r["user_stack_missing"] and not r["kernel_stack_missing"]
        for f in r["user_stack"][:2]:  # non-PIE: the address is the file's address
            assert f["module"] == os.path.basename(exe)
            assert f["address"] == elf.by_name(f["symbol"]) + f["offset"]


def test_profile_kernel_and_user_stacks_of_a_syscall_loop() -> None:
    exe = build_profile_target(pie=True)
    work = profile_workload(exe, "read")
    comm = comm_of(work.pid)
    pid = str(work.pid)
    kernel, user, both, text = run_profiles(
        ["-p", pid, "-K", "-f", "-a"], ["-p", pid, "-U", "-f", "-c", "5000000"],
        ["-p", pid, "-f", "--delimited"], ["-p", pid, "--delimited"])
    # -K: kernel frames only (-a marks them _[k]), root first: the read syscall's path
    rows = folded(kernel)
    assert rows and all(f[0] == comm and c > 0 for f, c in rows), kernel
    assert all(x.endswith("_[k]") for f, _ in rows for x in f[1:]), kernel
    reads = [c for f, c in rows if calls(f, "ksys_read_[k]", "vfs_read_[k]")]
    assert reads and sum(reads) > 0, kernel
    # -U: user frames only (libc's read() keeps no frame of its own: main calls it, as seen
    # by a frame-pointer walk)
    rows = folded(user)
    assert rows and all(f[0] == comm and "vfs_read" not in f for f, _ in rows), user
    assert any("main" in f for f, _ in rows), user
    # both, with '-' between the user frames and the kernel frames
    rows = folded(both)
    assert rows and all(f[0] == comm for f, _ in rows), both
    split = [f for f, _ in rows if "-" in f]
    assert any("main" in f[:f.index("-")] and "vfs_read" in f[f.index("-"):] for f in split), both
    # ... and in bcc's layout, kernel frames first, "--", user frames
    blocks = [[x.strip() for x in b.splitlines()] for b in text.split("\n\n") if b]
    assert blocks and all(b[-2] == f"{'-':<16} {comm} ({work.pid})" for b in blocks), text
    assert any("vfs_read" in b[:b.index("--")] and "main" in b[b.index("--"):]
               for b in blocks if "--" in b), text


def test_profile_samples_only_the_cpu_asked_for() -> None:
    from libbpf_py.attach.perf_event import online_cpus

    cpus = sorted(set(online_cpus()) & os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    work = profile_workload(build_profile_target(pie=True))
    os.sched_setaffinity(work.pid, {cpus[-1]})
    pid = str(work.pid)
    here, elsewhere = run_profiles(["-p", pid, "-f", "-C", str(cpus[-1])],
                                   ["-p", pid, "-f", "-C", str(cpus[0])])
    assert any(calls(f, "main", "libbpf_py_profile_spin") for f, _ in folded(here)), here
    assert elsewhere == ""  # the workload never ran there


def test_profile_rejects_an_offline_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    from libbpf_py.tools import profile

    with open("/sys/devices/system/cpu/online") as f:
        online = f.read().strip()
    assert profile.main(["-C", "4096", "-d", "1"]) == 1
    assert capsys.readouterr().err == f"profile: CPU 4096 is not online (online: {online})\n"


def idle_seconds() -> float:
    """The CPUs' total idle time so far (/proc/stat, in USER_HZ ticks)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[4]) / os.sysconf("SC_CLK_TCK")


def test_profile_include_idle() -> None:
    """-I counts the idle tasks (pid 0, "swapper/N"), which are left out by default. The idle
    tasks run only when a CPU has nothing else to do: on a machine others keep busy, a second
    may have none, so the run is repeated until one had at least 0.3 s of idle time (at 199
    Hz, some 60 samples of the idle tasks)."""
    for _attempt in range(10):
        before = idle_seconds()
        idle, default = run_profiles(["-K", "-I", "--json"], ["-K", "--json"])
        idled = idle_seconds() - before
        idle_rows, default_rows = json_lines(idle), json_lines(default)
        assert default_rows and all(r["pid"] != 0 for r in default_rows), default
        if idled >= 0.3:
            assert any(r["pid"] == 0 and r["comm"].startswith("swapper/")
                       for r in idle_rows), idle
            return
        time.sleep(1.0)
    pytest.fail("the CPUs were never idle for 0.3 s during a 1 s profile: -I not checked")


def test_profile_stack_storage_size() -> None:
    """--stack-storage-size sizes the stack map: with one slot only one distinct stack is
    stored, the others are reported missing, and the tool says to increase the size."""
    work = profile_workload(build_profile_target(pie=True), "read")  # many kernel stacks
    tool = start_tool("profile", "-d", "1", "-F", "199", "-K", "--json", "-p", str(work.pid),
                      "--stack-storage-size", "1")
    out, err = tool.communicate(timeout=30)
    assert tool.returncode == 0, err
    rows = json_lines(out)
    stored = {tuple(f["address"] for f in r["kernel_stack"]) for r in rows if r["kernel_stack"]}
    assert len(stored) <= 1, stored
    missing = sum(r["count"] for r in rows if r["kernel_stack_missing"])
    assert missing > 0, rows
    assert "Consider increasing --stack-storage-size" in err
