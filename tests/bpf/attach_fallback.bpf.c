// SPDX-License-Identifier: GPL-2.0
/* One count, three ways to get it: a trampoline (fentry on the getpgid syscall function, target
 * set before load), a kprobe on the same function, or the syscalls:sys_enter_getpgid tracepoint.
 * A tool keeps the first kind this kernel serves and turns the others' autoload off before
 * load, as libbpf-tools do (fentry_can_attach ? fentry : kprobe; tracepoint where neither works).
 * Only the calls of the process targ_tgid count, in hits[] by the kind that saw them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum kind { BY_FENTRY, BY_KPROBE, BY_TRACEPOINT, KINDS };

const volatile __u32 targ_tgid = 0;
__u64 hits[KINDS];

static __always_inline int hit(enum kind kind)
{
	if (bpf_get_current_pid_tgid() >> 32 == targ_tgid)
		__sync_fetch_and_add(&hits[kind], 1);
	return 0;
}

SEC("fentry")
int by_fentry(void *ctx)
{
	return hit(BY_FENTRY);
}

SEC("kprobe")
int by_kprobe(void *ctx)
{
	return hit(BY_KPROBE);
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int by_tracepoint(void *ctx)
{
	return hit(BY_TRACEPOINT);
}

char LICENSE[] SEC("license") = "GPL";
