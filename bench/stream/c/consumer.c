// SPDX-License-Identifier: BSD-2-Clause
/* C reference consumers for bench/stream and bench/run.py's W2: libbpf's ring buffer or perf
 * buffer with a C callback summing event.val.
 *
 *   consumer OBJ ring|perf K TRIGGERS WARMUP PAGES [cpu|wall [SIZE]]
 *
 * Loads OBJ, sets cfg = {tgid: getpid(), K}, attaches, then WARMUP untimed and TRIGGERS timed
 * rounds of: trigger (getppid for ring, getpgid for perf: the kernel emits K events), then one
 * ring_buffer__consume() / perf_buffer__consume(). PAGES: perf pages per CPU. Prints one JSON
 * line: events, sum, drops, trigger_ns and drain_ns, wall_ns (the whole timed loop).
 * trigger_ns and drain_ns are CPU time of the thread with `cpu` (the default, bench/stream's),
 * CLOCK_MONOTONIC with `wall` (W2's, like its Python columns' perf_counter_ns). SIZE: the ring's
 * event size (64, the default, or 16, 256, 4096: program ring_producer_SIZE). */
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

enum { CFG_TGID = 0, CFG_K = 1, CFG_DROPS = 2, CFG_TRIGGERS = 3 };

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

static long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
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
	/* CPU time of this thread (user + kernel): immune to the preemption a shared machine
	 * adds. */
	clockid_t clk = CLOCK_THREAD_CPUTIME_ID;

	char prog[32] = "ring_producer";

	if (argc < 7 || argc > 9) {
		fprintf(stderr,
			"usage: consumer OBJ ring|perf K TRIGGERS WARMUP PAGES [cpu|wall [SIZE]]\n");
		return 2;
	}
	if (argc >= 8 && strcmp(argv[7], "wall") == 0)
		clk = CLOCK_MONOTONIC;
	if (argc == 9 && atoi(argv[8]) != 64)
		snprintf(prog, sizeof(prog), "ring_producer_%d", atoi(argv[8]));
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
		obj, ring ? prog : "perf_producer"));
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
	w0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < triggers; i++) {
		t0 = now_ns(clk);
		syscall(sysno, 0);
		t1 = now_ns(clk);
		n = ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb);
		t2 = now_ns(clk);
		if (n < 0) {
			fprintf(stderr, "consume failed: %d\n", n);
			return 1;
		}
		trigger_ns += t1 - t0;
		drain_ns += t2 - t1;
	}
	w0 = now_ns(CLOCK_MONOTONIC) - w0;
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
