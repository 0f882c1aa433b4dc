// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* biolatency: block device I/O latency as a log2 histogram, per disk if asked.
 *
 * block_rq_issue (or block_rq_insert with queued time included) records the request's start
 * time keyed by the struct request pointer; block_rq_complete adds the latency to
 * hist[{dev, log2(usecs or msecs)}]. BTF tracepoints (tp_btf) give the request pointer; its
 * fields are read with CO-RE from local preserve_access_index declarations.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bits.h"

#define MAX_SLOTS 32

struct block_device {
	__u32 bd_dev;
} __attribute__((preserve_access_index));

struct request {
	struct block_device *part;
} __attribute__((preserve_access_index));

/* Before 5.11: rq->part is a struct hd_struct (its dev_t in __dev.devt), and
 * block_rq_insert/block_rq_issue take (struct request_queue *, struct request *). Both changed
 * in 5.11, but not together everywhere: Debian 11's 5.10 has the hd_struct and the one-argument
 * tracepoints (backported). The request's layout is told here by the kernel's BTF (CO-RE); the
 * tracepoints' by the Python side, which loads the *_two_args programs where they take two
 * (libbpf_py.features.tp_btf_args: clang 14 has no bpf_core_type_matches). */
struct device {
	__u32 devt;
} __attribute__((preserve_access_index));

struct hd_struct {
	struct device __dev;
} __attribute__((preserve_access_index));

struct request___pre_5_11 {
	struct hd_struct *part;
} __attribute__((preserve_access_index));

static __always_inline int pre_5_11(void)
{
	return bpf_core_type_exists(struct hd_struct);
}

struct hist_key {
	__u32 dev;
	__u32 slot;
};

/* Set before load (the verifier folds them): only this dev_t (kernel encoding,
 * major << 20 | minor; 0: all); milliseconds; one histogram per disk; include the time queued
 * (block_rq_insert). */
const volatile __u32 targ_dev = 0;
const volatile _Bool targ_ms = 0;
const volatile _Bool targ_per_disk = 0;
const volatile _Bool targ_queued = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hist_key);
	__type(value, __u64);
} hist SEC(".maps");

static __always_inline __u32 rq_dev(struct request *rq)
{
	if (pre_5_11())
		return BPF_CORE_READ((struct request___pre_5_11 *)rq, part, __dev.devt);
	return BPF_CORE_READ(rq, part, bd_dev);
}

static __always_inline int trace_start(struct request *rq, int insert)
{
	__u64 ts;

	if (insert && !targ_queued)
		return 0;
	if (targ_dev && rq_dev(rq) != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	/* with queued time: a request issued without being inserted starts at issue */
	bpf_map_update_elem(&start, &rq, &ts, targ_queued && !insert ? BPF_NOEXIST : BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int on_block_rq_insert(__u64 *ctx)
{
	return trace_start((struct request *)ctx[0], 1);
}

SEC("tp_btf/block_rq_insert")
int on_block_rq_insert_two_args(__u64 *ctx)
{
	return trace_start((struct request *)ctx[1], 1);
}

SEC("tp_btf/block_rq_issue")
int on_block_rq_issue(__u64 *ctx)
{
	return trace_start((struct request *)ctx[0], 0);
}

SEC("tp_btf/block_rq_issue")
int on_block_rq_issue_two_args(__u64 *ctx)
{
	return trace_start((struct request *)ctx[1], 0);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(on_block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	struct hist_key key = {};
	__u64 *tsp, delta, *count;
	static const __u64 zero;

	tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &rq);
	if (targ_ms)
		delta /= 1000;
	delta = log2l(delta);
	key.slot = delta < MAX_SLOTS ? delta : MAX_SLOTS - 1;
	if (targ_per_disk)
		key.dev = rq_dev(rq);
	count = bpf_map_lookup_elem(&hist, &key);
	if (!count) {
		bpf_map_update_elem(&hist, &key, &zero, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&hist, &key);
		if (!count)
			return 0;
	}
	__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
