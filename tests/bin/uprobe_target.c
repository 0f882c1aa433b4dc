// SPDX-License-Identifier: GPL-2.0
/* Helper process for the uprobe/USDT tests: for each line "A B" on stdin it calls
 * target_add(A, B) and target_mul(A, B) (probe targets) and fires USDT probe
 * libbpf_py:pair(A, B), then prints "A+B A*B". Exits at end of input. */
#include <stdio.h>
#include <sys/sdt.h>

__attribute__((noinline)) int target_add(int a, int b)
{
	asm volatile("" ::: "memory");
	return a + b;
}

__attribute__((noinline)) long target_mul(int a, long b)
{
	asm volatile("" ::: "memory");
	return a * b;
}

int main(void)
{
	int a;
	long b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (scanf("%d %ld", &a, &b) == 2) {
		int sum = target_add(a, (int)b);
		long product = target_mul(a, b);

		DTRACE_PROBE2(libbpf_py, pair, a, b);
		printf("%d %ld\n", sum, product);
	}
	return 0;
}
