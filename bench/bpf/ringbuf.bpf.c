// SPDX-License-Identifier: GPL-2.0
/* W2 ring buffer throughput: every getppid() of the target process emits cfg[CFG_K] 64-byte
 * events with bpf_loop(). Event i (0-based) of a trigger carries val = i + 1, so one trigger's
 * values sum to K * (K + 1) / 2. Failed reservations are counted in cfg[CFG_DROPS]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum { CFG_TGID = 0, CFG_K = 1, CFG_DROPS = 2, CFG_TRIGGERS = 3, CFG_N };

struct event {			/* 64 bytes */
	__u64 seq;		/* trigger number (1-based) */
	__u64 val;		/* i + 1: the field the consumers sum */
	__u64 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_N);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} rb SEC(".maps");

struct loop_ctx {
	__u64 seq;
};

static long emit(__u64 i, struct loop_ctx *lc)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		/* Counted in the map, not in *lc: a stack counter changing every iteration keeps
		 * the verifier from ever converging on the callback ("8193 jumps too complex"). */
		__u32 key = CFG_DROPS;
		__u64 *drops = bpf_map_lookup_elem(&cfg, &key);

		if (drops)
			__sync_fetch_and_add(drops, 1);
		return 0;
	}
	e->seq = lc->seq;
	e->val = i + 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 k_tgid = CFG_TGID, k_k = CFG_K, k_trig = CFG_TRIGGERS;
	__u64 *tgid = bpf_map_lookup_elem(&cfg, &k_tgid);
	__u64 *k, *trig;
	struct loop_ctx lc = {};

	if (!tgid || *tgid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	k = bpf_map_lookup_elem(&cfg, &k_k);
	trig = bpf_map_lookup_elem(&cfg, &k_trig);
	if (!k || !trig)
		return 0;
	lc.seq = __sync_fetch_and_add(trig, 1) + 1;
	bpf_loop(*k, emit, &lc, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
