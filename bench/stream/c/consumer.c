// SPDX-License-Identifier: BSD-2-Clause
/* C reference consumers for bench/stream: libbpf's ring buffer or perf buffer with a C callback
 * summing event.val.
 *
 *   consumer OBJ ring|perf K TRIGGERS WARMUP PAGES
 *
 * Loads OBJ, sets cfg = {tgid: getpid(), K}, attaches, then WARMUP untimed and TRIGGERS timed
 * rounds of: trigger (getppid for ring, getpgid for perf: the kernel emits K events), then one
 * ring_buffer__consume() / perf_buffer__consume(). PAGES: perf pages per CPU. Prints one JSON
 * line: events, sum, drops, trigger_ns and drain_ns (CPU time of the thread), wall_ns (the
 * whole timed loop). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/types.h>
#include <libbpf.h>
#include <bpf.h>

enum { CFG_TGID = 0, CFG_K = 1, CFG_DROPS = 2 };

struct event {
	__u64 seq;
	__u64 val;
	__u64 pad[6];
};

static __u64 total, count;

static int on_ring(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	total += e->val;
	count++;
	return 0;
}

static void on_perf(void *ctx, int cpu, void *data, __u32 size)
{
	const struct event *e = data;

	total += e->val;
	count++;
}

/* CPU time of this thread (user + kernel): immune to the preemption a shared machine adds. */
static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int set_cfg(int fd, __u32 key, __u64 val)
{
	return bpf_map_update_elem(fd, &key, &val, 0);
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_link *link;
	struct ring_buffer *rb = NULL;
	struct perf_buffer *pb = NULL;
	long long trigger_ns = 0, drain_ns = 0, t0, t1, t2, w0;
	__u64 k, drops = 0;
	__u32 key = CFG_DROPS;
	int triggers, warmup, cfg, i, n, ring;
	long sysno;

	if (argc != 7) {
		fprintf(stderr, "usage: consumer OBJ ring|perf K TRIGGERS WARMUP PAGES\n");
		return 2;
	}
	ring = strcmp(argv[2], "ring") == 0;
	sysno = ring ? SYS_getppid : SYS_getpgid;
	k = strtoull(argv[3], NULL, 0);
	triggers = atoi(argv[4]);
	warmup = atoi(argv[5]);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "open/load failed\n");
		return 1;
	}
	cfg = bpf_object__find_map_fd_by_name(obj, "cfg");
	if (set_cfg(cfg, CFG_TGID, getpid()) || set_cfg(cfg, CFG_K, k)) {
		fprintf(stderr, "cfg update failed\n");
		return 1;
	}
	link = bpf_program__attach(bpf_object__find_program_by_name(
		obj, ring ? "ring_producer" : "perf_producer"));
	if (ring)
		rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "rb"), on_ring, NULL, NULL);
	else
		pb = perf_buffer__new(bpf_object__find_map_fd_by_name(obj, "pb"), atoi(argv[6]),
				      on_perf, NULL, NULL, NULL);
	if (!link || (!rb && !pb)) {
		fprintf(stderr, "attach/buffer failed: %d\n", -errno);
		return 1;
	}
	for (i = 0; i < warmup; i++) {
		syscall(sysno, 0);
		ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb);
	}
	total = count = 0;
	w0 = wall_ns();
	for (i = 0; i < triggers; i++) {
		t0 = now_ns();
		syscall(sysno, 0);
		t1 = now_ns();
		n = ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb);
		t2 = now_ns();
		if (n < 0) {
			fprintf(stderr, "consume failed: %d\n", n);
			return 1;
		}
		trigger_ns += t1 - t0;
		drain_ns += t2 - t1;
	}
	w0 = wall_ns() - w0;
	bpf_map_lookup_elem(cfg, &key, &drops);
	printf("{\"events\": %llu, \"sum\": %llu, \"drops\": %llu, \"trigger_ns\": %lld, "
	       "\"drain_ns\": %lld, \"wall_ns\": %lld}\n", (unsigned long long)count,
	       (unsigned long long)total, (unsigned long long)drops, trigger_ns, drain_ns, w0);
	ring_buffer__free(rb);
	perf_buffer__free(pb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
