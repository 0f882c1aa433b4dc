// SPDX-License-Identifier: GPL-2.0
/* Target of freplace: an XDP program whose verdict comes from a global (replaceable) function. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__noinline int verdict(int packet_len)
{
	return packet_len > 0 ? XDP_PASS : XDP_ABORTED;
}

SEC("xdp")
int xdp_target(struct xdp_md *ctx)
{
	return verdict(ctx->data_end - ctx->data);
}

char LICENSE[] SEC("license") = "GPL";
