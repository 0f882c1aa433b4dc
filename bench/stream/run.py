#!/usr/bin/env python3
"""Event streaming benchmark: ring buffer and perf buffer, libbpf_py vs C libbpf and bare ctypes.

One command (root, from the repository root; about 3 minutes):

    .venv/bin/python bench/stream/run.py [--rounds 5] [--sizes 16,64,256,4096] [--write]
    .venv/bin/python bench/stream/run.py --compare before=DIR   # + DIR/libbpf_py's columns

``--compare NAME=DIR`` adds a column "X [NAME]" for every libbpf_py column X, importing
libbpf_py from DIR (a copy of the tree at another commit, with its _libbpf.so built in place):
before/after in the same run, interleaved, as ratios per round (the machine is shared: only
same-run ratios mean anything).

Builds bench/stream/.build/ (the BPF producer, the C consumers linked against the package's
_libbpf.so), then runs every column ROUNDS times as separate processes, rounds interleaved and
the order rotated every round; ratios are computed within a round, the median is reported.
The producer is the foundation benchmark's: each trigger syscall runs a tracepoint program that
emits K 64-byte events with bpf_loop (getppid: ring buffer, getpgid: perf buffer; the ring
batch columns also run at the other --sizes, K then capped to 8 MiB per trigger); a consumer
triggers, then drains, TRIGGERS times, timing both. Every process is pinned to one CPU.
``drain``: events / time spent draining; ``end to end``: events / (trigger + drain) time; both
in CPU time of the consuming thread (user + kernel: the producer runs in the trigger syscall),
because wall times on a shared 2-CPU machine swing 2x with the other jobs; ``wall end to end``:
events / wall time of the whole timed loop, for reference.
``--write`` also writes bench/stream/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = HERE / ".build"
SO = ROOT / "libbpf_py" / "_ffi" / "_libbpf.so"
INCLUDE = ROOT / "libbpf_py" / "include"
LIBBPF = ROOT / "libbpf"


NOTES = """\
### How to read this

- Producer: bench/stream/bpf/stream_bench.bpf.c (also bench/run.py's W2): a tracepoint program
  emits K events with bpf_loop per trigger syscall (getppid: ring, 64 B or the size in the
  column name; getpgid: perf, 64 B). Every column checks the sum of event.val and that the
  kernel dropped nothing.
- References in the same invocation: `c` (bench/stream/c/consumer.c: libbpf's
  ring_buffer__consume / perf_buffer__consume with a C callback reading event.val) and
  `ctypes floor` (the same libbpf calls with a bare ctypes CFUNCTYPE callback reading
  event.val with c_uint64.from_address: one C-to-Python transition per event).
- Per-event columns: the callback adds event.val to a global (memoryview: struct.unpack_from;
  typed: ``e.val`` of the event_type copy). Batch columns include the consumer's work on the
  batch (``int(arr["val"].sum())``), like the C callback's sum.
- Times are CPU time of the consuming thread (user + kernel; the producer runs in the trigger
  syscall): the machine is 2 shared CPUs, where wall times swing several-fold with the other
  jobs. Ratios are taken within a round, then the median (min-max) over the rounds; only such
  same-run ratios are comparable. ``bench/stream/callgrind.py`` gives noise-free instruction
  counts per event.
- Perf buffers with libbpf's default (`wakeup_events = 1`) pay one wakeup (a self-IPI, a VM exit
  here) per sample inside the producer: end to end is about 0.2 M events/s for everyone, C
  included. `PerfBuffer(..., wakeup_events=64)` removes most of that cost.
"""


def log(msg: str) -> None:
    print(f"[stream-bench] {msg}", file=sys.stderr, flush=True)


def build() -> tuple[Path, Path]:
    BUILD.mkdir(exist_ok=True)
    obj, exe = BUILD / "stream_bench.bpf.o", BUILD / "consumer"
    src = HERE / "bpf" / "stream_bench.bpf.c"
    if not obj.exists() or obj.stat().st_mtime < src.stat().st_mtime:
        log("compiling bpf/stream_bench.bpf.c")
        multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
        subprocess.run([os.environ.get("CLANG", "clang"), "-g", "-O2", "-target", "bpf",
                        "-D__TARGET_ARCH_x86", f"-I{INCLUDE}", f"-I{multiarch}", "-c", str(src),
                        "-o", str(obj)], check=True)
    csrc = HERE / "c" / "consumer.c"
    if not exe.exists() or exe.stat().st_mtime < max(csrc.stat().st_mtime, SO.stat().st_mtime):
        log("compiling c/consumer.c against libbpf_py/_ffi/_libbpf.so")
        subprocess.run([os.environ.get("CC", "gcc"), "-O2", "-Wall", f"-I{LIBBPF / 'src'}",
                        f"-I{LIBBPF / 'include'}", f"-I{LIBBPF / 'include' / 'uapi'}", "-o",
                        str(exe), str(csrc), str(SO), f"-Wl,-rpath,{SO.parent}"], check=True)
    return obj, exe


def columns(obj: Path, exe: Path, k: int, triggers: int, warmup: int, pages: int,
            wakeup: int, sizes: list[int],
            compare: dict[str, str]) -> dict[str, tuple[list[str], int, dict[str, str]]]:
    """name -> (command, events per trigger, extra environment)."""
    py = sys.executable
    worker = str(HERE / "py" / "worker.py")

    def args(kk: int) -> list[str]:
        return [str(kk), str(triggers), str(warmup), str(pages)]

    def ksize(size: int) -> int:
        return min(k, (8 << 20) // (size + 8))  # the ring is 16 MiB: at most half per trigger

    cols: dict[str, tuple[list[str], int, dict[str, str]]] = {}
    ours: list[tuple[str, list[str], int]] = []  # libbpf_py columns (compared with --compare)

    def c(name: str, cmd: list[str], kk: int) -> None:
        cols[name] = (cmd, kk, {})

    def lp(name: str, mode: str, kk: int, *extra: str) -> None:
        cmd = [py, worker, mode, str(obj), *args(kk), *extra]
        cols[name] = (cmd, kk, {})
        ours.append((name, cmd, kk))

    c("ring c", [str(exe), str(obj), "ring", *args(k)], k)
    c("ring ctypes floor", [py, worker, "ring:floor", str(obj), *args(k)], k)
    lp("ring callback (memoryview)", "ring:callback", k)
    lp("ring callback (typed)", "ring:typed", k)
    lp("ring read() bytes", "ring:read", k)
    for size in sizes:
        kk = ksize(size)
        tag = "" if size == 64 else f" {size} B"
        if size != 64:
            c(f"ring c{tag}", [str(exe), str(obj), "ring", *args(kk), "cpu", str(size)], kk)
        lp(f"ring read_array() numpy{tag}", "ring:read_array", kk, "1", str(size))
        lp(f"ring consume_array() zero-copy numpy{tag}", "ring:consume_array", kk, "1",
           str(size))
    c("perf c (wakeup 1)", [str(exe), str(obj), "perf", *args(k)], k)
    c("perf ctypes floor (wakeup 1)", [py, worker, "perf:floor", str(obj), *args(k)], k)
    lp("perf callback (wakeup 1)", "perf:callback", k)
    lp("perf callback (typed, wakeup 1)", "perf:typed", k)
    lp("perf read_array() (wakeup 1)", "perf:read_array", k)
    lp(f"perf callback (wakeup {wakeup})", "perf:callback", k, str(wakeup))
    lp(f"perf read_array() (wakeup {wakeup})", "perf:read_array", k, str(wakeup))
    for tag, tree in compare.items():
        for name, cmd, kk in ours:
            cols[f"{name} [{tag}]"] = (cmd, kk, {"PYTHONPATH": tree})
    return cols


def run(cmd: list[str], expect_sum: int, expect_events: int, env: dict[str, str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    cpu = sorted(os.sched_getaffinity(0))[0]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    if out.returncode:
        sys.exit(f"{cmd} failed:\n{out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["drops"] or r["events"] != expect_events or (r["sum"] and r["sum"] != expect_sum):
        sys.exit(f"{cmd}: wrong result {r} (expected {expect_events} events, sum {expect_sum})")
    return r


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    """median (min-max)"""
    return f"{med(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--k", type=int, default=4096, help="events per trigger (bpf_loop count)")
    ap.add_argument("--triggers", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--pages", type=int, default=256, help="perf buffer pages per CPU")
    ap.add_argument("--wakeup", type=int, default=64, help="batched wakeup_events")
    ap.add_argument("--sizes", default="16,64,256,4096",
                    help="ring event sizes of the batch columns (bytes: 16, 64, 256, 4096)")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                    help="also run the libbpf_py columns with libbpf_py imported from DIR")
    ap.add_argument("--only", default="", help="run only the columns whose name contains this")
    ap.add_argument("--long-events", type=int, default=100_000_000,
                    help="events of the flat-memory run (ring read_array; 0: skip)")
    ap.add_argument("--write", action="store_true", help="write bench/stream/RESULTS.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (BPF)")
    sizes = [int(x) for x in a.sizes.split(",")]
    if 64 not in sizes:
        sizes.insert(0, 64)
    compare = {}
    for item in a.compare:
        tag, _, tree = item.partition("=")
        if not (Path(tree) / "libbpf_py" / "_ffi" / "_libbpf.so").is_file():
            sys.exit(f"--compare {item}: {tree}/libbpf_py/_ffi/_libbpf.so is missing")
        compare[tag] = str(Path(tree).resolve())
    obj, exe = build()
    cols = columns(obj, exe, a.k, a.triggers, a.warmup, a.pages, a.wakeup, sizes, compare)
    if a.only:
        cols = {n: c for n, c in cols.items() if a.only in n}
    res: dict[str, list[dict]] = {c: [] for c in cols}
    names = list(cols)
    for r in range(a.rounds):
        log(f"round {r + 1}/{a.rounds}")
        rot = r % len(names)
        for name in names[rot:] + names[:rot]:
            cmd, kk, env = cols[name]
            res[name].append(run(cmd, a.triggers * kk * (kk + 1) // 2, a.triggers * kk, env))

    def drain(x: dict) -> float:
        return x["events"] / x["drain_ns"] * 1e3  # M events/s

    def e2e(x: dict) -> float:
        return x["events"] / (x["drain_ns"] + x["trigger_ns"]) * 1e3

    def wall_e2e(x: dict) -> float:
        return x["events"] / x["wall_ns"] * 1e3

    def ratios(f, col: str, ref: str) -> list[float]:
        return [f(x) / f(y) for x, y in zip(res[col], res[ref])]

    def ratio(f, col: str, ref: str) -> float:
        return med(ratios(f, col, ref))

    def c_ref(name: str) -> str:
        if name.startswith("perf"):
            return "perf c (wakeup 1)"
        for size in sizes:
            if size != 64 and f" {size} B" in name:
                return f"ring c {size} B"
        return "ring c"

    out = []
    w = a.wakeup
    for kind, floor in (("ring", "ring ctypes floor"), ("perf", "perf ctypes floor (wakeup 1)")):
        rows = []
        for name in names:
            if not name.startswith(kind):
                continue
            ref = c_ref(name)
            has = ref in res and floor in res
            rows.append([name, spread([drain(x) for x in res[name]]),
                         spread([e2e(x) for x in res[name]]),
                         f"{ratio(drain, name, floor):.2f}" if has else "-",
                         f"{ratio(drain, name, ref):.3f}" if has else "-",
                         f"{ratio(e2e, name, ref):.2f}" if has else "-",
                         f"{med([wall_e2e(x) for x in res[name]]):.2f}",
                         f"{max(x.get('rss_growth_kib', 0) for x in res[name])}"])
        if not rows:
            continue
        out.append(f"### {'Ring buffer' if kind == 'ring' else 'Perf buffer'}\n")
        out.append(table(["column", "drain M ev/s median (min-max)",
                          "end to end M ev/s median (min-max)", "drain x ctypes floor",
                          "drain x C (same size)", "end to end x C (same size)",
                          "wall end to end M ev/s", "max RSS growth KiB (timed loop)"], rows))
        out.append("")

    targets = []

    def check(label: str, f, col: str, ref: str, target: float) -> None:
        if col not in res or ref not in res:
            return
        xs = ratios(f, col, ref)
        ok = med(xs) >= target
        targets.append([label, spread(xs), f">= {target}", "met" if ok else "**missed**"])

    check("ring callback (memoryview) drain / ctypes floor drain", drain,
          "ring callback (memoryview)", "ring ctypes floor", 1.5)
    check("ring callback (typed) drain / ctypes floor drain", drain, "ring callback (typed)",
          "ring ctypes floor", 1.0)
    for size in sizes:
        tag = "" if size == 64 else f" {size} B"
        for label, col in (("read_array", f"ring read_array() numpy{tag}"),
                           ("consume_array (zero-copy)",
                            f"ring consume_array() zero-copy numpy{tag}")):
            check(f"ring {label} end to end / C end to end, {size} B", e2e, col,
                  f"ring c{tag}", 0.95)
    check("perf callback drain / ctypes floor drain (wakeup 1)", drain,
          "perf callback (wakeup 1)", "perf ctypes floor (wakeup 1)", 1.5)
    check("perf read_array drain / C drain (wakeup 1)", drain, "perf read_array() (wakeup 1)",
          "perf c (wakeup 1)", 0.5)
    check(f"perf read_array (wakeup {w}) end to end / libbpf default C (wakeup 1) end to end",
          e2e, f"perf read_array() (wakeup {w})", "perf c (wakeup 1)", 1.0)
    if targets:
        out.append("### Targets (issue 16)\n")
        out.append(table(["figure", "ratio median (min-max)", "goal", ""], targets))
        out.append("")

    for tag in compare:
        rows = []
        for name in names:
            other = f"{name} [{tag}]"
            if other not in res:
                continue
            rows.append([name, spread(ratios(drain, name, other)),
                         spread(ratios(e2e, name, other))])
        out.append(f"### This tree / [{tag}] ({compare[tag]})\n")
        out.append("Ratios of rates within each round (> 1: this tree is faster).\n")
        out.append(table(["column", "drain ratio median (min-max)",
                          "end to end ratio median (min-max)"], rows))
        out.append("")

    if a.long_events and "ring read_array() numpy" in cols:
        trig = -(-a.long_events // a.k)
        log(f"flat memory: ring read_array over {trig * a.k} events")
        cmd = cols["ring read_array() numpy"][0]
        r = run(cmd[:4] + [str(a.k), str(trig), str(a.warmup), str(a.pages)],
                trig * a.k * (a.k + 1) // 2, trig * a.k, {})
        out.append(f"Flat memory: ring read_array() over {r['events']:,} events (sum checked): "
                   f"RSS grew by {r['rss_growth_kib']} KiB during the timed loop; "
                   f"end to end {e2e(r):.2f} M ev/s.")

    cmd = ".venv/bin/python bench/stream/run.py " + " ".join(sys.argv[1:]) + "` (as root)"
    header = (f"Command: `{cmd.strip()}  \nDate: "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}  \n"
              f"Machine: {platform.node()}, Linux {platform.release()}, {os.cpu_count()} CPUs; "
              f"K = {a.k} events per trigger (fewer for 4 KiB events: 8 MiB per trigger), "
              f"{a.triggers} timed triggers per run, {a.rounds} rounds (median, min-max).\n")
    text = header + "\n" + "\n".join(out) + "\n\n" + NOTES
    print(text)
    if a.write:
        (HERE / "RESULTS.md").write_text("# bench/stream results\n\n" + text)


if __name__ == "__main__":
    main()
