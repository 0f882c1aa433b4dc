// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* opensnoop: one event per open()/openat()/openat2(), with the path, flags and result.
 *
 * The enter tracepoints remember the path pointer and flags per thread; the exit tracepoints read
 * the path (by then the kernel has copied it, so the user page is resident) and stream an event
 * through a ring buffer. Portable (CO-RE): tracepoint contexts are declared locally.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "syscall_tp.h"

#define NAME_MAX_LEN 256

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__s32 flags;
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX_LEN];
};

struct args {
	const char *fname;
	__s32 flags;
};

struct open_how {
	__u64 flags;
} __attribute__((preserve_access_index));

/* Set before load (the verifier folds them): only this tgid (0: every process); only the opens
 * that failed. */
const volatile __u32 targ_tgid = 0;
const volatile _Bool targ_failed = 0;

/* struct event is used only through a pointer into the ring buffer: this global puts it in the
 * object's BTF, where the tool's skeleton finds it (opensnoop_skel.Event, checked at open). */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline int enter(const char *fname, __s32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args a = {.fname = fname, .flags = flags};

	if (targ_tgid && targ_tgid != id >> 32)
		return 0;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a = bpf_map_lookup_elem(&start, &tid);
	struct event *e;

	if (!a)
		return 0;
	if (targ_failed && ret >= 0)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = a->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = '\0';
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

/* open(2) exists on x86_64 but not on aarch64: opensnoop.py disables these when absent */
SEC("tracepoint/syscalls/sys_enter_open")
int on_open_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)BPF_CORE_READ(ctx, args[0]), (__s32)BPF_CORE_READ(ctx, args[1]));
}

SEC("tracepoint/syscalls/sys_exit_open")
int on_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)BPF_CORE_READ(ctx, args[1]), (__s32)BPF_CORE_READ(ctx, args[2]));
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int on_openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how *how = (struct open_how *)BPF_CORE_READ(ctx, args[2]);
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), &how->flags);
	return enter((const char *)BPF_CORE_READ(ctx, args[1]), (__s32)flags);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int on_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(BPF_CORE_READ(ctx, ret));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
