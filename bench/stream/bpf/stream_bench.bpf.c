// SPDX-License-Identifier: GPL-2.0
/* Event streaming throughput, the one producer of both ring buffer benchmarks (bench/run.py's
 * W2 and bench/stream/run.py): every getppid() of the target process emits cfg[CFG_K] 64-byte
 * events with bpf_loop() into the ring buffer `rb` (program ring_producer; ring_producer_16,
 * _256 and _4096 emit events of that many bytes instead: attach one), every getpgid() 64-byte
 * events into the perf buffer `pb`. Event i (0-based) of a trigger carries val = i + 1 at
 * offset 8, so one trigger's values sum to K * (K + 1) / 2, and seq = the trigger's number
 * (1-based, counted in cfg[CFG_TRIGGERS]) at offset 0. Failed reservations and outputs are
 * counted in cfg[CFG_DROPS]. */
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

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

struct loop_ctx {
	void *ctx;
	__u64 seq;
};

/* Counted in the map, not in the loop context: a stack counter changing every iteration keeps
 * the verifier from ever converging on the bpf_loop callback ("8193 jumps too complex"). */
static void drop(void)
{
	__u32 key = CFG_DROPS;
	__u64 *drops = bpf_map_lookup_elem(&cfg, &key);

	if (drops)
		__sync_fetch_and_add(drops, 1);
}

static long emit_rb(__u64 i, struct loop_ctx *lc)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		drop();
		return 0;
	}
	e->seq = lc->seq;
	e->val = i + 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static long emit_pb(__u64 i, struct loop_ctx *lc)
{
	struct event e = { .seq = lc->seq, .val = i + 1 };

	if (bpf_perf_event_output(lc->ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e)))
		drop();
	return 0;
}

/* K if the current process is the target (then lc->seq numbers this trigger), else 0. */
static __u64 start_trigger(struct loop_ctx *lc)
{
	__u32 k_tgid = CFG_TGID, k_k = CFG_K, k_trig = CFG_TRIGGERS;
	__u64 *tgid = bpf_map_lookup_elem(&cfg, &k_tgid);
	__u64 *k, *trig;

	if (!tgid || *tgid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	k = bpf_map_lookup_elem(&cfg, &k_k);
	trig = bpf_map_lookup_elem(&cfg, &k_trig);
	if (!k || !trig)
		return 0;
	lc->seq = __sync_fetch_and_add(trig, 1) + 1;
	return *k;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int ring_producer(void *ctx)
{
	struct loop_ctx lc = { .ctx = ctx };

	bpf_loop(start_trigger(&lc), emit_rb, &lc, 0);
	return 0;
}

/* The same at other event sizes: struct { __u64 seq, val; __u8 pad[SIZE - 16]; }. */
#define RING_PRODUCER(SIZE)								\
static long emit_rb_##SIZE(__u64 i, struct loop_ctx *lc)				\
{											\
	__u64 *e = bpf_ringbuf_reserve(&rb, SIZE, 0);					\
											\
	if (!e) {									\
		drop();									\
		return 0;								\
	}										\
	e[0] = lc->seq;									\
	e[1] = i + 1;									\
	bpf_ringbuf_submit(e, 0);							\
	return 0;									\
}											\
											\
SEC("tracepoint/syscalls/sys_enter_getppid")						\
int ring_producer_##SIZE(void *ctx)							\
{											\
	struct loop_ctx lc = { .ctx = ctx };						\
											\
	bpf_loop(start_trigger(&lc), emit_rb_##SIZE, &lc, 0);				\
	return 0;									\
}

RING_PRODUCER(16)
RING_PRODUCER(256)
RING_PRODUCER(4096)

SEC("tracepoint/syscalls/sys_enter_getpgid")
int perf_producer(void *ctx)
{
	struct loop_ctx lc = { .ctx = ctx };

	bpf_loop(start_trigger(&lc), emit_pb, &lc, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
