// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The native half of a musllinux wheel, under musl (scripts/wheel-musl.sh, wheel-arm64.sh):
 *   check LIBBPF_SO SMOKE_OBJECT
 * dlopen()s the wheel's _libbpf.so through musl's loader, checks that no libelf or zlib symbol
 * is exported, then through libbpf's C API sets the smoke object's .rodata pid filter, loads it,
 * attaches its getppid tracepoint, calls getppid() 1000 times and checks the map counted 1000.
 * Prints FAIL and exits 1 on the first failure.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SYM(type, name) __typeof__(type) name = (type)dlsym(lib, #name); if (!name) return fail(#name)
static int fail(const char *what)
{
	const char *err = dlerror();

	printf("FAIL: %s%s%s\n", what, err ? ": " : "", err ? err : "");
	return 1;
}

int main(int argc, char **argv)
{
	void *lib = argc == 3 ? dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
	unsigned int key = 0, n = 1000, i;
	unsigned long long count = 0;
	size_t size = 0;

	if (argc != 3) {
		printf("usage: %s LIBBPF_SO SMOKE_OBJECT\n", argv[0]);
		return 2;
	}
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
