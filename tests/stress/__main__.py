"""Fuzz and soak libbpf_py (root; run from tests/, against the installed package):

    cd tests && ../.venv/bin/python -m stress fuzz --cases 10000      # + --btf-cases, --value-cases
    cd tests && ../.venv/bin/python -m stress soak --cycles 10000      # + --records, --numpy
    cd tests && ../.venv/bin/python -m stress replay stress/corpus/*   # regression inputs

``fuzz`` prints the counts per family (crash / hang / unclear / clean / load) and every finding,
keeping the inputs that crashed, hung or raised an unclear error (``--keep DIR``); ``--json``
prints the whole summary as JSON. The exit status is 1 if anything crashed, hung or was unclear
(for ``soak``: if fds or RSS grew). Figures of the big runs: bench/robust/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stress", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fuzz", help="mutated objects, BTF blobs and wrong values")
    f.add_argument("--cases", type=int, default=300, help="mutated objects (default 300)")
    f.add_argument("--btf-cases", type=int, help="mutated raw BTF blobs (default cases/5)")
    f.add_argument("--value-cases", type=int, help="loaded seeds fed wrong values (cases/20)")
    f.add_argument("--seed", type=int, default=0, help="RNG seed: same seed, same inputs")
    f.add_argument("--timeout", type=float, default=20.0, help="seconds per case (a hang)")
    f.add_argument("--jobs", "-j", type=int, default=1, help="children at a time (default 1)")
    f.add_argument("--keep", type=Path, help="directory for inputs that crashed/hung/unclear")
    f.add_argument("--json", action="store_true")
    s = sub.add_parser("soak", help="open/load/attach/poll/close and buffer/map cycles")
    s.add_argument("--cycles", type=int, default=1000)
    s.add_argument("--sample", type=int, default=None, help="sample every N cycles "
                   "(default cycles/10)")
    s.add_argument("--records", type=int, default=64,
                   help="records per buffer per cycle in the records phase (1-64; default 64)")
    s.add_argument("--numpy", action="store_true", help="records phase: also read_array()")
    s.add_argument("--json", action="store_true")
    r = sub.add_parser("replay", help="run saved inputs (objects or raw BTF) in children")
    r.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args(argv)

    if args.cmd == "fuzz":
        from .fuzz import fuzz

        btf = args.btf_cases if args.btf_cases is not None else args.cases // 5
        values = args.value_cases if args.value_cases is not None else max(args.cases // 20, 1)
        summary = fuzz(args.cases, btf, values, seed=args.seed, timeout=args.timeout,
                       keep=args.keep, progress=not args.json, jobs=args.jobs)
        if args.json:
            print(json.dumps(summary, indent=1, default=repr))
        else:
            print_fuzz(summary)
        bad = sum(summary[f][o] for f in ("object", "btf", "value")
                  for o in ("crash", "hang", "unclear"))
        return 1 if bad else 0
    if args.cmd == "soak":
        from .soak import print_soak, soak

        result = soak(args.cycles, args.sample or max(args.cycles // 10, 1), args.records,
                      args.numpy)
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print_soak(result)
        return 0 if result["ok"] else 1
    from .fuzz import run_file

    bad = 0
    for path in args.files:
        res = run_file(path.read_bytes())
        errors = [e for e in res["errors"] if not e["clean"]]
        print(f"{path}: {res['outcome']} {res.get('detail', '')} "
              f"{errors[0]['type'] + ': ' + errors[0]['msg'] if errors else ''}")
        for frame in res.get("stack", []):
            print(f"  {frame}")
        bad += res["outcome"] in ("crash", "hang", "unclear")
    return 1 if bad else 0


def print_fuzz(summary: dict) -> None:
    print(f"seeds: {', '.join(summary['seeds'])}; {summary['seconds']} s, "
          f"{summary.get('jobs', 1)} at a time")
    print(f"{'family':8} {'cases':>6} {'crash':>6} {'hang':>6} {'unclear':>8} {'clean':>6} "
          f"{'load':>6} {'loaded':>7}")
    for fam in ("object", "btf", "value"):
        s = summary[fam]
        print(f"{fam:8} {s['cases']:6} {s['crash']:6} {s['hang']:6} {s['unclear']:8} "
              f"{s['clean']:6} {s['load']:6} {s['loaded']:7}")
    seen: dict[tuple, int] = {}
    for f in summary["findings"]:
        err = f["errors"][0] if f["errors"] else {}
        key = (f["outcome"], f.get("detail", ""), err.get("stage"), err.get("type"),
               err.get("where"))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 1:
            print(f"\n{f['outcome']} ({f['family']} case {f['case']}, seed {f['seed']}, "
                  f"{'+'.join(f['mutations'])}) {f.get('detail', '')} {f.get('file', '')}")
            for frame in f.get("stack", []):
                print(f"  {frame}")
            if err:
                print(f"  {err['stage']}: {err['type']}: {err['msg']} [{err['where']}]")
                print("  " + err.get("tb", "").replace("\n", "\n  ")[-1200:])
    for key, n in seen.items():
        if n > 1:
            print(f"  x{n}: {key}")


if __name__ == "__main__":
    sys.exit(main())
