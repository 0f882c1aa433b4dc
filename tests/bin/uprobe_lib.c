// SPDX-License-Identifier: GPL-2.0
/* A shared library for the uprobe/USDT tests (built with -shared -fPIC): lbpy_lib_add(A, B)
 * fires USDT probe libbpf_py_lib:pair(A, B) and returns A + B; lbpy_lib_mul returns A * B.
 * Loaded by the test process itself (ctypes) and by a child process. */
#include <sys/sdt.h>

__attribute__((noinline)) int lbpy_lib_add(int a, long b)
{
	DTRACE_PROBE2(libbpf_py_lib, pair, a, b);
	asm volatile("" ::: "memory");
	return a + (int)b;
}

__attribute__((noinline)) long lbpy_lib_mul(int a, long b)
{
	asm volatile("" ::: "memory");
	return a * b;
}
