// SPDX-License-Identifier: BSD-2-Clause
/* W1 cold start, C: open + load + attach the coldstart object, then detach, close, exit.
 *
 *   coldstart OBJ            the timed work, nothing else
 *   coldstart OBJ --phases   also print CPU time (us) per phase on stdout as one line
 *   coldstart OBJ --check    also check the program runs: config <- getpid(), getppid(),
 *                            counts[getpid()] must be 1
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <libbpf.h>
#include <bpf.h>

static long long cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	int phases = argc > 2 && !strcmp(argv[2], "--phases");
	int check = argc > 2 && !strcmp(argv[2], "--check");
	long long t[5];
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link;
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: coldstart OBJ [--phases|--check]\n");
		return 2;
	}
	t[0] = cpu_us();
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open failed: %d\n", -errno);
		return 1;
	}
	t[1] = cpu_us();
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "load failed: %d\n", err);
		return 1;
	}
	t[2] = cpu_us();
	prog = bpf_object__find_program_by_name(obj, "on_getppid");
	link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		fprintf(stderr, "attach failed: %d\n", -errno);
		return 1;
	}
	t[3] = cpu_us();
	if (check) {
		__u32 zero = 0, tgid = getpid();
		__u64 count = 0;
		int cfg = bpf_object__find_map_fd_by_name(obj, "config");
		int counts = bpf_object__find_map_fd_by_name(obj, "counts");

		if (bpf_map_update_elem(cfg, &zero, &tgid, 0) ||
		    syscall(SYS_getppid) < 0 ||
		    bpf_map_lookup_elem(counts, &tgid, &count) || count != 1) {
			fprintf(stderr, "check failed: count=%llu\n", (unsigned long long)count);
			return 1;
		}
		printf("check ok\n");
	}
	bpf_link__destroy(link);
	bpf_object__close(obj);
	t[4] = cpu_us();
	if (phases)
		printf("PHASES startup=%lld open=%lld load=%lld attach=%lld close=%lld\n",
		       t[0], t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3]);
	return 0;
}
