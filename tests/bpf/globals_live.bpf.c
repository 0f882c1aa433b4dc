// SPDX-License-Identifier: GPL-2.0
/* Array globals read and written live, atomic read-and-reset, a 128-bit global, NUL-separated
 * strings, bpf_printk's format string (in .rodata, not a variable), and a resizable section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct slot {
	__u32 a;
	__u16 b;
};

const volatile __u32 target_pid = 0;
__u32 slot = 3;			/* .data: which counter the program bumps */

__u64 counters[8];		/* .bss: bumped atomically, read-and-reset from Python */
__u32 hist[2][4];
struct slot slots[3];
char args[32];			/* NUL-separated strings */
unsigned __int128 big;
__u64 total;

__u64 big_arr[512] SEC(".data.big") = { 1 };	/* 4096 bytes, resizable before load */

SEC("tracepoint/syscalls/sys_enter_getppid")
int tick(void *ctx)
{
	__u32 i = slot & 7;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	__sync_fetch_and_add(&counters[i], 1);
	__sync_fetch_and_add(&hist[1][2], 1);
	__sync_fetch_and_add(&total, 1);
	big_arr[1] = total;
	big += 1;
	bpf_printk("tick %llu", total);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
