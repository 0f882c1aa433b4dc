/* A workload for the profile tool's tests: reports "ready", then burns CPU until killed (300 s
 * at most) either in user space, in libbpf_py_profile_spin() called from main ("spin"), or in
 * the kernel, reading /dev/zero in a loop from libbpf_py_profile_read() ("read"). Built with
 * -O0 -fno-omit-frame-pointer so that the kernel can walk its user stack. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 20];

__attribute__((noinline)) unsigned long libbpf_py_profile_spin(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
	return n;
}

__attribute__((noinline)) long libbpf_py_profile_read(void)
{
	int fd = open("/dev/zero", O_RDONLY);
	long total = 0;

	if (fd < 0)
		return -1;
	for (;;)
		total += read(fd, buf, sizeof(buf));
	return total;
}

int main(int argc, char **argv)
{
	int in_kernel = argc > 1 && strcmp(argv[1], "read") == 0;

	alarm(300); /* never outlives a failed test (the tests kill it; slow VM guests need minutes) */
	printf("ready\n");
	fflush(stdout);
	if (in_kernel)
		return (int)libbpf_py_profile_read();
	return (int)libbpf_py_profile_spin();
}
