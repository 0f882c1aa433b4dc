// SPDX-License-Identifier: GPL-2.0
/* Extension program: replaces verdict() of attach_freplace_target with XDP_DROP, records. */
#include "attach_common.h"

SEC("freplace/verdict")
int new_verdict(int packet_len)
{
	add(0, 1);
	set(1, packet_len);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
