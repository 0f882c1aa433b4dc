// SPDX-License-Identifier: GPL-2.0
/* The kprobe family on a syscall's kernel function: kprobe and kretprobe with cookies,
 * kprobe.multi with a cookie per function, ksyscall with its argument. Only events of the
 * process config[0] are recorded (attach_common.h). Cookies are read only where the kernel has
 * bpf_get_attach_cookie (5.15): elsewhere libbpf removes the call (CO-RE enum check). */
#include "attach_common.h"

/* The kernel's register names (CO-RE reads them: ksyscall's arguments); as vmlinux.h would. */
#define __VMLINUX_H__
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax,
		ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			__u64 regs[31];
			__u64 sp;
			__u64 pc;
			__u64 pstate;
		};
	};
	__u64 orig_x0;
} __attribute__((preserve_access_index));
#endif
#include <bpf/bpf_tracing.h>

enum { KP_HITS, KP_COOKIE, KRET_HITS, KRET_COOKIE, KRET_RET, MULTI_HITS, MULTI_COOKIE_SUM,
       KSYS_HITS, KSYS_ARG, GONE_HITS };

/* targets set from Python: attach_kprobe(symbol), attach_kprobe_multi(...) */
SEC("kprobe")
int on_kprobe(struct pt_regs *ctx)
{
	if (mine()) {
		add(KP_HITS, 1);
		set(KP_COOKIE, attach_cookie(ctx));
	}
	return 0;
}

SEC("kretprobe")
int on_kretprobe(struct pt_regs *ctx)
{
	if (mine()) {
		add(KRET_HITS, 1);
		set(KRET_COOKIE, attach_cookie(ctx));
		set(KRET_RET, PT_REGS_RC(ctx));
	}
	return 0;
}

SEC("kprobe.multi")
int on_multi(struct pt_regs *ctx)
{
	if (mine()) {
		add(MULTI_HITS, 1);
		add(MULTI_COOKIE_SUM, attach_cookie(ctx));
	}
	return 0;
}

SEC("ksyscall/getpgid")
int BPF_KSYSCALL(on_ksyscall, int pid)
{
	if (mine()) {
		add(KSYS_HITS, 1);
		set(KSYS_ARG, pid);
	}
	return 0;
}

/* A function no kernel has: attaching must name it. */
SEC("kprobe/lbpy_no_such_function")
int on_gone(struct pt_regs *ctx)
{
	add(GONE_HITS, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
