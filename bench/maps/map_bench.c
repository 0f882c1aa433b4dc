// SPDX-License-Identifier: GPL-2.0
/* C reference for bench/maps/run.py: the same map (opened by id), libbpf's bpf.h calls.
 *
 *   map_bench dump <map_id> <rounds>   full dumps with bpf_map_lookup_batch: ns per dump
 *   map_bench pop <map_id> 1           one bpf_map_lookup_and_delete_batch drain: ns, count
 *   map_bench ops <map_id> <n>         n lookups then n updates of key 5: ns per op
 *
 * Linked against libbpf_py's bundled _libbpf.so (the same library the Python columns use).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bpf.h" /* libbpf/src */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	int fd, rounds;

	if (argc != 4)
		return fprintf(stderr, "usage: %s dump|pop|ops <map_id> <n>\n", argv[0]), 2;
	fd = bpf_map_get_fd_by_id(atoi(argv[2]));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return perror("open map"), 1;
	rounds = atoi(argv[3]);
	if (!strcmp(argv[1], "dump") || !strcmp(argv[1], "pop")) {
		int pop = !strcmp(argv[1], "pop");
		__u32 cap = info.max_entries + 1;
		uint32_t *keys = malloc(sizeof(*keys) * cap);
		uint64_t *values = malloc(sizeof(*values) * cap);
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		for (int r = 0; r < rounds; r++) {
			uint64_t t0 = now_ns(), batch = 0;
			__u32 total = 0, count;
			int err;
			void *in = NULL;

			do {
				count = cap - total;
				err = (pop ? bpf_map_lookup_and_delete_batch : bpf_map_lookup_batch)(
					fd, in, &batch, keys + total, values + total, &count, &opts);
				if (err && err != -ENOENT)
					return fprintf(stderr, "%s batch: %d\n", argv[1], err), 1;
				total += count;
				in = &batch;
			} while (!err);
			printf("%llu %u\n", (unsigned long long)(now_ns() - t0), total);
		}
	} else {
		uint32_t key = 5;
		uint64_t value = 0, t0;

		t0 = now_ns();
		for (int i = 0; i < rounds; i++)
			if (bpf_map_lookup_elem(fd, &key, &value))
				return perror("lookup"), 1;
		printf("%.1f\n", (double)(now_ns() - t0) / rounds);
		t0 = now_ns();
		for (int i = 0; i < rounds; i++)
			if (bpf_map_update_elem(fd, &key, &value, BPF_ANY))
				return perror("update"), 1;
		printf("%.1f\n", (double)(now_ns() - t0) / rounds);
	}
	return 0;
}
