// SPDX-License-Identifier: GPL-2.0
/* Compiled by test_btf.py against the vmlinux.h that Btf.dump_c() generates (not by bpf_path). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

const volatile int target_pid = 0;
int seen_tgid;
int seen_ppid;
char seen_comm[16];
int seen_has_pid_field;

SEC("tracepoint/syscalls/sys_enter_getppid")
int core_read_task(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ(task, tgid) != target_pid)
		return 0;
	seen_tgid = BPF_CORE_READ(task, tgid);
	seen_ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&seen_comm, task, comm);
	seen_has_pid_field = bpf_core_field_exists(task->pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
