// SPDX-License-Identifier: GPL-2.0
/* A minimal TCP congestion control "lbpy_cc" (fixed window) registered from Python with
 * bpf_map__attach_struct_ops; results[0] counts init() calls, results[1] cong_avoid() calls. */
#include "attach_common.h"
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	void (*init)(struct sock *sk);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
} __attribute__((preserve_access_index));

SEC("struct_ops/lbpy_init")
void BPF_PROG(lbpy_init, struct sock *sk)
{
	add(0, 1);
}

SEC("struct_ops/lbpy_cong_avoid")
void BPF_PROG(lbpy_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	add(1, 1);
}

SEC("struct_ops/lbpy_ssthresh")
__u32 BPF_PROG(lbpy_ssthresh, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/lbpy_undo_cwnd")
__u32 BPF_PROG(lbpy_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops lbpy_cc = {
	.init = (void *)lbpy_init,
	.cong_avoid = (void *)lbpy_cong_avoid,
	.ssthresh = (void *)lbpy_ssthresh,
	.undo_cwnd = (void *)lbpy_undo_cwnd,
	.name = "lbpy_cc",
};

char LICENSE[] SEC("license") = "GPL";
