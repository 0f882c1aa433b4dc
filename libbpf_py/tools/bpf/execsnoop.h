/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The event execsnoop.bpf.c streams (its type is in the object's BTF: the pending map holds it),
 * read through the tool's skeleton (execsnoop_skel.Event). */
#ifndef EXECSNOOP_H
#define EXECSNOOP_H

#define TASK_COMM_LEN 16
#define MAX_ARGS 20
#define ARG_MAX_LEN 128
#define ARGS_BUF (MAX_ARGS * ARG_MAX_LEN)

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 args_count;
	__u32 args_size;
	char comm[TASK_COMM_LEN];
	char args[ARGS_BUF]; /* args_size bytes of NUL-terminated strings */
};

#define EVENT_HEADER_SIZE 40 /* offsetof(struct event, args) */

#endif
