#!/usr/bin/env python3
"""Generate the built-in tools' skeletons again: libbpf_py/tools/<tool>_skel.py, from the BPF
objects the installed libbpf_py was built with (``pip install .`` first).

    .venv/bin/python scripts/gen-tool-skeletons.py           # write them
    .venv/bin/python scripts/gen-tool-skeletons.py --check   # exit 1 naming the stale ones

The modules do not embed the objects (``--object-resource``): setup.py compiles the objects per
target architecture, and a skeleton loads the one packaged beside it and checks its layout.
tests/test_skeleton.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent.parent / "libbpf_py" / "tools"


def generate(tool: str, types: tuple[str, ...], out_dir: Path) -> Path:
    """``python -m libbpf_py gen skeleton`` of the installed tool object into ``out_dir``."""
    from libbpf_py.tools import object_path

    out = out_dir / f"{tool}_skel.py"
    cmd = [sys.executable, "-m", "libbpf_py", "gen", "skeleton", object_path(tool), "-o", str(out),
           "--object-resource", f"libbpf_py.tools:bpf/{tool}.bpf.o"]
    for spelling in types:
        cmd += ["-t", spelling]
    # run outside the source tree: the installed libbpf_py (with its objects), not ./libbpf_py
    subprocess.run(cmd, check=True, cwd=out_dir)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a committed skeleton is not current")
    args = p.parse_args()
    sys.path = [x for x in sys.path if Path(x or ".").resolve() != TOOLS_DIR.parent.parent]
    from libbpf_py.tools import SKELETONS

    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for tool, types in sorted(SKELETONS.items()):
            text = generate(tool, types, Path(tmp)).read_text()
            dest = TOOLS_DIR / f"{tool}_skel.py"
            old = dest.read_text() if dest.is_file() else ""
            if old == text:
                continue
            if args.check:
                stale.append(tool)
                sys.stdout.writelines(difflib.unified_diff(
                    old.splitlines(True), text.splitlines(True), str(dest), "generated", n=1))
            else:
                dest.write_text(text)
                print(f"wrote {dest}")
    if stale:
        print(f"stale: {', '.join(stale)}: run {Path(__file__).name} after pip install .")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
