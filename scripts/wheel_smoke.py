"""Smoke-test an *installed* libbpf_py wheel where users run it: load, maps, globals, a ring
buffer, a tracepoint and a uprobe firing with exact counts, and built-in tools.

Three ways to run it (as root, with this interpreter's site-packages holding the wheel, from a
directory outside the source tree; ``-I`` keeps the script's directory off ``sys.path``)::

    python -I wheel_smoke.py --source-tree REPO            # compile with clang here, then run
    python3 wheel_smoke.py compile --arch aarch64 --include DIR --out OBJDIR   # on a build host
    python -I wheel_smoke.py run --objects OBJDIR [--tools opensnoop,execsnoop,syscount]

``compile`` needs clang (and the target's ``asm/`` headers: ``/usr/<triplet>/include`` for
another architecture), not libbpf_py: it is how a chroot or a guest without clang gets its object,
compiled for its architecture (``-D__TARGET_ARCH_arm64``) from ``--include`` (a directory with
``bpf/bpf_helpers.h``: the wheel's ``libbpf_py/include``). ``run`` checks, in order, and raises
on the first failure (non-zero exit):

1. ``import libbpf_py`` resolves to this interpreter's site-packages, not a source tree; the
   bundled libbpf is 1.7.0; ``get_include()`` ships ``bpf/bpf_helpers.h``.
2. ``Object.open`` + a ``.rodata`` global set before load (the pid filter) + ``load()``.
3. A tracepoint (``syscalls:sys_enter_getppid``) and a uprobe on the C library's ``getppid``
   (the libc mapped into this process), attached explicitly; N calls of ``os.getppid()``.
4. Exact counts: the array map holds N and N, the ``.bss`` globals hold N and N, and the ring
   buffer delivers exactly N events, in order (seq 0..N-1), with this pid.
5. The libelf in use is the wheel's own: linked into ``_libbpf.so`` (no libelf mapped at all) or
   grafted by auditwheel (``libbpf_py.libs/``), never the system's.
6. Each tool named by ``--tools`` (``python -m libbpf_py <tool> --json``) reports the workload
   it is shown: opensnoop the exact open() of a marker file, execsnoop the exact exec of
   ``/bin/echo <marker>``, syscount exactly 1234 getppid calls of a child.

Only the standard library and libbpf_py's public API are used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path

CALLS = 1000
OBJECT = "wheel_smoke.bpf.o"

BPF_SOURCE = r"""
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;   /* .rodata: set before load */
__u64 tp_hits = 0;                      /* .bss: read from Python after the calls */
__u64 up_hits = 0;

struct event {
	__u64 seq;
	__u32 pid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void count(__u32 key)
{
	__u64 *val = bpf_map_lookup_elem(&counts, &key);

	if (val)
		__sync_fetch_and_add(val, 1);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct event *e;

	if (!mine())
		return 0;
	count(0);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->seq = tp_hits;  /* one thread calls getppid: no race on the sequence */
		e->pid = target_tgid;
		e->pad = 0;
		bpf_ringbuf_submit(e, 0);
	}
	tp_hits++;
	return 0;
}

SEC("uprobe")
int on_libc_getppid(void *ctx)
{
	if (!mine())
		return 0;
	count(1);
	up_hits++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
"""

BPF_ARCH = {"x86_64": "x86", "aarch64": "arm64", "ppc64le": "powerpc", "s390x": "s390",
            "riscv64": "riscv"}
TOOLS = ("opensnoop", "execsnoop", "syscount")


def say(msg: str) -> None:
    print(f"wheel-smoke: {msg}", flush=True)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def is_within(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


# --- compile (build host) --------------------------------------------------------------------

def asm_include(arch: str) -> list[str]:
    """-I for the target's <asm/types.h> (Debian: multiarch natively, the -cross package across)."""
    for d in (f"/usr/include/{arch}-linux-gnu", f"/usr/{arch}-linux-gnu/include"):
        if os.path.isfile(os.path.join(d, "asm", "types.h")):
            return [f"-I{d}"]
    if arch == os.uname().machine and os.path.isfile("/usr/include/asm/types.h"):
        return []
    raise SystemExit(f"wheel-smoke: no {arch} <asm/types.h> (Debian: linux-libc-dev, or "
                     f"linux-libc-dev-arm64-cross for aarch64 on another machine)")


def compile_object(arch: str, include: Path, out_dir: Path, clang: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "wheel_smoke.bpf.c"
    src.write_text(BPF_SOURCE)
    out = out_dir / OBJECT
    cmd = [clang, *asm_include(arch), "-target", "bpf", "-O2", "-g",
           f"-D__TARGET_ARCH_{BPF_ARCH.get(arch, arch)}", f"-I{include}", "-c", str(src),
           "-o", str(out)]
    say("compiling: " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    return out


# --- run (target) ----------------------------------------------------------------------------

def check_import(source_tree: Path | None):
    import libbpf_py

    pkg = Path(libbpf_py.__file__).resolve().parent
    site_dirs = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    say(f"libbpf_py {libbpf_py.__version__} imported from {pkg} by Python "
        f"{sys.version.split()[0]} on {os.uname().machine}")
    check(any(is_within(pkg, d) for d in site_dirs),
          f"libbpf_py was imported from {pkg}, not from this interpreter's site-packages "
          f"({', '.join(map(str, sorted(site_dirs)))})")
    if source_tree is not None:
        check(not is_within(pkg, source_tree),
              f"libbpf_py was imported from the source tree {source_tree}")
    check(libbpf_py.LIBBPF_VERSION == "1.7.0",
          f"LIBBPF_VERSION is {libbpf_py.LIBBPF_VERSION!r}, expected '1.7.0'")
    include = Path(libbpf_py.get_include())
    check((include / "bpf" / "bpf_helpers.h").is_file(),
          f"get_include() = {include} has no bpf/bpf_helpers.h")
    check(is_within(include, pkg), f"get_include() = {include} is outside the package {pkg}")
    say(f"bundled libbpf {libbpf_py.LIBBPF_VERSION}, headers in {include}")
    return libbpf_py, include


def mapped(substring: str) -> list[str]:
    """Paths of the files mapped into this process whose name contains ``substring``."""
    with open("/proc/self/maps") as f:
        paths = {parts[5].strip() for parts in (line.split(None, 5) for line in f)
                 if len(parts) == 6}
    return sorted(p for p in paths if substring in os.path.basename(p))


def libc_path() -> str:
    found = [p for p in mapped("libc") if p.startswith("/") and (
        os.path.basename(p).startswith(("libc.so", "libc-2.", "libc.musl")) or "ld-musl" in p)]
    check(bool(found), "no C library is mapped into this process")
    return found[0]


def check_object(libbpf_py, obj_path: Path, calls: int) -> None:
    opened = libbpf_py.Object.open(str(obj_path))
    opened.rodata.target_tgid = os.getpid()
    obj = opened.load()
    try:
        say(f"loaded {obj!r}")
        counts = obj.maps["counts"]
        check((counts[0], counts[1]) == (0, 0), f"counts before: {counts[0]}, {counts[1]}")
        check(obj.rodata.target_tgid == os.getpid(), "the .rodata pid filter did not stick")
        libc = libc_path()
        tp = obj.programs["on_getppid"].attach_tracepoint("syscalls", "sys_enter_getppid")
        up = obj.programs["on_libc_getppid"].attach_uprobe(libc, "getppid")
        say(f"attached {tp!r} and {up!r} (uprobe on {libc}:getppid)")

        seen: list[tuple[int, int]] = []

        def on_event(data: memoryview) -> None:
            seq, pid = struct.unpack_from("=QI", data)
            seen.append((seq, pid))

        with libbpf_py.RingBuffer(obj.maps.events, on_event) as rb:
            for _ in range(calls):
                os.getppid()
            rb.consume()
        got = (counts[0], counts[1], obj.bss.tp_hits, obj.bss.up_hits, len(seen))
        say(f"os.getppid() x {calls}: map counts {got[0]}/{got[1]}, globals tp_hits={got[2]} "
            f"up_hits={got[3]}, ring buffer events {got[4]}")
        check(got == (calls,) * 5, f"expected {calls} everywhere, got {got}")
        check(seen == [(i, os.getpid()) for i in range(calls)],
              f"ring buffer events out of order or of another pid: {seen[:5]}...")
        up.close()
        tp.close()
    finally:
        obj.close()

    libelf = mapped("libelf")
    say("libelf mapped: " + (", ".join(libelf) or "none (linked into _libbpf.so)"))
    check(all("/libbpf_py.libs/" in p for p in libelf),
          "a libelf from outside the wheel is loaded: " + ", ".join(libelf))


# --- the tools -------------------------------------------------------------------------------

def start_tool(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "libbpf_py", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # printed once its programs are attached
    if not line.startswith("Tracing "):
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{args[0]} did not start: {line}{err}{out}")
    return proc


def finish(tool: subprocess.Popen[str]) -> list[dict]:
    tool.send_signal(signal.SIGINT)
    out, err = tool.communicate(timeout=120)
    check(tool.returncode == 0, f"tool exited {tool.returncode}: {err}")
    return [json.loads(line) for line in out.splitlines()]


def waiting_python(code: str) -> subprocess.Popen[str]:
    """A child that runs ``code`` after a line on stdin: its pid is known before it acts."""
    child = subprocess.Popen([sys.executable, "-c", "import os, sys\n"
                              "print('ready', flush=True)\nsys.stdin.readline()\n" + code],
                             text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None
    check(child.stdout.readline() == "ready\n", "the workload child did not start")
    return child


def tool_opensnoop() -> None:
    marker = f"libbpf-py-smoke-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, marker)
        with open(path, "w"):
            pass
        child = waiting_python(f"fd = os.open({path!r}, os.O_RDONLY)\nprint(fd, flush=True)\n")
        tool = start_tool("opensnoop", "--json", "-p", str(child.pid), "-d", "300")
        fd = int(child.communicate("go\n", timeout=120)[0])
        events = finish(tool)
    mine = [(e["pid"], e["fd"], e["err"], e["path"]) for e in events if marker in e["path"]]
    check(mine == [(child.pid, fd, 0, path)], f"opensnoop: {events}")
    say(f"opensnoop: saw pid {child.pid} open {path} -> fd {fd}")


def tool_execsnoop() -> None:
    marker = f"libbpf-py-smoke-{uuid.uuid4().hex[:8]}"
    tool = start_tool("execsnoop", "--json", "-d", "300")
    echo = subprocess.run(["/bin/echo", marker], stdout=subprocess.DEVNULL, check=True)
    check(echo.returncode == 0, "echo failed")
    events = finish(tool)
    mine = [(e["args"], e["ret"], e["ppid"]) for e in events if marker in e["args"]]
    check(mine == [(["/bin/echo", marker], 0, os.getpid())], f"execsnoop: {events}")
    say(f"execsnoop: saw /bin/echo {marker}")


def tool_syscount() -> None:
    child = waiting_python("for _ in range(1234):\n    os.getppid()\n")
    tool = start_tool("syscount", "--json", "-p", str(child.pid), "-d", "300")
    child.communicate("go\n", timeout=120)
    rows = {r["syscall"]: r for r in finish(tool)}
    check(rows.get("getppid", {}).get("count") == 1234, f"syscount: {rows}")
    say(f"syscount: getppid x 1234 of pid {child.pid}")


def run(objects: Path, source_tree: Path | None, calls: int, tools: list[str]) -> None:
    if os.geteuid() != 0:
        raise SystemExit("wheel-smoke: must run as root (loads BPF programs)")
    if not os.path.isdir("/sys/kernel/tracing/events") and os.path.isdir("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=True)
    libbpf_py, _ = check_import(source_tree)
    start = time.monotonic()
    check_object(libbpf_py, objects / OBJECT, calls)
    for name in tools:
        {"opensnoop": tool_opensnoop, "execsnoop": tool_execsnoop,
         "syscount": tool_syscount}[name]()
    say(f"OK ({time.monotonic() - start:.1f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    ap.add_argument("--source-tree", type=Path, help="fail if libbpf_py is imported from here")
    ap.add_argument("--clang", default=os.environ.get("CLANG", "clang"))
    ap.add_argument("--calls", type=int, default=CALLS)
    ap.add_argument("--tools", default="", help="comma-separated: " + ",".join(TOOLS))
    c = sub.add_parser("compile", help="compile the smoke object for an architecture")
    c.add_argument("--arch", default=os.uname().machine)
    c.add_argument("--include", type=Path, required=True, help="directory with bpf/bpf_helpers.h")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--clang", default=os.environ.get("CLANG", "clang"))
    r = sub.add_parser("run", help="run the checks with a compiled object")
    r.add_argument("--objects", type=Path, required=True)
    r.add_argument("--source-tree", type=Path)
    r.add_argument("--calls", type=int, default=CALLS)
    r.add_argument("--tools", default="")
    args = ap.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        ap.error(f"unknown tools {unknown}; known: {', '.join(TOOLS)}")

    if args.cmd == "compile":
        compile_object(args.arch, args.include, args.out, args.clang)
    elif args.cmd == "run":
        run(args.objects, args.source_tree, args.calls, tools)
    else:
        if os.geteuid() != 0:
            raise SystemExit("wheel-smoke: must run as root (loads BPF programs)")
        _, include = check_import(args.source_tree)
        with tempfile.TemporaryDirectory(prefix="wheel-smoke.") as tmp:
            compile_object(os.uname().machine, include, Path(tmp), args.clang)
            run(Path(tmp), args.source_tree, args.calls, tools)
    return 0


if __name__ == "__main__":
    sys.exit(main())
