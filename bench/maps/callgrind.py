#!/usr/bin/env python3
"""User-space instructions per operation of bench/maps' columns, counted by callgrind:
noise-free where the shared machine's timings are not.

    python bench/maps/callgrind.py [MODE ...] [--ops N] [--entries N] [--pkg NAME=DIR ...]

Runs ``bench/maps/py/worker.py MODE N`` under ``valgrind --tool=callgrind`` with and without
the measured part (``--setup-only``) and reports (Ir(run) - Ir(setup)) / N. Modes:
floor_lookup, floor_update (bare ctypes, bench/maps/run.py's floor), lookup, update (``--ops``
calls), items, dict, numpy, pop_all (a u32 -> u64 hash of ``--entries`` elements),
struct_items (16-byte struct key and value). The kernel's work (the syscalls) is not counted:
for single ops the time ratio is closer to 1 than the instruction ratio. ``--pkg NAME=DIR``
imports libbpf_py from DIR (default: this tree). Needs valgrind and root.
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
MODES = ["floor_lookup", "lookup", "floor_update", "update", "items", "dict", "numpy",
         "pop_all", "struct_items"]


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
    ap.add_argument("modes", nargs="*", default=MODES)
    ap.add_argument("--ops", type=int, default=10_000)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--pkg", action="append", default=[], metavar="NAME=DIR")
    a = ap.parse_args()
    pkgs = dict(p.partition("=")[::2] for p in a.pkg) or {"this": str(ROOT)}
    worker = str(HERE / "py" / "worker.py")
    print("| mode | " + " | ".join(f"{name} instr/op" for name in pkgs) + " |")
    print("|---|" + "---|" * len(pkgs))
    for mode in a.modes:
        n = a.ops if mode in ("floor_lookup", "floor_update", "lookup", "update") else a.entries
        cells = []
        for tree in pkgs.values():
            env = {**os.environ, "PYTHONPATH": tree, "PYTHONHASHSEED": "0"}
            full = instructions([sys.executable, worker, mode, str(n)], env)
            setup = instructions([sys.executable, worker, mode, str(n), "--setup-only"], env)
            cells.append(f"{(full - setup) / n:.0f}")
        print(f"| {mode} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
