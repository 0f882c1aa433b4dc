// SPDX-License-Identifier: GPL-2.0
/* Object.attach() is all or nothing: the tracepoint program attaches first, then the kprobe
 * program fails (on every kernel: no kprobes at all, or no such kernel function), and the
 * tracepoint's link must be gone too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	return 0;
}

SEC("kprobe/lbpy_no_such_kernel_function")
int on_missing(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
