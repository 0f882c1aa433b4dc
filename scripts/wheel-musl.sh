#!/usr/bin/env bash
# The native half of the x86_64 musllinux wheel, run under musl: no musl-linked CPython can be
# had here (only PyPI and Debian's archive are reachable), but Debian's musl (musl-tools) can
# run a C program against the wheel's library. The program is linked with musl-gcc, dlopen()s
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
cat >"$work/check.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SYM(type, name) __typeof__(type) name = (type)dlsym(lib, #name); if (!name) return fail(#name)
static int fail(const char *what) { printf("FAIL: %s (%s)\n", what, dlerror()); return 1; }

int main(int argc, char **argv)
{
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	unsigned int key = 0, n = 1000, i;
	unsigned long long count = 0;
	size_t size = 0;

	if (!lib)
		return fail("dlopen");
	if (dlsym(lib, "elf_begin") || dlsym(lib, "inflate"))
		return fail("libelf or zlib symbols are exported");
	SYM(const char *(*)(void), libbpf_version_string);
	SYM(void *(*)(const char *, void *), bpf_object__open_file);
	SYM(void *(*)(void *, const char *), bpf_object__find_map_by_name);
	SYM(void *(*)(void *, size_t *), bpf_map__initial_value);
	SYM(int (*)(void *), bpf_object__load);
	SYM(void *(*)(void *, const char *), bpf_object__find_program_by_name);
	SYM(void *(*)(void *, const char *, const char *), bpf_program__attach_tracepoint);
	SYM(int (*)(void *), bpf_map__fd);
	SYM(int (*)(int, const void *, void *), bpf_map_lookup_elem);

	void *obj = bpf_object__open_file(argv[2], NULL);
	if (!obj)
		return fail("bpf_object__open_file");
	unsigned int *tgid = bpf_map__initial_value(bpf_object__find_map_by_name(obj, ".rodata"), &size);
	if (!tgid || size < sizeof(*tgid))
		return fail(".rodata");
	*tgid = (unsigned int)getpid();  /* const volatile __u32 target_tgid, its only variable */
	if (bpf_object__load(obj))
		return fail("bpf_object__load");
	if (!bpf_program__attach_tracepoint(bpf_object__find_program_by_name(obj, "on_getppid"),
					    "syscalls", "sys_enter_getppid"))
		return fail("attach");
	for (i = 0; i < n; i++)
		getppid();
	if (bpf_map_lookup_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "counts")), &key, &count))
		return fail("lookup");
	printf("libbpf %s under musl: getppid() x %u counted %llu\n", libbpf_version_string(), n, count);
	return count == n ? 0 : fail("count");
}
EOF
musl-gcc -O2 -Wall -o "$work/check" "$work/check.c"
"$work/check" "$work/whl/libbpf_py/_ffi/_libbpf.so" "$work/obj/wheel_smoke.bpf.o"
say "PASS: $(basename "$wheel")'s library under musl $(dpkg-query -W -f='${Version}' musl 2>/dev/null)"
