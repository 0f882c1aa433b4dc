#!/usr/bin/env bash
# The native half of the x86_64 musllinux wheel, run under musl: no musl-linked CPython can be
# had here (only PyPI and Debian's archive are reachable), but Debian's musl (musl-tools) can
# run a C program against the wheel's library. The program (scripts/wheel_musl_check.c; the
# arm64 guest runs it for the aarch64 wheel) is linked with musl-gcc, dlopen()s
# the wheel's libbpf_py/_ffi/_libbpf.so through musl's loader (which resolves its
# libc.musl-x86_64.so.1), checks that libelf's symbols are not exported, then through libbpf's
# C API: opens the smoke object (scripts/wheel_smoke.py's, compiled here), sets its .rodata pid
# filter, loads it, attaches its tracepoint, calls getppid() 1000 times and checks that the map
# counted exactly 1000. What it does not prove: the Python layer on musl (ctypes, the tools).
#
#   bash scripts/wheel-musl.sh --wheel wheelhouse/libbpf_py-*-musllinux_1_2_x86_64.whl
#
# Needs root, musl-tools (musl-gcc), clang, linux-libc-dev.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf 'wheel-musl: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
[ "${1:-}" = --wheel ] && [ -f "${2:-}" ] || { sed -n '11p' "$0" | sed 's/^#  *//' >&2; exit 2; }
wheel=$2
case "$(basename "$wheel")" in *musllinux*_"$(uname -m)".whl) ;; *) die "not a musllinux wheel for $(uname -m)" ;; esac
command -v musl-gcc >/dev/null || die "musl-gcc not found (apt-get install musl-tools)"
[ "$(id -u)" = 0 ] || die "must run as root (loads BPF)"

work=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-wheel-musl.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && python3 -m zipfile -e "$wheel" whl)
python3 "$top/scripts/wheel_smoke.py" compile --include "$work/whl/libbpf_py/include" --out "$work/obj" >/dev/null
musl-gcc -O2 -Wall -o "$work/check" "$top/scripts/wheel_musl_check.c"
"$work/check" "$work/whl/libbpf_py/_ffi/_libbpf.so" "$work/obj/wheel_smoke.bpf.o"
say "PASS: $(basename "$wheel")'s library under musl $(dpkg-query -W -f='${Version}' musl 2>/dev/null)"
