/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tracepoint contexts shared by the tools, declared locally (CO-RE, no vmlinux.h): relocated
 * against the running kernel's BTF through preserve_access_index. */
#ifndef LIBBPF_PY_TOOLS_SYSCALL_TP_H
#define LIBBPF_PY_TOOLS_SYSCALL_TP_H

#define TASK_COMM_LEN 16

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

/* syscalls:sys_enter_* and raw_syscalls:sys_enter */
struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

/* syscalls:sys_exit_* and raw_syscalls:sys_exit */
struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long id;
	long ret;
} __attribute__((preserve_access_index));

#endif
