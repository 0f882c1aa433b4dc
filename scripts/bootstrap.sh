#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for libbpf_py, as root: Debian packages, the libbpf
# source (scripts/get-libbpf.sh), and a virtualenv at .venv with libbpf_py built and installed
# from this checkout (plus the test requirements). Idempotent: re-running only does what is left.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# Build: compiler, libelf, zlib, pkg-config. BPF programs: clang, llvm (llvm-strip).
# Tests: iproute2 (netns/veth, tc), bpftool (BTF cross-checks), mount (losetup for biolatency),
# systemtap-sdt-dev (USDT probes in test binaries), prometheus (the server the exporter's
# end-to-end test scrapes it with, on loopback). The kernel matrix (scripts/vmtest.sh):
# clang-19: BPF arena programs need clang 18+ (address spaces, addr_space_cast); the test
# harness compiles only those with it ($CLANG_ARENA, tests/conftest.py).
# qemu-system-x86 boots Debian's kernels, kmod indexes and loads their modules. The release
# wheels (scripts/build-wheels.sh, wheel-chroot.sh, wheel-musl.sh, wheel-arm64.sh): mmdebstrap
# makes Debian roots, musl-tools runs the musl library; arm64's asm/ headers, qemu-system-arm,
# qemu-user-static and arch-test for the arm64 guest. A Python with venv: the machine's python3 when it has one.
packages=(build-essential libelf-dev zlib1g-dev pkg-config clang llvm iproute2 bpftool mount
    systemtap-sdt-dev ca-certificates kmod prometheus mmdebstrap musl-tools clang-19)
case "$(uname -m)" in
    x86_64) packages+=(qemu-system-x86 linux-libc-dev-arm64-cross qemu-system-arm qemu-user-static
        arch-test) ;;
esac
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    packages+=(python3 python3-venv python3-dev)
    python=python3
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { say "run as root to install: ${missing[*]}"; exit 1; }
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/get-libbpf.sh

if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
say "building and installing libbpf_py into .venv"
# pip builds in the tree: a stale build/ would ship files since moved or deleted from the package.
rm -rf build
.venv/bin/python -m pip install -q ".[test]"
# From outside the tree: there, `import libbpf_py` would find the unbuilt source package.
version=$(cd / && "$top/.venv/bin/python" -m libbpf_py version)
say "ready: $version"
