#!/usr/bin/env bash
# Install a libbpf_py wheel with pip into another Debian userspace and run the wheel smoke there,
# in a chroot on this machine's kernel: the proof that the wheel works with that userspace's
# glibc and Python (the kernel side is the kernel matrix's job).
#
#   bash scripts/wheel-chroot.sh --wheel WHEEL [--suite bullseye] [--python python3|newest]
#                                [--tools opensnoop,execsnoop,syscount]
#
#   --suite bullseye --python python3   Debian 11: glibc 2.31, Python 3.9, pip 20.3 (the default)
#   --suite sid --python newest         the newest CPython Debian's archive has (python3.N with
#                                       the highest N in sid, with its -venv package)
#
# Steps: mmdebstrap a minbase root of SUITE (this machine's architecture) from the Debian mirror
# this machine's apt uses (scripts/debian-apt.sh: no host name is written here), with the Python
# and its venv package, cached as a tarball under $LIBBPF_PY_CACHE/roots; compile the smoke's BPF
# object here with clang against the wheel's own headers (the root has no compiler); then, in a
# private mount namespace (proc, /sys with tracefs and bpffs, /dev: gone when it ends), chroot:
# `python -m venv`, `pip install --no-index WHEEL`, `python -I wheel_smoke.py run` (load, maps,
# globals, ring buffer, tracepoint + uprobe with exact counts, then the tools).
#
# Needs root, mmdebstrap, clang, unshare (util-linux). About 40 s for a new root, 10 s cached.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LIBBPF_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py}
suite=bullseye
python=python3
wheel=""
tools=opensnoop,execsnoop,syscount

say() { printf 'wheel-chroot: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '6,7p' "$0" | sed 's/^#  *//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --wheel) wheel=${2:-}; shift 2 ;;
    --suite) suite=${2:-}; shift 2 ;;
    --python) python=${2:-}; shift 2 ;;
    --tools) tools=${2:-}; shift 2 ;;
    *) usage ;;
    esac
done
[ -f "$wheel" ] || usage
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
[ "$(id -u)" = 0 ] || die "must run as root (chroot, BPF)"
for cmd in mmdebstrap "${CLANG:-clang}" unshare; do
    command -v "$cmd" >/dev/null || die "$cmd not found (Debian: apt-get install mmdebstrap clang util-linux)"
done
arch=$(uname -m)
case "$(basename "$wheel")" in
*manylinux*_"$arch".whl | *manylinux*_"$arch".*.whl) ;;
*) die "$(basename "$wheel") is not a manylinux wheel for this machine ($arch)" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-wheel-chroot.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/debian-apt.sh
source "$top/scripts/debian-apt.sh"
mirror=$(deb_apt_mirror_uris | grep -v -- '-security' | head -n 1)
[ -n "$mirror" ] || die "no Debian mirror URI in this machine's apt sources"

if [ "$python" = newest ]; then
    deb_apt_setup "$work/apt" deb "$suite" >/dev/null || die "no apt mirror URI"
    python=$(apt-cache "${DEB_APT[@]}" pkgnames python3. 2>/dev/null |
        grep -E '^python3\.[0-9]+-venv$' | sed 's/-venv$//' | sort -t. -k2,2n | tail -n 1)
    [ -n "$python" ] || die "no python3.N-venv package found in $suite"
    say "the newest CPython in $suite: $python ($(apt-cache "${DEB_APT[@]}" show "$python" 2>/dev/null |
        sed -n 's/^Version: //p' | head -n 1))"
fi
if [ "$python" = python3 ]; then
    packages=python3,python3-venv
else
    packages=$python,$python-venv
fi

# --- the root file system (cached) -----------------------------------------------------------
rootball=$cache/roots/$suite-$arch-${packages//,/+}.tar
if [ ! -f "$rootball" ]; then
    say "mmdebstrap $suite ($arch, minbase + $packages) from $mirror"
    mkdir -p "$cache/roots"
    # (the .tar suffix tells mmdebstrap the format; renamed once complete). A mirror that is a
    # frozen snapshot serves Release files past their Valid-Until date: accepted.
    mmdebstrap --variant=minbase --include="$packages" --aptopt='Acquire::Check-Valid-Until "false"' \
        "$suite" "$rootball.part.tar" "$mirror" \
        >"$work/mmdebstrap.log" 2>&1 || { tail -n 30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
    mv "$rootball.part.tar" "$rootball"
fi
root=$work/root
mkdir -p "$root"
tar -C "$root" -xf "$rootball"
say "root: $suite, $(chroot "$root" ldd --version 2>/dev/null | head -n 1 | sed 's/.* //') glibc, $(chroot "$root" "$python" --version)"

# --- the smoke's object, compiled here for this architecture -----------------------------------
smoke=$root/tmp/smoke
mkdir -p "$smoke/wheel" "$smoke/obj" "$work/whl"
cp "$wheel" "$smoke/wheel/"
cp "$top/scripts/wheel_smoke.py" "$smoke/"
(cd "$work/whl" && python3 -m zipfile -e "$wheel" .)
python3 "$top/scripts/wheel_smoke.py" compile --arch "$arch" --include "$work/whl/libbpf_py/include" \
    --out "$smoke/obj" >/dev/null

# --- install and run, in a private mount namespace -------------------------------------------
cat >"$smoke/run.sh" <<EOF
set -eu
cd /tmp/smoke
$python -m venv /opt/venv
/opt/venv/bin/python -m pip --version
/opt/venv/bin/python -m pip install --no-index --disable-pip-version-check wheel/$(basename "$wheel")
/opt/venv/bin/python -I wheel_smoke.py run --objects /tmp/smoke/obj --tools "$tools"
EOF
say "chroot: pip install $(basename "$wheel"), then the smoke"
unshare --mount --propagation private sh -c '
    set -e
    root=$1
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    [ -d "$root/sys/kernel/tracing/events" ] || mount -t tracefs nodev "$root/sys/kernel/tracing"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        sh /tmp/smoke/run.sh
' sh "$root"
say "PASS: $(basename "$wheel") in $suite with $python"
