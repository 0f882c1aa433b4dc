// SPDX-License-Identifier: GPL-2.0
/* Networking attach kinds, each recording into results[] (attach_common.h):
 * XDP (count/drop UDP to port config[1]), TCX ordering, legacy TC, netfilter, socket filter,
 * sk_lookup, sockmap (sk_msg, sk_skb). config[2]: XDP drops when non-zero. */
#include "attach_common.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

#ifndef TCX_NEXT
#define TCX_NEXT -1 /* enum tcx_action_base (Linux 6.6 UAPI) */
#endif

enum { XDP_HITS, XDP2_HITS, TCX_FIRST_SEQ, TCX_SECOND_SEQ, TCX_SEQ, TCX_EGRESS_HITS, TC_HITS,
       NF_HITS, SOCK_HITS, LOOKUP_HITS, MSG_BYTES, SKB_BYTES, TCX_FIRST_HITS, TCX_SECOND_HITS };

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} socks SEC(".maps");

/* Is this an IPv4 UDP packet to port config[1]? (data/data_end of an Ethernet frame) */
static __always_inline int udp_to_port(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	return bpf_ntohs(udp->dest) == cfg(1);
}

SEC("xdp")
int xdp_udp(struct xdp_md *ctx)
{
	if (!udp_to_port((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_PASS;
	add(XDP_HITS, 1);
	return cfg(2) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_other(struct xdp_md *ctx)
{
	if (udp_to_port((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		add(XDP2_HITS, 1);
	return XDP_PASS;
}

static __always_inline void order(struct __sk_buff *skb, __u32 seq_slot, __u32 hits_slot)
{
	__u32 slot = TCX_SEQ;
	__u64 *seq;

	if (!udp_to_port((void *)(long)skb->data, (void *)(long)skb->data_end))
		return;
	seq = bpf_map_lookup_elem(&results, &slot);
	if (seq)
		set(seq_slot, bump(seq));
	add(hits_slot, 1);
}

SEC("tcx/ingress")
int tcx_first(struct __sk_buff *skb)
{
	order(skb, TCX_FIRST_SEQ, TCX_FIRST_HITS);
	return TCX_NEXT;
}

SEC("tcx/ingress")
int tcx_second(struct __sk_buff *skb)
{
	order(skb, TCX_SECOND_SEQ, TCX_SECOND_HITS);
	return TCX_NEXT;
}

SEC("tcx/egress")
int tcx_out(struct __sk_buff *skb)
{
	if (udp_to_port((void *)(long)skb->data, (void *)(long)skb->data_end))
		add(TCX_EGRESS_HITS, 1);
	return TCX_NEXT;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	if (udp_to_port((void *)(long)skb->data, (void *)(long)skb->data_end))
		add(TC_HITS, 1);
	return 0; /* TC_ACT_OK */
}

SEC("netfilter")
int nf_count(void *ctx)
{
	add(NF_HITS, 1);
	return 1; /* NF_ACCEPT */
}

/* Socket filter: drops datagrams whose last byte is 'D', keeps the others whole. */
SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	__u8 last = 0;

	add(SOCK_HITS, 1);
	if (skb->len < 1 || bpf_skb_load_bytes(skb, skb->len - 1, &last, 1))
		return skb->len;
	return last == 'D' ? 0 : skb->len;
}

SEC("sk_lookup")
int lookup_count(struct bpf_sk_lookup *ctx)
{
	if (ctx->local_port == cfg(1))
		add(LOOKUP_HITS, 1);
	return SK_PASS;
}

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	add(MSG_BYTES, msg->size);
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int skb_count(struct __sk_buff *skb)
{
	add(SKB_BYTES, skb->len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
