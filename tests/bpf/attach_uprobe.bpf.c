// SPDX-License-Identifier: GPL-2.0
/* uprobe/uretprobe, uprobe_multi and USDT programs for tests/bin/uprobe_target.c and libc. */
#include "attach_common.h"
#include <stdbool.h>
#include <linux/ptrace.h> /* struct pt_regs (UAPI names) */
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

enum { ADD_HITS, ADD_A, ADD_B, ADD_COOKIE, ADD_RET, RET_HITS, MULTI_HITS, USDT_HITS, USDT_A,
       USDT_B, USDT_COOKIE, LIBC_HITS, LAST_PID, MULTI_COOKIE_SUM };

SEC("uprobe")
int BPF_KPROBE(on_add, int a, int b)
{
	add(ADD_HITS, 1);
	set(ADD_A, a);
	set(ADD_B, b);
	set(ADD_COOKIE, attach_cookie(ctx));
	set(LAST_PID, bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_add_ret, int ret)
{
	add(RET_HITS, 1);
	set(ADD_RET, ret);
	return 0;
}

SEC("uprobe.multi")
int on_multi(struct pt_regs *ctx)
{
	add(MULTI_HITS, 1);
	add(MULTI_COOKIE_SUM, attach_cookie(ctx));
	return 0;
}

SEC("usdt")
int BPF_USDT(on_pair, int a, long b)
{
	add(USDT_HITS, 1);
	set(USDT_A, a);
	set(USDT_B, b);
	set(USDT_COOKIE, bpf_usdt_cookie(ctx));
	return 0;
}

/* libc's getppid(): counted for the process config[0] only when attached without pid filter */
SEC("uprobe")
int on_libc(struct pt_regs *ctx)
{
	if (mine())
		add(LIBC_HITS, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
