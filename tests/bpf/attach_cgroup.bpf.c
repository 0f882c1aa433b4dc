// SPDX-License-Identifier: GPL-2.0
/* cgroup programs: cgroup_skb ingress/egress counting (two egress programs record their run
 * order), cgroup/sock_create denying sockets. Results in results[] (attach_common.h). */
#include "attach_common.h"

enum { INGRESS, EGRESS, SEQ, FIRST_SEQ, SECOND_SEQ, DENIED, LEGACY };

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	add(INGRESS, 1);
	return 1;
}

static __always_inline void order(__u32 slot)
{
	__u32 seq_slot = SEQ;
	__u64 *seq = bpf_map_lookup_elem(&results, &seq_slot);

	if (seq)
		set(slot, bump(seq));
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	add(EGRESS, 1);
	order(FIRST_SEQ);
	return 1;
}

SEC("cgroup_skb/egress")
int second_egress(struct __sk_buff *skb)
{
	order(SECOND_SEQ);
	return 1;
}

SEC("cgroup_skb/ingress")
int legacy_ingress(struct __sk_buff *skb)
{
	add(LEGACY, 1);
	return 1;
}

SEC("cgroup/sock_create")
int deny_sockets(struct bpf_sock *sk)
{
	add(DENIED, 1);
	return 0; /* refuse: socket() fails with EPERM */
}

char LICENSE[] SEC("license") = "GPL";
