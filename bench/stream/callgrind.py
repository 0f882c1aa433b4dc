#!/usr/bin/env python3
"""User-space instructions per event of one bench/stream column, counted by callgrind: noise-free
where the shared machine's timings are not.

    python bench/stream/callgrind.py MODE [--size 64] [--k 4096] [--pkg NAME=DIR ...]

Runs bench/stream/py/worker.py MODE (ring:callback, ring:typed, ring:read_array,
ring:consume_array, perf:callback, perf:typed, perf:read_array, ring:floor, perf:floor) under
``valgrind --tool=callgrind`` twice, with T1 and T2 timed triggers of K events each, and reports
(Ir(T2) - Ir(T1)) / ((T2 - T1) * K): the start-up, load and warm-up cancel out, the kernel's work
(the producer, the syscalls) is not counted. ``--pkg NAME=DIR`` measures libbpf_py imported from
DIR too (default: this tree, as ``this``). Needs valgrind and root; builds like run.py.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from run import build  # noqa: E402


def instructions(cmd: list[str], env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "cg.out"
        p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            *cmd], capture_output=True, text=True, env=env)
        if p.returncode:
            sys.exit(f"{cmd} failed:\n{p.stderr[-2000:]}")
        m = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        assert m, "no summary in the callgrind output"
        return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--t1", type=int, default=4)
    ap.add_argument("--t2", type=int, default=24)
    ap.add_argument("--pages", type=int, default=256)
    ap.add_argument("--pkg", action="append", default=[], metavar="NAME=DIR")
    a = ap.parse_args()
    obj, _ = build()
    pkgs = dict(p.partition("=")[::2] for p in a.pkg) or {"this": str(ROOT)}
    for name, tree in pkgs.items():
        env = {**os.environ, "PYTHONPATH": tree, "PYTHONHASHSEED": "0"}
        counts = []
        for t in (a.t1, a.t2):
            cmd = [sys.executable, str(HERE / "py" / "worker.py"), a.mode, str(obj), str(a.k),
                   str(t), "1", str(a.pages), "1", str(a.size)]
            counts.append(instructions(cmd, env))
        per = (counts[1] - counts[0]) / ((a.t2 - a.t1) * a.k)
        print(f"{a.mode} {a.size} B [{name}]: {per:.1f} instructions per event "
              f"({counts[0]:,} / {counts[1]:,} for {a.t1} / {a.t2} triggers of {a.k})", flush=True)


if __name__ == "__main__":
    main()
