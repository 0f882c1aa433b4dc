"""Write docs/kernels.md from the last kernel matrix run (scripts/vmtest.sh --kernel all).

    python3 scripts/vm/kernels_md.py [RESULTS_DIR] [--rerun DIR]... [-o docs/kernels.md]

RESULTS_DIR (default .vmtest/results) has one directory per kernel series with what the guest
wrote: features.json (``python -m libbpf_py features --json``), junit.xml (pytest), release,
status; its ``host`` directory (scripts/vmtest.sh --kernel host) the same for the development
machine's own kernel. A ``--rerun DIR`` of the same layout holds a later run of some tests (after
a fix): their outcomes replace the first run's, its features report replaces the first. A feature's cell says what that kernel's run measured:
"pass" (probed present, every test that needs it passed), "probed missing" (the probe found it
absent: its tests skipped), "fail" (a test that needs it failed), "yes" (present, no test in
that run needs it). Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import xml.etree.ElementTree as ET

ORDER = ["5.10", "6.1", "6.12", "7", "host"]
TITLES = {"7": "7.x"}


def meanings() -> dict[str, str]:
    """libbpf_py.features.DESCRIPTIONS (feature -> what it gives a user), read from the source
    without importing the package (it needs its built library)."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "libbpf_py",
                       "features.py")
    with open(src) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "DESCRIPTIONS":
            return ast.literal_eval(node.value)
    raise SystemExit(f"kernels_md: no DESCRIPTIONS in {src}")


MEANING = meanings()


def load_run(d: str) -> dict:
    run: dict = {"features": {}, "cases": {}, "release": "?", "status": "missing"}
    try:
        with open(os.path.join(d, "features.json")) as f:
            report = json.load(f)
        run["features"] = report["features"]
        run["kernel"] = report.get("kernel")
    except (OSError, ValueError, KeyError):
        pass
    for name in ("release", "status"):
        try:
            with open(os.path.join(d, name)) as f:
                run[name] = f.read().strip()
        except OSError:
            pass
    try:
        root = ET.parse(os.path.join(d, "junit.xml")).getroot()
    except (OSError, ET.ParseError):
        return run
    for case in root.iter("testcase"):
        needs = [p.get("value") for p in case.iter("property") if p.get("name") == "kernel_feature"]
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "fail"
        elif case.find("skipped") is not None:
            outcome = "skip"
        else:
            outcome = "pass"
        run["cases"][(case.get("classname"), case.get("name"))] = (needs, outcome)
    return run


def rerun(run: dict, again: dict) -> None:
    """A later run of some tests on the same kernel (a rerun after a fix): its outcomes replace
    those tests' outcomes, its features report the whole run's; the run passed if no test fails."""
    if again["features"]:
        run["features"], run["kernel"] = again["features"], again.get("kernel")
    run["cases"].update(again["cases"])
    run["status"] = "0" if all(o != "fail" for _, o in run["cases"].values()) else "1"


def summarize(run: dict) -> None:
    """Per feature, the outcomes of the tests that need it; the pass/fail/skip counts."""
    run["tests"] = {}
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for needs, outcome in run["cases"].values():
        counts[outcome] += 1
        for feature in needs:
            run["tests"].setdefault(feature, []).append(outcome)
    run["counts"] = (counts["pass"], counts["fail"], counts["skip"]) if run["cases"] else None


def cell(run: dict, feature: str) -> str:
    if feature not in run["features"]:  # no run, or a run older than the probe
        return "not run"
    if not run["features"][feature]:
        return "probed missing"
    outcomes = run["tests"].get(feature, [])
    if "fail" in outcomes:
        return "**fail**"
    if "pass" in outcomes:
        return "pass"
    return "yes"


def render(runs: dict[str, dict], command: str) -> str:
    cols = [s for s in ORDER if s in runs]
    head = ["feature (libbpf_py.features)", "what it gives"] + [
        f"{TITLES.get(s, s)} ({runs[s]['release']})" if s != "host" else
        f"host ({runs[s].get('kernel') or runs[s]['release']})" for s in cols]
    names = list(MEANING) + sorted({f for r in runs.values() for f in r["features"]} - set(MEANING))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        lines.append("| " + " | ".join([f"`{name}`", MEANING.get(name, "")]
                                       + [cell(runs[s], name) for s in cols]) + " |")
    totals = []
    for s in cols:
        c = runs[s]["counts"]
        status = runs[s]["status"]
        verdict = "passed" if status == "0" else ("not run" if status == "missing"
                                                   else f"failed ({status})")
        totals.append(f"- {TITLES.get(s, s)} ({runs[s]['release']}): {verdict}"
                      + (f", {c[0]} passed, {c[1]} failed, {c[2]} skipped" if c else ""))
    return TEMPLATE.format(table="\n".join(lines), totals="\n".join(totals), command=command,
                           ci_time=CI_TIME)


TEMPLATE = """# Kernels

libbpf_py runs the same compiled BPF objects on every kernel with BTF (CO-RE), and the project
proves it: `scripts/vmtest.sh` boots Debian's own kernels in VMs (qemu) and runs the test suite
inside each against the same installed package. This page is written by
`scripts/vm/kernels_md.py` from the last such run; do not edit the table by hand.

Which rows your kernel has: `python -m libbpf_py features` (as root) answers for the running
kernel with the same probes.

## Feature x kernel, as measured

"pass": the kernel has it and every test that needs it passed there; "probed missing": the probe
found it absent (its tests skipped, the library raises a clear error or falls back); "yes": present,
and no test of that run needs it; "**fail**": a test that needs it failed.

{table}

The runs (`{command}`):

{totals}

## The oldest supported kernel: 5.10

5.10 (Debian 11) is the oldest kernel the project tests and supports; everything needs kernel BTF
(`CONFIG_DEBUG_INFO_BTF`, which every Debian kernel since 11 has). What degrades there, as the
table shows: no cookies (`bpf_get_attach_cookie` arrived in 5.15; raw_tp cookies in 6.10,
fentry cookies in 5.19), no kprobe.multi (5.18) or uprobe.multi (6.6), no user ring buffer (6.1),
no `cgrp_storage` (6.2), no arenas (6.9), no TCX/netkit (6.6), no netfilter programs (6.4).
Tests and tools probe these (`libbpf_py.features`) instead of comparing version numbers; the
built-in tools fall back or say which hook is missing.

Privileges differ there too (docs/privileges.md): before 5.11 maps and programs are charged to
RLIMIT_MEMLOCK (`memcg_accounting`), which libbpf raises only with CAP_SYS_RESOURCE, and a
refused load says so; 5.10's verifier takes a packet bounds check only from a process with
CAP_PERFMON (`packet_checks_without_perfmon`: an XDP program with CAP_BPF + CAP_NET_ADMIN alone
gets a `VerifierPermissionError` naming it). On every Debian kernel, at Debian's default
`kernel.perf_event_paranoid=3`, perf events (tracepoint, kprobe, uprobe attachments) open for
CAP_SYS_ADMIN only, not CAP_PERFMON (`perf_event_perfmon`).

## Kernels and functions that change

Kernels rename and inline functions: on 7.2, `do_unlinkat` is `filename_unlinkat`. An
fentry program on a function the kernel lacks fails at load, a kprobe at attach, with an error
that names the function and the program. Pick the target before load, as libbpf-tools do:

```python
from libbpf_py import features

target = next((f for f in ("do_unlinkat", "filename_unlinkat") if features.fentry(f)), None)
# then: open_obj.programs["on_unlink"].set_attach_target(target) before load()
```

`features.kernel_function(name)` answers the same for kprobes, `features.tracepoint(category,
name)` and `features.tp_btf(name)` for tracepoints.

## Running the matrix

```
bash scripts/vmtest.sh --kernel all            # 5.10, 6.1, 6.12 and the newest 7.x
bash scripts/vmtest.sh --kernel all --jobs 2   # two guests at a time
bash scripts/vmtest.sh --kernel 7 -- test_attach_kprobe.py -k multi
python3 scripts/vm/kernels_md.py                # rewrite this page from .vmtest/results
```

How it works: `scripts/vm/kernel.sh` fetches a kernel package of the series from Debian's
archive (a private apt configuration; unpacked into `~/.cache/libbpf_py/vm`, never installed);
a small static init (`scripts/vm/init.c`) in a generated initramfs mounts the host's root
read-only over 9p, and `scripts/vm/guest.sh` mounts tracefs, debugfs, securityfs, bpffs, cgroup2
and tmpfs scratch directories (`bpf` is in the kernel's LSM list) and runs pytest in `tests/`
against the same `.venv` and compiled test objects, as root with `CI=true` (strict: a skip only
for a probed-missing feature). qemu uses KVM when a short boot check passes and TCG otherwise
(nested VMs: slow, about 20 times). `--jobs N` boots N kernels at once (`--ci` boots its two
together); a guest never outlives the command (`--timeout`, Ctrl-C; the console's tail is printed
when it fails). `--kernel host` runs the same selection natively, for the table's host column.
Don't reinstall `.venv` while a run is going: the guest uses it live (run a copy of the checkout instead).

## In CI

`scripts/test.sh` (what `.ci/run` runs) ends with `bash scripts/vmtest.sh --ci`: the CI
selection (every attach kind, the tools, ring/perf buffers, globals, maps, arenas, tokens) on
5.10 and the newest 7.x, both guests at once. On the 2-core development machine (TCG, shared with
other work) that step took {ci_time}. `LIBBPF_PY_VM_CI=0` leaves it out.
"""

CI_TIME = ("about 21 minutes warm (5.10: 1249 s, 7.2: 713 s, concurrently, 2026-12-05) and "
           "about 2.5 minutes more cold (downloading and unpacking both kernels: 143 s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=".vmtest/results")
    ap.add_argument("-o", "--output", default="docs/kernels.md")
    ap.add_argument("--command", default="bash scripts/vmtest.sh --kernel all")
    ap.add_argument("--rerun", action="append", default=[], metavar="DIR",
                    help="results of a later run of some tests (same layout): they replace "
                         "those tests' outcomes and the features report (repeatable, in order)")
    opts = ap.parse_args()
    runs = {}
    for series in ORDER:
        d = os.path.join(opts.results, series)
        if os.path.isdir(d):
            runs[series] = load_run(d)
            for later in opts.rerun:
                if os.path.isdir(os.path.join(later, series)):
                    rerun(runs[series], load_run(os.path.join(later, series)))
            summarize(runs[series])
    if not runs:
        print(f"kernels_md.py: no results under {opts.results}", file=sys.stderr)
        return 1
    with open(opts.output, "w") as f:
        f.write(render(runs, opts.command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
