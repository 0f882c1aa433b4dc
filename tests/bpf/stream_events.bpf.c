// SPDX-License-Identifier: GPL-2.0
/* Event streaming tests: one program per stream kind, each on its own syscall tracepoint and
 * filtered to the test's process (cfg[CFG_TGID]). Loads on 5.10 (ring buffer: 5.8); the user
 * ring buffer (6.1) is in stream_user.bpf.c.
 *
 * - getppid(): K = cfg[CFG_K] (at most MAX_K) ring buffer records, seq = cfg[CFG_FIRST] + 1 ..
 *   cfg[CFG_FIRST] + K. Record seq is a struct event (16 bytes, val = 3 * seq), except that every
 *   cfg[CFG_ODD_EVERY]-th record is a struct odd_event (24 bytes) and every
 *   cfg[CFG_DISCARD_EVERY]-th record is reserved and then discarded (0: never). Failed
 *   reservations count in cfg[CFG_RB_FAILS].
 * - getpgid(): K perf samples (struct event, val = 3 * seq), seq numbered the same way, with
 *   bpf_perf_event_output; failed outputs (buffer full: lost) count in cfg[CFG_PERF_FAILS].
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum {
	CFG_TGID, CFG_K, CFG_DISCARD_EVERY, CFG_ODD_EVERY, CFG_RB_FAILS, CFG_PERF_FAILS, CFG_FIRST,
	CFG_N
};

/* Records per call. A bounded loop, not bpf_loop() (5.17): the verifier walks every iteration
 * (about 300 instructions each), so it stays small; more records take more calls with
 * cfg[CFG_FIRST] advanced (tests/test_ringbuf.py emit()). */
#define MAX_K 64

struct event {
	__u32 pid;
	__u32 seq;
	__u64 val;
};

struct odd_event {
	__u32 pid;
	__u32 seq;
	__u64 val;
	__u64 extra;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_N);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

/* Keep BTF for the types user space reads by name. */
struct event _event = {};
struct odd_event _odd_event = {};

static __u64 cfg_get(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&cfg, &key);

	return v ? *v : 0;
}

static void cfg_inc(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&cfg, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static int mine(void)
{
	return cfg_get(CFG_TGID) == (bpf_get_current_pid_tgid() >> 32);
}

static __always_inline void emit_rb(__u32 seq, __u32 pid, __u64 discard_every, __u64 odd_every)
{
	struct event *e;

	if (odd_every && seq % odd_every == 0) {
		struct odd_event o = { .pid = pid, .seq = seq, .val = 3ULL * seq, .extra = seq };

		if (bpf_ringbuf_output(&rb, &o, sizeof(o), 0))
			cfg_inc(CFG_RB_FAILS);
		return;
	}
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		cfg_inc(CFG_RB_FAILS);
		return;
	}
	e->pid = pid;
	e->seq = seq;
	e->val = 3ULL * seq;
	if (discard_every && seq % discard_every == 0)
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int ring_events(void *ctx)
{
	__u64 k, first, discard_every, odd_every;
	__u32 pid;

	if (!mine())
		return 0;
	pid = bpf_get_current_pid_tgid() >> 32;
	k = cfg_get(CFG_K);
	first = cfg_get(CFG_FIRST);
	discard_every = cfg_get(CFG_DISCARD_EVERY);
	odd_every = cfg_get(CFG_ODD_EVERY);
	for (__u32 i = 0; i < MAX_K; i++) {
		if (i >= k)
			break;
		emit_rb(first + i + 1, pid, discard_every, odd_every);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int perf_events(void *ctx)
{
	__u64 k, first;
	__u32 pid;

	if (!mine())
		return 0;
	pid = bpf_get_current_pid_tgid() >> 32;
	k = cfg_get(CFG_K);
	first = cfg_get(CFG_FIRST);
	for (__u32 i = 0; i < MAX_K; i++) {
		__u32 seq = first + i + 1;
		struct event e = { .pid = pid, .seq = seq, .val = 3ULL * seq };

		if (i >= k)
			break;
		if (bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e)))
			cfg_inc(CFG_PERF_FAILS);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
