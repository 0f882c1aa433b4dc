// SPDX-License-Identifier: GPL-2.0
/* fentry on a kernel function that does not exist (as do_unlinkat on 7.2): load must name it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/lbpy_no_such_function")
int BPF_PROG(on_gone_entry)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
