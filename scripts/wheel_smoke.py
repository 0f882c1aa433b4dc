"""Smoke-test an *installed* libbpf_py wheel: compile, load and run a real BPF program.

Run by ``scripts/check-wheel.sh`` with the python of a fresh venv holding the repaired wheel, from
a directory outside the source tree, as root::

    python -I wheel_smoke.py --source-tree /path/to/repo

Checks, in order (any failure raises, so the exit status is non-zero):

1. ``import libbpf_py`` resolves to this interpreter's site-packages, not to the source tree, and
   the bundled libbpf is 1.7.0; ``get_include()`` ships ``bpf/bpf_helpers.h``.
2. A tracepoint program counting this process's ``getppid`` calls into an array map, compiled with
   clang against the wheel's headers (and the machine's UAPI headers), loads and auto-attaches.
3. After N calls of ``os.getppid()`` the map holds exactly N.
4. The libelf in use is the copy auditwheel grafted into the wheel (``libbpf_py.libs/``), not the
   system's.

Only the standard library and the public API are used: ``libbpf_py.load``, ``Object.attach``,
``Object.maps[name][key]``, ``Object.close``, ``LIBBPF_VERSION``, ``get_include``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

CALLS = 1000

# The pid filter is compiled in (-DTARGET_TGID=<our pid>), so the check needs nothing but
# load/attach/read from the API.
BPF_SOURCE = r"""
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	__u32 key = 0;
	__u64 *val;

	if ((bpf_get_current_pid_tgid() >> 32) != TARGET_TGID)
		return 0;
	val = bpf_map_lookup_elem(&counts, &key);
	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
"""

BPF_ARCH = {"x86_64": "x86", "aarch64": "arm64", "ppc64le": "powerpc", "s390x": "s390",
            "riscv64": "riscv"}


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


def check_import(source_tree: Path | None):
    import libbpf_py

    pkg = Path(libbpf_py.__file__).resolve().parent
    site_dirs = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    say(f"libbpf_py {libbpf_py.__version__} imported from {pkg}")
    check(any(is_within(pkg, d) for d in site_dirs),
          f"libbpf_py was imported from {pkg}, not from this interpreter's site-packages "
          f"({', '.join(map(str, sorted(site_dirs)))})")
    if source_tree is not None:
        check(not is_within(pkg, source_tree),
              f"libbpf_py was imported from the source tree {source_tree}")
    check(libbpf_py.LIBBPF_VERSION == "1.7.0",
          f"LIBBPF_VERSION is {libbpf_py.LIBBPF_VERSION!r}, expected '1.7.0'")
    say(f"bundled libbpf {libbpf_py.LIBBPF_VERSION}")
    include = Path(libbpf_py.get_include())
    check((include / "bpf" / "bpf_helpers.h").is_file(),
          f"get_include() = {include} has no bpf/bpf_helpers.h")
    check(is_within(include, pkg), f"get_include() = {include} is outside the package {pkg}")
    return libbpf_py, include


def compile_bpf(include: Path, out: Path, clang: str) -> None:
    src = out.with_suffix(".c")
    src.write_text(BPF_SOURCE)
    machine = os.uname().machine
    cmd = [clang, "-target", "bpf", "-O2", "-g", f"-D__TARGET_ARCH_{BPF_ARCH.get(machine, machine)}",
           f"-DTARGET_TGID={os.getpid()}", f"-I{include}"]
    # asm/types.h lives under the multiarch directory on Debian/Ubuntu.
    gcc = shutil.which("gcc")
    if gcc:
        triplet = subprocess.run([gcc, "-dumpmachine"], check=True, capture_output=True,
                                 text=True).stdout.strip()
        if os.path.isdir(f"/usr/include/{triplet}"):
            cmd.append(f"-I/usr/include/{triplet}")
    cmd += ["-c", str(src), "-o", str(out)]
    say("compiling: " + " ".join(cmd))
    subprocess.run(cmd, check=True)


def grafted_libelf() -> list[str]:
    """Paths of the libelf copies mapped into this process."""
    with open("/proc/self/maps") as f:
        paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    return sorted(p for p in paths if "libelf" in os.path.basename(p))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source-tree", type=Path, help="fail if libbpf_py is imported from here")
    ap.add_argument("--clang", default=os.environ.get("CLANG", "clang"))
    ap.add_argument("--calls", type=int, default=CALLS)
    args = ap.parse_args()

    if os.geteuid() != 0:
        raise SystemExit("wheel-smoke: must run as root (loads a BPF program)")

    libbpf_py, include = check_import(args.source_tree)

    with tempfile.TemporaryDirectory(prefix="wheel-smoke.") as tmp:
        obj_path = Path(tmp) / "count_getppid.bpf.o"
        compile_bpf(include, obj_path, args.clang)

        obj = libbpf_py.load(str(obj_path))
        try:
            links = obj.attach()
            say(f"loaded and attached: {obj!r}, links: {links!r}")
            counts = obj.maps["counts"]
            before = counts[0]
            check(isinstance(before, int),
                  f"counts[0] is {type(before).__name__} {before!r}, expected an int "
                  f"(the map's BTF value type is __u64)")
            check(before == 0, f"counts[0] is {before} before any getppid call, expected 0")
            for _ in range(args.calls):
                os.getppid()
            after = counts[0]
            say(f"os.getppid() x {args.calls}: counts[0] = {after}")
            check(after == args.calls, f"counts[0] is {after}, expected exactly {args.calls}")

            libelf = grafted_libelf()
            say("libelf mapped: " + (", ".join(libelf) or "none"))
            check(bool(libelf), "no libelf is mapped into the process")
            check(all("/libbpf_py.libs/" in p for p in libelf),
                  "a libelf from outside the wheel's libbpf_py.libs/ is loaded: " + ", ".join(libelf))
        finally:
            obj.close()
    say("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
