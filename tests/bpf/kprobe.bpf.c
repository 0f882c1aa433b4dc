// SPDX-License-Identifier: GPL-2.0
/* A kprobe program: loads anywhere, attaches only where the kernel has kprobes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 hits;

SEC("kprobe/do_sys_openat2")
int on_openat(void *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
