// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* syscount: count system calls (and their total latency) per syscall or per process.
 *
 * raw_syscalls:sys_exit counts each completed call under its number (or its process with
 * targ_by_process); with targ_latency, raw_syscalls:sys_enter records the entry time per thread.
 * Portable (CO-RE): tracepoint contexts are declared locally.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "syscall_tp.h"

struct data {
	__u64 count;
	__u64 total_ns;
	char comm[TASK_COMM_LEN];
};

/* Set before load (the verifier folds them): only this tgid (0: all); only failed calls; key
 * by process; measure latency; only calls failing with this errno (0: any). */
const volatile __u32 targ_tgid = 0;
const volatile _Bool targ_failed = 0;
const volatile _Bool targ_by_process = 0;
const volatile _Bool targ_latency = 0;
const volatile __u32 targ_errno = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* syscall number (or tgid when counting by process) -> data */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct data);
} counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int on_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ts;
	__u32 tid = (__u32)id;

	if (!targ_latency || (targ_tgid && targ_tgid != id >> 32))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int on_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *ts, delta = 0;
	__u32 tid = (__u32)id, tgid = id >> 32, key;
	long nr = BPF_CORE_READ(ctx, id), ret = BPF_CORE_READ(ctx, ret);
	static const struct data zero;
	struct data *d;

	if (nr < 0 || (targ_tgid && targ_tgid != tgid))
		return 0;
	if (targ_latency) {
		ts = bpf_map_lookup_elem(&start, &tid);
		if (!ts)
			return 0;
		delta = bpf_ktime_get_ns() - *ts;
		bpf_map_delete_elem(&start, &tid);
	}
	if (targ_failed && ret >= 0)
		return 0;
	if (targ_errno && ret != -(long)targ_errno)
		return 0;
	key = targ_by_process ? tgid : (__u32)nr;
	d = bpf_map_lookup_elem(&counts, &key);
	if (!d) {
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&counts, &key);
		if (!d)
			return 0;
		if (targ_by_process)
			bpf_get_current_comm(d->comm, sizeof(d->comm));
	}
	__sync_fetch_and_add(&d->count, 1);
	__sync_fetch_and_add(&d->total_ns, delta);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
