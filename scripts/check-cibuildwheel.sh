#!/usr/bin/env bash
# Keep the two release paths from drifting: build the x86_64 manylinux wheel the way
# cibuildwheel's configuration (pyproject.toml [tool.cibuildwheel]) says, here and without a
# container, and compare it with scripts/build-wheels.sh's: the same platform tag, the same
# files, the same exported symbols and needed libraries of the bundled .so
# (scripts/wheel_manifest.py). Fails on any difference, printing it.
#
#   bash scripts/check-cibuildwheel.sh [--against DIR]
#
# --against DIR: build-wheels.sh's output (with its .manifest files) to compare with; without
# it, `build-wheels.sh --arch <this machine> --libc glibc` runs first.
#
# What "the configuration" is, read from pyproject.toml with tomllib (not restated here): the
# before-all commands ({project} = a clean copy of this tree; the container's package install
# is skipped where clang is already on PATH, as its `command -v clang ||` says), the
# `environment` table, the build frontend (`build`: python -m build --wheel) and the
# repair-wheel-command ({wheel}, {dest_dir}). AUDITWHEEL_PLAT is set as the manylinux image sets
# it. What cannot be reproduced here is the image itself (AlmaLinux 8's clang and kernel headers
# for the tools' BPF objects): the compiler and the libraries come from the same pinned places.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LIBBPF_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py}
against=""
[ "${1:-}" = --against ] && against=${2:-}
arch=$(uname -m)

say() { printf 'check-cibuildwheel: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-check-cibw.XXXXXX")
trap 'rm -rf "$work" /tmp/libbpf_py-cibw' EXIT

if [ -z "$against" ]; then
    against=$work/local
    bash "$top/scripts/build-wheels.sh" --arch "$arch" --libc glibc --out "$against"
fi
local_wheels=("$against"/libbpf_py-*manylinux*_"$arch".whl)
[ -f "${local_wheels[0]}" ] && [ -f "${local_wheels[0]}.manifest" ] ||
    die "no manylinux $arch wheel with its .manifest in $against"

# A clean copy, as cibuildwheel copies the project into its container.
project=$work/project
mkdir -p "$project"
tar -C "$top" -cf - \
    --exclude=.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./wheelhouse \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.so' --exclude='*.o' \
    --exclude=./libbpf_py/include --exclude=./tests/.cache --exclude=./bench/.build \
    --exclude=./.vmtest . | tar -C "$project" -xf -

# The configuration, as shell: BEFORE_ALL (joined with &&), ENV_* assignments, REPAIR, FRONTEND.
python3 - "$top/pyproject.toml" "$project" >"$work/config.sh" <<'EOF'
import shlex, sys
try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib
conf = tomllib.load(open(sys.argv[1], "rb"))["tool"]["cibuildwheel"]
linux = {**conf, **conf.get("linux", {})}
project = sys.argv[2]
before = linux.get("before-all", [])
before = before if isinstance(before, list) else [before]
print("BEFORE_ALL=" + shlex.quote(" && ".join(before).replace("{project}", project)))
print("ENV=(" + " ".join(shlex.quote(f"{k}={v}") for k, v in linux.get("environment", {}).items()) + ")")
print("REPAIR=" + shlex.quote(linux["repair-wheel-command"]))
print("FRONTEND=" + shlex.quote(linux.get("build-frontend", "pip")))
print("IMAGE=" + shlex.quote(linux.get(f"manylinux-{'x86_64'}-image", "")))
EOF
# shellcheck disable=SC1091
source "$work/config.sh"
[ "$FRONTEND" = build ] || die "build-frontend is '$FRONTEND'; this check reproduces 'build'"
say "before-all: $BEFORE_ALL"
(cd "$project" && env AUDITWHEEL_PLAT="manylinux_2_28_$arch" bash -c "$BEFORE_ALL") >"$work/before-all.log" 2>&1 ||
    { tail -n 40 "$work/before-all.log" >&2; die "before-all failed"; }

tools=$cache/wheel-tools/bin
say "build: ${ENV[*]} python -m build --wheel"
(cd "$project" && env "${ENV[@]}" "$tools/python" -m build --wheel --no-isolation --outdir "$work/built" .) \
    >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log" >&2; die "python -m build failed"; }
built=("$work"/built/*.whl)
repair=${REPAIR//\{dest_dir\}/$work/repaired}
repair=${repair//\{wheel\}/${built[0]}}
say "repair: $repair"
(export PATH="$tools:$PATH"; bash -c "$repair") >"$work/repair.log" 2>&1 ||
    { cat "$work/repair.log" >&2; die "the repair command failed"; }
repaired=("$work"/repaired/*.whl)
name=$(basename "${repaired[0]}")
lname=$(basename "${local_wheels[0]}")
say "cibuildwheel's configuration: $name"
say "build-wheels.sh:              $lname"
[ "$name" = "$lname" ] || die "the wheels' names (tags) differ"
"$tools/python" "$top/scripts/wheel_manifest.py" "${repaired[0]}" >"$work/cibw.manifest"
if ! diff -u --label "build-wheels.sh" --label "cibuildwheel config" \
    "${local_wheels[0]}.manifest" "$work/cibw.manifest" >&2; then
    die "the two paths' wheels differ (above)"
fi
say "PASS: same tag, $(grep -c '^file ' "$work/cibw.manifest") files, $(grep -c '^export ' "$work/cibw.manifest") exported symbols, needs only $(sed -n 's/^needed //p' "$work/cibw.manifest" | tr '\n' ' ')"
