// SPDX-License-Identifier: GPL-2.0
/* A minimal TCP congestion control as a struct_ops map, for tests/test_map_kinds.py. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

/* Only the members used; CO-RE matches them by name in the kernel's BTF. */
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
} __attribute__((preserve_access_index));

SEC("struct_ops")
__u32 BPF_PROG(lbpy_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops")
void BPF_PROG(lbpy_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops")
__u32 BPF_PROG(lbpy_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC(".struct_ops")
struct tcp_congestion_ops lbpy_cc = {
	.ssthresh = (void *)lbpy_ssthresh,
	.cong_avoid = (void *)lbpy_cong_avoid,
	.undo_cwnd = (void *)lbpy_undo_cwnd,
	.name = "lbpy_cc",
};

char LICENSE[] SEC("license") = "GPL";
