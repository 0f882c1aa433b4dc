// SPDX-License-Identifier: BSD-2-Clause
/* spawnstat CMD [ARGS...]: run CMD once and print, as the last line of stdout,
 *   SPAWNSTAT wall_ns=<n> utime_us=<n> stime_us=<n> maxrss_kb=<n> status=<n>
 * from wait4()'s rusage of that child alone.
 *
 * Why a C launcher: Linux folds the pre-exec address space's high-water RSS into the child's
 * ru_maxrss, so a child forked straight from the (large) Python driver would report the
 * driver's RSS. Forked from this tiny process, the pre-exec image is ~1 MiB. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: spawnstat CMD [ARGS...]\n");
		return 2;
	}
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror("execvp");
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("SPAWNSTAT wall_ns=%lld utime_us=%lld stime_us=%lld maxrss_kb=%ld status=%d\n",
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
	       (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	       (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
	       ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
