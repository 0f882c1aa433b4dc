// SPDX-License-Identifier: GPL-2.0
/* Object.attach() is all or nothing: the tracepoint program attaches first, then the kprobe
 * program fails on a kernel without kprobes, and the tracepoint's link must be gone too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	return 0;
}

SEC("kprobe/do_sys_openat2")
int on_openat(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
