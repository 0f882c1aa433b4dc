// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* execsnoop: one event per execve(), with its arguments and result.
 *
 * sys_enter_execve copies the arguments into a per-thread slot; sys_exit_execve adds the return
 * value and streams the slot's used part through a ring buffer: a variable-length record, the
 * fixed header then args_size bytes of arguments (execsnoop.py reads it with tail=True). Portable (CO-RE): kernel structs
 * are declared locally with preserve_access_index and relocated against the running kernel's BTF.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "execsnoop.h"
#include "syscall_tp.h"

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

/* Set before load (the verifier folds them): only this tgid (0: every process); drop the
 * execs that failed. */
const volatile __u32 targ_tgid = 0;
const volatile _Bool ignore_failed = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static const struct event empty;

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32, size = 0, i;
	const char **argv = (const char **)BPF_CORE_READ(ctx, args[1]);
	struct task_struct *task;
	struct event *e;
	int n;

	if (targ_tgid && targ_tgid != tgid)
		return 0;
	if (bpf_map_update_elem(&pending, &tid, &empty, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&pending, &tid);
	if (!e)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	e->pid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	for (i = 0; i < MAX_ARGS; i++) {
		const char *arg = NULL;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		if (size > ARGS_BUF - ARG_MAX_LEN)
			break;
		n = bpf_probe_read_user_str(&e->args[size], ARG_MAX_LEN, arg);
		if (n <= 0)
			break;
		size += n;
		e->args_count++;
	}
	e->args_size = size;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int on_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&pending, &tid);
	__u32 len;

	if (!e)
		return 0;
	e->retval = BPF_CORE_READ(ctx, ret);
	if (ignore_failed && e->retval < 0)
		goto out;
	/* after a successful exec, comm is the new program's name */
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	len = EVENT_HEADER_SIZE + e->args_size;
	if (len <= sizeof(*e))
		bpf_ringbuf_output(&events, e, len, 0);
out:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
