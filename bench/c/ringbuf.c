// SPDX-License-Identifier: BSD-2-Clause
/* W2 ring buffer throughput, C: ring_buffer__consume() with a C callback summing event.val.
 *
 *   ringbuf OBJ K TRIGGERS WARMUP
 *
 * Loads OBJ, sets cfg = {tgid: getpid(), K}, attaches, then WARMUP untimed and TRIGGERS timed
 * rounds of: getppid() (the kernel emits K events) then one ring_buffer__consume().
 * Prints one JSON line: events, sum, drops, trigger_ns, drain_ns. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

static int on_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	total += e->val;
	count++;
	return 0;
}

static long long now_ns(void)
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
	struct ring_buffer *rb;
	long long trigger_ns = 0, drain_ns = 0, t0, t1, t2;
	__u64 k, drops = 0;
	__u32 key = CFG_DROPS;
	int triggers, warmup, cfg, i, n;

	if (argc != 5) {
		fprintf(stderr, "usage: ringbuf OBJ K TRIGGERS WARMUP\n");
		return 2;
	}
	k = strtoull(argv[2], NULL, 0);
	triggers = atoi(argv[3]);
	warmup = atoi(argv[4]);
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
	link = bpf_program__attach(bpf_object__find_program_by_name(obj, "on_getppid"));
	rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "rb"), on_event, NULL, NULL);
	if (!link || !rb) {
		fprintf(stderr, "attach/ring_buffer__new failed: %d\n", -errno);
		return 1;
	}
	for (i = 0; i < warmup; i++) {
		syscall(SYS_getppid);
		ring_buffer__consume(rb);
	}
	total = count = 0;
	for (i = 0; i < triggers; i++) {
		t0 = now_ns();
		syscall(SYS_getppid);
		t1 = now_ns();
		n = ring_buffer__consume(rb);
		t2 = now_ns();
		if (n < 0) {
			fprintf(stderr, "consume failed: %d\n", n);
			return 1;
		}
		trigger_ns += t1 - t0;
		drain_ns += t2 - t1;
	}
	bpf_map_lookup_elem(cfg, &key, &drops);
	printf("{\"events\": %llu, \"sum\": %llu, \"drops\": %llu, \"trigger_ns\": %lld, "
	       "\"drain_ns\": %lld}\n", (unsigned long long)count, (unsigned long long)total,
	       (unsigned long long)drops, trigger_ns, drain_ns);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
