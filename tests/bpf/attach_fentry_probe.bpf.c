// SPDX-License-Identifier: GPL-2.0
/* The smallest trampoline program: tests probe whether the kernel loads fentry programs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/bpf_modify_return_test")
int BPF_PROG(probe)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
