#!/usr/bin/env python3
"""libbpf_py benchmarks W1 (cold start) and W2 (ring buffer per-event callbacks).

One command builds what is needed into bench/.build/, runs every column in the same invocation
(rounds interleaved, order rotated every round) and prints markdown tables:

    sudo .venv/bin/python bench/run.py            # from the repository root; about 1-2 minutes

Columns: ``c`` (C against a static libbpf built from libbpf/src), ``ctypes floor`` (the thinnest
ctypes calls into libbpf_py's bundled _libbpf.so, loaded with ctypes.CDLL; libbpf_py is not
imported), ``libbpf_py``, ``libbpf_py skeleton`` (W1: the same object through a skeleton
generated into bench/.build/ by ``python -m libbpf_py gen skeleton``), and interpreter
references. Ratios are computed within each round and
the median over rounds is reported. Needs root, a BPF-capable kernel with BTF, tracefs, clang,
gcc, make, libelf-dev and zlib. Not part of the test suite.

W1 also has Python peer columns, when they can run: ``pylibbpf`` (pylibbpf 0.0.6, pybind11, its
own bundled libbpf; same precompiled object) and ``bcc`` (Debian's python3-bpfcc, bcc 0.26; C
compiled at run time). They run on another interpreter than libbpf_py (``--peers-python``,
default bench/.build/peers-venv/bin/python when it exists), so compare each peer with the
``ref: peers python -c pass`` column of its own interpreter as well. A peer whose import fails
there (or whose --check fails) is left out with one logged line. Setting the peers up, from the
repository root (the project's .venv is not touched):

    sudo apt-get install -y python3-bpfcc python3-venv
    /usr/bin/python3 -m venv --system-site-packages bench/.build/peers-venv
    bench/.build/peers-venv/bin/pip install pylibbpf==0.0.6

bcc needs kernel headers: /lib/modules/$(uname -r)/build or /sys/kernel/kheaders.tar.xz
(CONFIG_IKHEADERS). When the kernel has neither, unpack Debian's headers of the nearest version
(``apt-cache search linux-headers-6``; the W1 program reads no kernel struct, so the version
does not matter) into bench/.build/kernel-headers/merged, which is then passed to bcc as
BCC_KERNEL_SOURCE (unless that is already set):

    mkdir -p bench/.build/kernel-headers && cd bench/.build/kernel-headers
    apt-get download linux-headers-6.12.111+deb12-amd64 linux-headers-6.12.111+deb12-common
    for f in *.deb; do dpkg -x "$f" .; done
    cp -a usr/src/linux-headers-*-common merged && cp -a usr/src/linux-headers-*-amd64/. merged/
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STREAM = BENCH / "stream"  # W2's producer and C consumer are bench/stream's
BUILD = BENCH / ".build"
LIBBPF_SRC = ROOT / "libbpf" / "src"
LIBBPF_SO = ROOT / "libbpf_py" / "_ffi" / "_libbpf.so"
PEERS_VENV_PYTHON = BUILD / "peers-venv" / "bin" / "python"
BCC_HEADERS = BUILD / "kernel-headers" / "merged"
BPF_INCLUDE = ROOT / "libbpf_py" / "include"
TRACEFS = Path("/sys/kernel/tracing")
BPF_ARCH = {"x86_64": "x86", "aarch64": "arm64", "s390x": "s390", "ppc64le": "powerpc",
            "riscv64": "riscv", "loongarch64": "loongarch"}.get(platform.machine(), "x86")

# ----------------------------------------------------------------------------- build


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def stale(target: Path, *sources: Path) -> bool:
    if not target.exists():
        return True
    t = target.stat().st_mtime
    return any(s.stat().st_mtime > t for s in sources)


def multiarch_include() -> list[str]:
    """-I/usr/include/<triplet> (asm/types.h for the BPF side), when the toolchain has one."""
    p = subprocess.run([os.environ.get("CC", "gcc"), "-print-multiarch"], capture_output=True,
                       text=True)
    d = Path("/usr/include") / p.stdout.strip()
    return [f"-I{d}"] if p.returncode == 0 and p.stdout.strip() and d.is_dir() else []


def build() -> dict[str, Path]:
    BUILD.mkdir(exist_ok=True)
    if not LIBBPF_SO.is_file():
        sys.exit(f"{LIBBPF_SO} is missing: build the package first "
                 "(.venv/bin/python setup.py -q build_ext --inplace)")
    if not (BPF_INCLUDE / "bpf" / "bpf_helpers.h").is_file():
        sys.exit(f"{BPF_INCLUDE} has no bpf/bpf_helpers.h: build the package first")
    out: dict[str, Path] = {}

    # Static libbpf from the same sources the package bundles (make is incremental).
    libbpf_a = BUILD / "libbpf" / "libbpf.a"
    if not libbpf_a.exists() or any(
            p.stat().st_mtime > libbpf_a.stat().st_mtime for p in LIBBPF_SRC.glob("*.[ch]")):
        log("building static libbpf from libbpf/src into .build/libbpf")
        run(["make", "-s", "-C", str(LIBBPF_SRC), "BUILD_STATIC_ONLY=1",
             f"OBJDIR={BUILD / 'libbpf'}", f"-j{os.cpu_count() or 1}"],
            stdout=subprocess.DEVNULL)

    cc = os.environ.get("CC", "gcc")
    spawnstat = BUILD / "spawnstat"
    if stale(spawnstat, BENCH / "c" / "spawnstat.c"):
        run([cc, "-O2", "-Wall", "-o", str(spawnstat), str(BENCH / "c" / "spawnstat.c")])
    out["spawnstat"] = spawnstat
    for name, src in (("coldstart", BENCH / "c" / "coldstart.c"),
                      ("consumer", STREAM / "c" / "consumer.c")):
        exe = BUILD / name
        if stale(exe, src, libbpf_a):
            log(f"compiling {src.relative_to(BENCH)}")
            run([cc, "-O2", "-Wall", f"-I{LIBBPF_SRC}", "-o", str(exe), str(src), str(libbpf_a),
                 "-lelf", "-lz"])
        out[f"c_{name}"] = exe

    clang = os.environ.get("CLANG", "clang")
    for name, src in (("coldstart", BENCH / "bpf" / "coldstart.bpf.c"),
                      ("stream_bench", STREAM / "bpf" / "stream_bench.bpf.c")):
        obj = BUILD / f"{name}.bpf.o"
        if stale(obj, src, BPF_INCLUDE / "bpf" / "bpf_helpers.h"):
            log(f"compiling {src.relative_to(BENCH)}")
            run([clang, "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{BPF_ARCH}",
                 f"-I{BPF_INCLUDE}", *multiarch_include(), "-c", str(src), "-o", str(obj)])
        out[f"bpf_{name}"] = obj
    # W1's skeleton column: generated from the same object by the libbpf_py under test (every
    # run: it must match that libbpf_py's skeleton format)
    run([sys.executable, "-m", "libbpf_py", "gen", "skeleton", str(out["bpf_coldstart"]), "-o",
         str(BUILD / "coldstart_skel.py")], env=child_env())
    out["skel_coldstart"] = BUILD
    return out


def child_env(pythonpath: Path = ROOT) -> dict[str, str]:
    """Environment of every Python child: bytecode cached (in .build, so nothing is written into
    the source tree), same PYTHONPATH for every column (a --candidate column gets its own)."""
    env = dict(os.environ)
    for var in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONPROFILEIMPORTTIME",
                "LIBBPF_LOG_LEVEL"):
        env.pop(var, None)
    env["PYTHONPYCACHEPREFIX"] = str(BUILD / "pycache")
    env["PYTHONPATH"] = str(pythonpath)
    return env


#: --candidate NAME=DIR: extra libbpf_py columns importing libbpf_py from DIR (a modified copy
#: of the package to compare against the tree's, in the same run). Column name -> its env.
CANDIDATES: dict[str, str] = {}
COLUMN_ENV: dict[str, dict[str, str]] = {}


def env_for(name: str, default: dict[str, str]) -> dict[str, str]:
    return COLUMN_ENV.get(name, default)


# ----------------------------------------------------------------------------- W1 peers

#: Peer column -> the module its script imports (checked first in the peers' interpreter).
PEER_MODULES = {"pylibbpf": "pylibbpf", "bcc": "bcc"}
PEERS_REF = "ref: peers python -c pass"


def default_peers_python() -> str | None:
    return str(PEERS_VENV_PYTHON) if PEERS_VENV_PYTHON.exists() else None


def peer_commands(b: dict[str, Path], peers_py: str) -> dict[str, list[str]]:
    return {
        "pylibbpf": [peers_py, str(BENCH / "py" / "coldstart_pylibbpf.py"),
                     str(b["bpf_coldstart"])],
        "bcc": [peers_py, str(BENCH / "py" / "coldstart_bcc.py")],
    }


def bcc_kernel_source() -> str | None:
    """BCC_KERNEL_SOURCE for the bcc column: only when bcc would find no headers by itself."""
    if os.environ.get("BCC_KERNEL_SOURCE"):
        return None  # already in the environment every column inherits
    if (Path("/lib/modules") / platform.release() / "build").is_dir() or \
            Path("/sys/kernel/kheaders.tar.xz").exists():
        return None
    return str(BCC_HEADERS) if BCC_HEADERS.is_dir() else None


def peer_env(name: str, env: dict[str, str]) -> dict[str, str]:
    kernel_source = bcc_kernel_source() if name == "bcc" else None
    return {**env, "BCC_KERNEL_SOURCE": kernel_source} if kernel_source else env


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def find_peers(b: dict[str, Path], peers_py: str | None,
               env: dict[str, str]) -> dict[str, list[str]]:
    """Peer columns whose module imports in peers_py (their env goes to COLUMN_ENV); every
    other peer is left out with one logged line."""
    if peers_py is None:
        log(f"peers left out: no --peers-python and no {PEERS_VENV_PYTHON.relative_to(ROOT)} "
            "(set-up commands: bench/run.py's docstring)")
        return {}
    if not os.access(peers_py, os.X_OK):
        log(f"peers left out: --peers-python {peers_py} is not an executable")
        return {}
    found = {}
    for name, cmd in peer_commands(b, peers_py).items():
        penv = peer_env(name, env)
        p = subprocess.run([peers_py, "-c", f"import {PEER_MODULES[name]}"], env=penv,
                           capture_output=True, text=True)
        if p.returncode:
            log(f"peer {name} left out: `import {PEER_MODULES[name]}` fails in {peers_py}: "
                f"{last_line(p.stderr)}")
            continue
        COLUMN_ENV[name] = penv
        found[name] = cmd
    return found


def check_peers(peers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Untimed --check of each peer (its program ran for its own pid); a failing peer is left
    out with one logged line (bcc fails here when it finds no kernel headers)."""
    passed = {}
    for name, cmd in peers.items():
        p = subprocess.run(cmd + ["--check"], env=COLUMN_ENV[name], capture_output=True,
                           text=True)
        if p.returncode or "check ok" not in p.stdout:
            reason = last_line(p.stderr)
            if "kernel headers" in p.stderr or "chdir(/lib/modules/" in p.stderr:
                reason = ("bcc finds no kernel headers (no /lib/modules/$(uname -r)/build, no "
                          "/sys/kernel/kheaders.tar.xz, no BCC_KERNEL_SOURCE or "
                          f"{BCC_HEADERS.relative_to(ROOT)}: see bench/run.py's docstring)")
            log(f"peer {name} left out: --check failed: {reason}")
            continue
        passed[name] = cmd
    return passed


# ----------------------------------------------------------------------------- stats helpers


def med(xs):
    return statistics.median(xs)


def fmt(x: float, digits: int = 3) -> str:
    """3 significant digits, no exponent."""
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    from math import floor, log10
    d = max(0, digits - 1 - floor(log10(abs(x))))
    return f"{x:.{d}f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def rotated(items: list, r: int) -> list:
    k = r % len(items)
    return items[k:] + items[:k]


# ----------------------------------------------------------------------------- W1 cold start

#: The column importing a skeleton generated from W1's object (bench/py/coldstart_skeleton.py).
SKELETON = "libbpf_py skeleton"
SPAWN_RE = re.compile(r"^SPAWNSTAT (.*)$", re.M)
PHASES_RE = re.compile(r"^PHASES (.*)$", re.M)


def spawn(spawnstat: Path, cmd: list[str], env: dict[str, str]) -> dict[str, int]:
    p = subprocess.run([str(spawnstat), *cmd], env=env, capture_output=True, text=True)
    m = SPAWN_RE.search(p.stdout)
    if p.returncode or not m:
        sys.exit(f"spawnstat failed for {shlex.join(cmd)}:\n{p.stdout}\n{p.stderr}")
    stat = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    if stat["status"] != 0:
        sys.exit(f"{shlex.join(cmd)} exited with {stat['status']}:\n{p.stdout}\n{p.stderr}")
    ph = PHASES_RE.search(p.stdout)
    if ph:
        stat["phases"] = {k: int(v) for k, v in (kv.split("=") for kv in ph.group(1).split())}
    return stat


def cold_columns(b: dict[str, Path], py: str, peers: dict[str, list[str]],
                 peers_py: str | None) -> dict[str, list[str]]:
    """Every W1 column; the peers (already checked) and their interpreter's reference only when
    there are any."""
    refs = {PEERS_REF: [peers_py, "-c", "pass"]} if peers and peers_py else {}
    return {
        "c": [str(b["c_coldstart"]), str(b["bpf_coldstart"])],
        "ctypes floor": [py, str(BENCH / "py" / "coldstart_ctypes.py"), str(LIBBPF_SO),
                         str(b["bpf_coldstart"])],
        "libbpf_py": [py, str(BENCH / "py" / "coldstart_libbpf_py.py"), str(b["bpf_coldstart"])],
        **{f"libbpf_py [{c}]": [py, str(BENCH / "py" / "coldstart_libbpf_py.py"),
                                str(b["bpf_coldstart"])] for c in CANDIDATES},
        SKELETON: [py, str(BENCH / "py" / "coldstart_skeleton.py"), str(b["skel_coldstart"])],
        **peers,
        "ref: python -c pass": [py, "-c", "pass"],
        "ref: python -c 'import ctypes'": [py, "-c", "import ctypes"],
        "ref: python -c 'import libbpf_py'": [py, "-c", "import libbpf_py"],
        **refs,
    }


def sanity_checks(b: dict[str, Path], py: str, env: dict[str, str],
                  peers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Untimed: each implementation's program really runs (config <- own pid, getppid()).
    Returns the peers that pass (a failing peer is left out, a failing own column exits)."""
    for cmd in ([str(b["c_coldstart"]), str(b["bpf_coldstart"]), "--check"],
                [py, str(BENCH / "py" / "coldstart_libbpf_py.py"), str(b["bpf_coldstart"]),
                 "--check"],
                [py, str(BENCH / "py" / "coldstart_skeleton.py"), str(b["skel_coldstart"]),
                 "--check"]):
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode or "check ok" not in p.stdout:
            sys.exit(f"sanity check failed: {shlex.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return check_peers(peers)


def bench_cold(b, py, env, rounds: int, phase_rounds: int, peers: dict[str, list[str]],
               peers_py: str | None) -> str:
    cols = cold_columns(b, py, peers, peers_py)
    names = list(cols)
    log(f"W1 cold start: {len(names)} columns x ({rounds} rounds + 1 warm-up)")
    for name in names:  # warm-up: fills the bytecode cache and the page cache
        spawn(b["spawnstat"], cols[name], env_for(name, env))
    res: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        for name in rotated(names, r):
            res[name].append(spawn(b["spawnstat"], cols[name], env_for(name, env)))

    def cpu(s):
        return (s["utime_us"] + s["stime_us"]) / 1000

    def rss(s):
        return s["maxrss_kb"] / 1024

    def wall(s):
        return s["wall_ns"] / 1e6

    rows = []
    for name in names:
        rs = res[name]

        def ratio(f, ref):
            return fmt(med([f(a) / f(c) for a, c in zip(rs, res[ref])]), 3)

        rows.append([
            name, str(len(rs)),
            f"{fmt(med(map(wall, rs)))} ({fmt(min(map(wall, rs)))})",
            f"{fmt(med(map(cpu, rs)))} ({fmt(min(map(cpu, rs)))})",
            f"{fmt(med(s['utime_us'] for s in rs) / 1000)} / "
            f"{fmt(med(s['stime_us'] for s in rs) / 1000)}",
            fmt(med(map(rss, rs))),
            ratio(cpu, "c"), ratio(rss, "c"),
            ratio(cpu, "ctypes floor"), ratio(rss, "ctypes floor"), ratio(wall, "ctypes floor"),
        ])
    out = [table(["implementation", "runs", "wall ms median (min)", "CPU user+sys ms median (min)",
                  "user / sys ms", "peak RSS MiB", "CPU x C", "RSS x C", "CPU x floor",
                  "RSS x floor", "wall x floor"], rows)]

    out.append("")
    out.append("Per process, from wait4() of a tiny C launcher (`c/spawnstat.c`), median over "
               f"{rounds} rounds (columns interleaved, order rotated each round); ratios are "
               "per round, then the median. Only user+sys is exact: the kernel splits it into "
               "user and sys by tick sampling, so a ~10 ms process may show 0 sys. Wall time "
               "includes the kernel's RCU wait when the tracepoint link is destroyed (tens of ms, "
               "every BPF column alike): compare CPU.")
    out.append("")
    for col in ["libbpf_py", *(f"libbpf_py [{c}]" for c in CANDIDATES)]:
        lb, fl = res[col], res["ctypes floor"]
        cpu_ratio = med([cpu(a) / cpu(c) for a, c in zip(lb, fl)])
        rss_ratio = med([rss(a) / rss(c) for a, c in zip(lb, fl)])
        out.append(f"Targets ({col} vs ctypes floor): CPU {fmt(cpu_ratio)}x (target <= 1.3x): "
                   f"**{'met' if cpu_ratio <= 1.3 else 'MISSED'}**; peak RSS {fmt(rss_ratio)}x "
                   f"(target <= 1.2x): **{'met' if rss_ratio <= 1.2 else 'MISSED'}**.  ")
    sk, lb = res[SKELETON], res["libbpf_py"]
    sk_ratio = med([cpu(a) / cpu(c) for a, c in zip(sk, lb)])
    out.append(f"Skeleton (issue 15: import a generated skeleton + load through it vs "
               f"`libbpf_py.load()` of the same object): CPU {fmt(sk_ratio)}x, "
               f"{med([cpu(a) - cpu(c) for a, c in zip(sk, lb)]):+.2f} ms per run (median of "
               f"per-round differences); peak RSS "
               f"{fmt(med([rss(a) / rss(c) for a, c in zip(sk, lb)]))}x.  ")
    out += [peer_summary(name, res, cpu, rss) for name in peers]

    # Phase breakdown: CPU time (process clock) between checkpoints inside each process.
    pcols = {n: cols[n] + ["--phases"] for n in ("c", "ctypes floor", "libbpf_py", SKELETON)}
    pcols.update({n: cols[n] + ["--phases"] for n in cols if n.startswith("libbpf_py [")})
    pcols.update({n: cols[n] + ["--phases"] for n in peers})
    log(f"W1 phases: {len(pcols)} columns x {phase_rounds} rounds")
    pres: dict[str, list[dict]] = {n: [] for n in pcols}
    for r in range(phase_rounds):
        for name in rotated(list(pcols), r):
            pres[name].append(spawn(b["spawnstat"], pcols[name], env_for(name, env)))
    phases = ["startup", "import", "open", "load", "attach", "close"]
    label = {"startup": "before first line (interpreter / ld.so)",
             "rest": "after last line (exit, finalizers)", "total": "total (rusage)",
             "import": "import (+ dlopen, argtypes)", "open": "open (bpf_object__open_file)",
             "load": "load (BTF, CO-RE, verifier)", "attach": "attach",
             "close": "detach + close"}
    prow = []
    meds = {n: {p: med(s["phases"].get(p, 0) for s in pres[n]) / 1000 for p in phases}
            for n in pcols}
    for n in pcols:
        for s in pres[n]:
            s["phases"]["rest"] = (s["utime_us"] + s["stime_us"]) - sum(
                s["phases"].get(p, 0) for p in phases)
        meds[n]["rest"] = med(s["phases"]["rest"] for s in pres[n]) / 1000
        meds[n]["total"] = med(cpu(s) for s in pres[n])
    own = [n for n in pcols if n not in peers]
    for p in phases + ["rest", "total"]:
        prow.append([label[p]] + [fmt(meds[n][p]) for n in own]
                    + [f"{meds['libbpf_py'][p] - meds['ctypes floor'][p]:+.1f}"]
                    + [fmt(meds[n][p]) for n in peers])
    out.append("")
    out.append(f"CPU ms per phase (process CPU clock between checkpoints in each process, median "
               f"of {phase_rounds}; the checkpoints sit at the top of the script, after the "
               "imports, and after each call):")
    out.append("")
    out.append(table(["phase", *own, "libbpf_py - floor", *peers], prow))
    if peers:
        out += ["", PEER_PHASES_NOTE]
    return "\n".join(out)


PEER_PHASES_NOTE = (
    "Peers' phases: pylibbpf open = `BpfObject(path)`, which only records the path, load = "
    "`.load()`, which opens and loads (so compare open + load), attach = "
    "`.get_program(name).attach()`, close = `.detach()` + dropping the object (no close()); bcc "
    "does everything in `BPF(text=...)`, split by checkpoints inside it: open = compile the C "
    "text (clang/LLVM) + create the maps, load = load the function, attach = attach the "
    "tracepoint, close = `cleanup()`. The peers run on their own interpreter (see "
    "`ref: peers python -c pass`), so their startup differs from libbpf_py's.")


def peer_summary(name: str, res: dict[str, list[dict]], cpu: Callable[[dict], float],
                 rss: Callable[[dict], float]) -> str:
    """A peer vs libbpf_py, raw and over each one's own interpreter start-up (per round)."""
    peer, ours = res[name], res["libbpf_py"]
    peer_ref, our_ref = res[PEERS_REF], res["ref: python -c pass"]

    def ratio(f: Callable[[dict], float]) -> float:
        return med([f(a) / f(c) for a, c in zip(peer, ours)])

    def added(f: Callable[[dict], float], runs: list[dict], refs: list[dict]) -> float:
        return med([f(a) - f(c) for a, c in zip(runs, refs)])

    peer_cpu, our_cpu = added(cpu, peer, peer_ref), added(cpu, ours, our_ref)
    peer_rss, our_rss = added(rss, peer, peer_ref), added(rss, ours, our_ref)
    return (f"Peer {name} vs libbpf_py: CPU {fmt(ratio(cpu))}x, peak RSS {fmt(ratio(rss))}x; "
            f"over each one's own `python -c pass`: CPU +{fmt(peer_cpu)} vs +{fmt(our_cpu)} ms "
            f"({fmt(peer_cpu / our_cpu)}x), peak RSS +{fmt(peer_rss)} vs +{fmt(our_rss)} MiB "
            f"({fmt(peer_rss / our_rss)}x).  ")


# ----------------------------------------------------------------------------- import profile

IMPORTTIME_RE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def importtime(py: str, stmt: str, env: dict[str, str]) -> list[tuple[int, int, int, str]]:
    p = subprocess.run([py, "-X", "importtime", "-c", stmt], env=env, capture_output=True,
                       text=True, check=True)
    rows = []
    for line in p.stderr.splitlines():
        m = IMPORTTIME_RE.match(line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    return rows


def bench_imports(py: str, env: dict[str, str], rounds: int) -> str:
    """Which modules `import libbpf_py` adds over `import ctypes`, and who pulls them in."""
    log(f"import profile: {rounds} rounds of python -X importtime")
    base = {r[3] for r in importtime(py, "import ctypes", env)}
    selfs: dict[str, list[int]] = {}
    owner: dict[str, str] = {}
    for _ in range(rounds):
        rows = importtime(py, "import libbpf_py", env)
        # Output is post-order (children first); a module's parent is the next line that is
        # less indented. Attribute each module to its nearest libbpf_py.* ancestor.
        for i, (self_us, _cum, depth, mod) in enumerate(rows):
            selfs.setdefault(mod, []).append(self_us)
            if mod in owner:
                continue
            anc, d = None, depth
            for _s, _c, d2, m2 in rows[i + 1:]:
                if d2 < d:
                    d = d2
                    if m2.startswith("libbpf_py") and anc is None:
                        anc = m2
                if d2 == 0:
                    break
            owner[mod] = mod if mod.startswith("libbpf_py") else (anc or "(top)")
    new = [m for m in selfs if m not in base]
    by_owner: dict[str, list[str]] = {}
    for m in new:
        by_owner.setdefault(owner[m], []).append(m)
    rows_out = []
    total = 0.0
    for own, mods in by_owner.items():
        own_us = med(selfs[own]) / 1000 if own in selfs else 0
        std = sorted(((med(selfs[m]) / 1000, m) for m in mods if m != own), reverse=True)
        std_ms = sum(x for x, _ in std)
        total += own_us + std_ms
        rows_out.append((own_us + std_ms, [
            own, fmt(own_us), fmt(std_ms) if std else "0",
            ", ".join(f"{m} {fmt(x, 2)}" for x, m in std if x >= 0.1) or "-"]))
    rows_out.sort(key=lambda r: r[0], reverse=True)
    lines = [f"`import libbpf_py` over `import ctypes`: self time (ms, median of {rounds}, "
             "`-X importtime`, which adds its own overhead) of each module it adds, grouped "
             "under the libbpf_py module that imports it first:", "",
             table(["libbpf_py module", "own ms", "stdlib it pulls in, ms",
                    "largest stdlib modules (ms)"], [r[1] for r in rows_out]),
             "", f"Total added: {fmt(total)} ms in {len(new)} modules."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- W2 ring buffer


def ring_columns(b: dict[str, Path], py: str, k: int, triggers: int,
                 warmup: int) -> dict[str, list[str]]:
    args = [str(k), str(triggers), str(warmup)]
    obj = str(b["bpf_stream_bench"])
    return {
        # PAGES 0 (perf only); `wall`: times on CLOCK_MONOTONIC, like the Python columns'
        "c": [str(b["c_consumer"]), obj, "ring", *args, "0", "wall"],
        "ctypes floor": [py, str(BENCH / "py" / "ringbuf_ctypes.py"), str(LIBBPF_SO), obj, *args,
                         "from_address"],
        "libbpf_py (unpack_from)": [py, str(BENCH / "py" / "ringbuf_libbpf_py.py"), obj, *args,
                                    "unpack"],
        "libbpf_py (int.from_bytes)": [py, str(BENCH / "py" / "ringbuf_libbpf_py.py"), obj,
                                       *args, "from_bytes"],
        **{f"libbpf_py [{c}] (unpack_from)": [py, str(BENCH / "py" / "ringbuf_libbpf_py.py"), obj,
                                              *args, "unpack"] for c in CANDIDATES},
    }


def bench_ring(b, py, env, rounds: int, k: int, triggers: int, warmup: int) -> str:
    cols = ring_columns(b, py, k, triggers, warmup)
    names = list(cols)
    n_expected = k * triggers
    sum_expected = triggers * k * (k + 1) // 2
    log(f"W2 ring buffer: {len(names)} columns x {rounds} rounds, "
        f"{triggers} triggers x {k} events")
    res: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        for name in rotated(names, r):
            p = subprocess.run(cols[name], env=env_for(name, env), capture_output=True,
                               text=True)
            if p.returncode:
                sys.exit(f"{name} failed:\n{p.stdout}\n{p.stderr}")
            d = json.loads(p.stdout.strip().splitlines()[-1])
            d["ok"] = d["events"] == n_expected and d["sum"] == sum_expected
            d["drain"] = d["events"] / (d["drain_ns"] / 1e9) / 1e6
            d["e2e"] = d["events"] / ((d["drain_ns"] + d["trigger_ns"]) / 1e9) / 1e6
            res[name].append(d)
    rows = []
    for name in names:
        rs = res[name]

        def cost(key, ref):
            return fmt(med([c[key] / a[key] for a, c in zip(rs, res[ref])]))

        rows.append([
            name, str(len(rs)),
            f"{fmt(med(d['drain'] for d in rs))} ({fmt(max(d['drain'] for d in rs))})",
            fmt(med(d["drain_ns"] / d["events"] for d in rs)),
            f"{fmt(med(d['e2e'] for d in rs))} ({fmt(max(d['e2e'] for d in rs))})",
            fmt(med(d["trigger_ns"] / d["events"] for d in rs)),
            cost("drain", "c"), cost("e2e", "c"),
            cost("drain", "ctypes floor"), cost("e2e", "ctypes floor"),
            str(sum(d["drops"] for d in rs)),
            "yes" if all(d["ok"] for d in rs) else "**NO**",
        ])
    head = (f"{triggers} triggers x K={k} events of 64 B per run (+{warmup} untimed warm-up "
            f"triggers), one consume() per trigger; drain = events / time inside consume(); "
            f"e2e = events / (trigger + consume); producer = kernel time per event inside the "
            f"triggering getppid(). Rates in million events/s; cost x = rate of the reference / "
            f"rate, per round, median.")
    return head + "\n\n" + table(
        ["implementation", "runs", "drain M ev/s median (best)", "drain ns/ev",
         "e2e M ev/s median (best)", "producer ns/ev", "drain cost x C", "e2e cost x C",
         "drain cost x floor", "e2e cost x floor", "drops", "events & sum ok"], rows)


def bench_ring_ab(py, env, obj: Path, k: int, cycles: int) -> str:
    log(f"W2 wrapper A/B: {cycles} cycles in one process")
    p = subprocess.run([py, str(BENCH / "py" / "ringbuf_wrapper_ab.py"), str(obj), str(k),
                        str(cycles)], env=env, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"ringbuf_wrapper_ab.py failed:\n{p.stdout}\n{p.stderr}")
    what = {
        "libbpf_py": "libbpf_py `RingBuffer(map, cb).consume()` (public API, as in the table above)",
        "floor": "floor: raw CFUNCTYPE, `c_uint64.from_address(data + 8).value`",
        "cached-type": "candidate: libbpf_py's wrapper with the `c_char * size` type cached",
        "ring-view": "candidate: slice of one memoryview over the whole ring, released after "
                     "the call",
        "ring-view-lean": "candidate: same slice, not released, no per-event counter",
    }
    rows = []
    for line in p.stdout.splitlines():
        d = json.loads(line)
        rows.append([what.get(d["variant"], d["variant"]), str(d["cycles"]),
                     fmt(d["ns_median"]), fmt(d["ns_min"]), fmt(d["x_floor"]),
                     "yes" if d["sum_ok"] and d["drops"] == 0 else "**NO**"])
    return (f"Per-event wrapper cost, A/B in one process (`py/ringbuf_wrapper_ab.py`): "
            f"several ring_buffer managers on the same map, used in turn, one per trigger of "
            f"K={k} events, {cycles} triggers each; every libbpf_py/candidate callback is "
            f"`total += unpack_from(data, 8)[0]` on the memoryview it gets. x floor = per-cycle "
            f"ratio, median.\n\n"
            + table(["variant", "triggers", "drain ns/ev median", "min", "x floor",
                     "sum ok"], rows))


def package_state() -> str:
    """Which libbpf_py was measured: git HEAD, and a hash of the package's .py files (the tree
    may carry uncommitted changes)."""
    import hashlib
    h = hashlib.sha256()
    for f in sorted((ROOT / "libbpf_py").rglob("*.py")):
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "libbpf_py"],
                           capture_output=True, text=True).stdout.strip()
    return (f"- libbpf_py measured: git HEAD `{head}`"
            f"{', with uncommitted changes in libbpf_py/' if dirty else ''}; "
            f"sha256 of libbpf_py/**/*.py: `{h.hexdigest()[:16]}`")


# ----------------------------------------------------------------------------- main


def peers_note(peers: dict[str, list[str]], peers_py: str | None) -> list[str]:
    """The peers' interpreter and package versions (and bcc's kernel headers), if any peer."""
    if not peers or not peers_py:
        return []
    probe = ("import sys, importlib.metadata as m; print(sys.version.split()[0], *(n + ' ' + "
             f"m.version(n) for n in {list(peers)!r}))")
    versions = subprocess.run([peers_py, "-c", probe], capture_output=True,
                              text=True).stdout.strip()
    headers = COLUMN_ENV.get("bcc", {}).get("BCC_KERNEL_SOURCE")
    return [f"- Python peers (W1): `{peers_py}` (Python {versions}), another interpreter than "
            "libbpf_py's: compare with `ref: peers python -c pass`"
            + (f"; bcc's kernel headers: BCC_KERNEL_SOURCE={headers}" if headers else "")]


def machine_notes(py: str, peers: dict[str, list[str]], peers_py: str | None) -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    pyver = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0], 'with "
                            "libpython shared' if any('libpython' in l for l in "
                            "open('/proc/self/maps')) else 'with libpython static')"],
                           capture_output=True, text=True).stdout.strip()
    clang = subprocess.run([os.environ.get("CLANG", "clang"), "--version"], capture_output=True,
                           text=True).stdout.splitlines()[0]
    gcc = subprocess.run([os.environ.get("CC", "gcc"), "--version"], capture_output=True,
                         text=True).stdout.splitlines()[0]
    return "\n".join([
        f"- kernel {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {mem} RAM",
        f"- Python for libbpf_py, the floor and the refs: `{py}` ({pyver})",
        *peers_note(peers, peers_py),
        f"- libbpf: libbpf/src ({(LIBBPF_SRC.parent / 'CHECK-VERSION.txt').read_text().strip() if (LIBBPF_SRC.parent / 'CHECK-VERSION.txt').exists() else 'v1.7.0'}); "
        "C columns link it statically (`make -C libbpf/src BUILD_STATIC_ONLY=1`, libbpf's "
        "default -g -O2), the Python columns use libbpf_py/_ffi/_libbpf.so",
        f"- {clang}; {gcc}",
        package_state(),
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the libbpf_py, floor and ref columns (default: this "
                         "one)")
    ap.add_argument("--peers-python", default=default_peers_python(), metavar="PATH",
                    help="interpreter for the W1 peer columns pylibbpf and bcc (default: "
                         "bench/.build/peers-venv/bin/python if it exists; set-up in the module "
                         "docstring)")
    ap.add_argument("--only", choices=("cold", "ring"), help="run one workload only")
    ap.add_argument("--candidate", action="append", default=[], metavar="NAME=DIR",
                    help="add libbpf_py columns importing libbpf_py from DIR (DIR/libbpf_py/ is "
                         "a modified copy of the package, with its _ffi/_libbpf.so), to compare "
                         "a change with the tree in the same run; repeatable")
    ap.add_argument("--cold-rounds", type=int, default=15)
    ap.add_argument("--phase-rounds", type=int, default=9)
    ap.add_argument("--import-rounds", type=int, default=7)
    ap.add_argument("--ring-rounds", type=int, default=9)
    ap.add_argument("--ab-cycles", type=int, default=100,
                    help="triggers per variant in the in-process wrapper A/B")
    ap.add_argument("--k", type=int, default=4096, help="events per trigger (bpf_loop count)")
    ap.add_argument("--triggers", type=int, default=64, help="timed triggers per ring run")
    ap.add_argument("--warmup", type=int, default=8, help="untimed triggers per ring run")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("run as root (sudo): the benchmarks load and attach BPF programs")
    if not (TRACEFS / "events").is_dir():
        log("mounting tracefs on /sys/kernel/tracing")
        run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)])
    if not Path("/sys/kernel/btf/vmlinux").exists():
        sys.exit("no /sys/kernel/btf/vmlinux: the CO-RE cold-start program needs kernel BTF")
    py = shutil.which(args.python) or args.python
    started = time.time()
    b = build()
    env = child_env()
    for spec in args.candidate:
        name, sep, where = spec.partition("=")
        where_p = Path(where).resolve()
        if not sep or not (where_p / "libbpf_py" / "_ffi" / "_libbpf.so").is_file():
            sys.exit(f"--candidate {spec}: expected NAME=DIR with DIR/libbpf_py/_ffi/_libbpf.so")
        CANDIDATES[name] = str(where_p)
        for col in (f"libbpf_py [{name}]", f"libbpf_py [{name}] (unpack_from)"):
            COLUMN_ENV[col] = child_env(where_p)
    peers_py = (shutil.which(args.peers_python) or args.peers_python) if args.peers_python \
        else None
    peers = find_peers(b, peers_py, env) if args.only in (None, "cold") else {}
    peers = sanity_checks(b, py, env, peers)

    cmd = "sudo " + shlex.join([os.path.relpath(sys.executable, ROOT) if
                                sys.executable.startswith(str(ROOT)) else sys.executable,
                                os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    parts = [f"Command (from the repository root): `{cmd}`",
             f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             machine_notes(py, peers, peers_py)]
    if args.only in (None, "cold"):
        parts += ["", "### W1 cold start (import + open + load + attach + detach + close + exit)",
                  "", bench_cold(b, py, env, args.cold_rounds, args.phase_rounds, peers,
                                 peers_py), "",
                  bench_imports(py, env, args.import_rounds)]
    if args.only in (None, "ring"):
        parts += ["", "### W2 ring buffer, per-event callback (BPF_MAP_TYPE_RINGBUF, 16 MiB)", "",
                  bench_ring(b, py, env, args.ring_rounds, args.k, args.triggers, args.warmup),
                  "", bench_ring_ab(py, env, b["bpf_stream_bench"], args.k, args.ab_cycles)]
    parts += ["", f"Run time: {time.time() - started:.0f} s."]
    text = "\n".join(parts) + "\n"
    (BUILD / "last-run.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
