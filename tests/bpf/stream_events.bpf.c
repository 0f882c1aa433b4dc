// SPDX-License-Identifier: GPL-2.0
/* Event streaming tests: one program per stream kind, each on its own syscall tracepoint and
 * filtered to the test's process (cfg[CFG_TGID]).
 *
 * - getppid(): K = cfg[CFG_K] ring buffer records from bpf_loop. Record i (seq = i + 1) is a
 *   struct event (16 bytes, val = 3 * seq), except that every cfg[CFG_ODD_EVERY]-th record is a
 *   struct odd_event (24 bytes) and every cfg[CFG_DISCARD_EVERY]-th record is reserved and then
 *   discarded (0: never). Failed reservations count in cfg[CFG_RB_FAILS].
 * - getpgid(): K perf samples (struct event, val = 3 * seq) with bpf_perf_event_output; failed
 *   outputs (buffer full: lost) count in cfg[CFG_PERF_FAILS].
 * - getsid(): drains the user ring buffer `urb` with bpf_user_ringbuf_drain; every struct
 *   user_msg read adds one to res[RES_COUNT], a to res[RES_SUM_A], b * (index + 1) to
 *   res[RES_WEIGHTED]; the drain's return (records drained) goes to res[RES_RET].
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bump.h"

enum { CFG_TGID, CFG_K, CFG_DISCARD_EVERY, CFG_ODD_EVERY, CFG_RB_FAILS, CFG_PERF_FAILS, CFG_N };
enum { RES_COUNT, RES_SUM_A, RES_WEIGHTED, RES_RET, RES_N };

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

struct user_msg {
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_N);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RES_N);
	__type(key, __u32);
	__type(value, __s64);
} res SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 * 1024);
} urb SEC(".maps");

/* Keep BTF for the types user space reads by name. */
struct event _event = {};
struct odd_event _odd_event = {};
struct user_msg _user_msg = {};

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

struct loop_ctx {
	void *ctx;
	__u32 pid;
	__u64 discard_every;
	__u64 odd_every;
};

static long emit_rb(__u64 i, struct loop_ctx *lc)
{
	__u32 seq = i + 1;

	if (lc->odd_every && seq % lc->odd_every == 0) {
		struct odd_event o = { .pid = lc->pid, .seq = seq, .val = 3ULL * seq, .extra = seq };

		if (bpf_ringbuf_output(&rb, &o, sizeof(o), 0))
			cfg_inc(CFG_RB_FAILS);
		return 0;
	}
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		cfg_inc(CFG_RB_FAILS);
		return 0;
	}
	e->pid = lc->pid;
	e->seq = seq;
	e->val = 3ULL * seq;
	if (lc->discard_every && seq % lc->discard_every == 0)
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int ring_events(void *ctx)
{
	struct loop_ctx lc = {};

	if (!mine())
		return 0;
	lc.pid = bpf_get_current_pid_tgid() >> 32;
	lc.discard_every = cfg_get(CFG_DISCARD_EVERY);
	lc.odd_every = cfg_get(CFG_ODD_EVERY);
	bpf_loop(cfg_get(CFG_K), emit_rb, &lc, 0);
	return 0;
}

static long emit_perf(__u64 i, struct loop_ctx *lc)
{
	struct event e = { .pid = lc->pid, .seq = i + 1, .val = 3 * (i + 1) };

	if (bpf_perf_event_output(lc->ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		cfg_inc(CFG_PERF_FAILS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int perf_events(void *ctx)
{
	struct loop_ctx lc = { .ctx = ctx };

	if (!mine())
		return 0;
	lc.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_loop(cfg_get(CFG_K), emit_perf, &lc, 0);
	return 0;
}

static void res_add(__u32 key, __s64 n)
{
	__s64 *v = bpf_map_lookup_elem(&res, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

static long drain_one(struct bpf_dynptr *dynptr, void *ctx)
{
	struct user_msg m;
	__u32 key = RES_COUNT;
	__s64 *count = bpf_map_lookup_elem(&res, &key);
	__s64 index;

	if (!count)
		return 1;
	if (bpf_dynptr_read(&m, sizeof(m), dynptr, 0, 0))
		return 1;
	index = bump(count) - 1;
	res_add(RES_SUM_A, m.a);
	res_add(RES_WEIGHTED, m.b * (index + 1));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getsid")
int drain_user(void *ctx)
{
	__u32 key = RES_RET;
	__s64 ret;

	if (!mine())
		return 0;
	ret = bpf_user_ringbuf_drain(&urb, drain_one, NULL, 0);
	bpf_map_update_elem(&res, &key, &ret, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
