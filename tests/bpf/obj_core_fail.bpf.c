// SPDX-License-Identifier: GPL-2.0
/* A CO-RE relocation the running kernel can't satisfy: task_struct has no such field. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int lbpy_no_such_field;
} __attribute__((preserve_access_index));

SEC("tracepoint/syscalls/sys_enter_getppid")
int read_missing_field(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	return BPF_CORE_READ(t, lbpy_no_such_field);
}

char LICENSE[] SEC("license") = "GPL";
