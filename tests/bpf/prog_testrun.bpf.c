// SPDX-License-Identifier: GPL-2.0
/* Programs driven by Program.test_run(): packet in/out (XDP), context in/out (TC __sk_buff),
 * raw tracepoint arguments and CPU selection. */
#include "attach_common.h"

/* Writes 0xAB into the first byte, returns XDP_TX (3) for packets starting with 0x01. */
SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u8 first;

	if (data + 1 > end)
		return XDP_ABORTED;
	first = data[0];
	data[0] = 0xAB;
	add(0, 1);
	return first == 1 ? XDP_TX : XDP_PASS;
}

/* Reads mark from the input context, writes priority = mark + 1 into the output context. */
SEC("tc")
int tc_ctx(struct __sk_buff *skb)
{
	skb->priority = skb->mark + 1;
	return skb->len;
}

/* raw_tp test_run: ctx is the u64 argument array; records the CPU it ran on. */
SEC("raw_tp")
int raw_args(__u64 *args)
{
	set(1, args[0] + args[1]);
	set(2, bpf_get_smp_processor_id());
	return (int)(args[0] * 10);
}

char LICENSE[] SEC("license") = "GPL";
