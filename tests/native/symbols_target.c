/* Prints the address of a function of its own, then waits on stdin: the symbol tests resolve
 * that address through /proc/PID/maps and this binary's ELF symbols (PIE and non-PIE builds). */
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int libbpf_py_target_function(int x)
{
	return x * 3 + 1;
}

int main(void)
{
	char c;

	printf("%lx\n", (unsigned long)&libbpf_py_target_function);
	fflush(stdout);
	return read(0, &c, 1) < 0 ? libbpf_py_target_function(1) : 0;
}
