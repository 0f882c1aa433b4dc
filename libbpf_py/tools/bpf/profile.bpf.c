// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* profile: CPU profiler sampling kernel and user stacks, like bcc's profile.
 *
 * Attached to a software cpu-clock perf event on every online CPU (opened by the tool at the
 * wanted frequency), do_perf_event runs on each sample: it records the interrupted task's user
 * and kernel stacks in a stack trace map (bpf_get_stackid, frame-pointer/ORC unwinding by the
 * kernel) and counts the sample under {tgid, user stack id, kernel stack id, comm}. Nothing
 * here reads kernel structs, so the object runs on any kernel with BPF perf_event programs.
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#define PERF_MAX_STACK_DEPTH 127 /* the kernel's default kernel.perf_event_max_stack */
#define TASK_COMM_LEN 16

/* per-run settings, written by the tool before load */
const volatile __u32 target_tgid = 0;   /* only this process (0: all) */
const volatile __u32 target_tid = 0;    /* only this thread (0: all) */
const volatile __u32 user_stacks = 1;   /* collect user stacks */
const volatile __u32 kernel_stacks = 1; /* collect kernel stacks */
const volatile __u32 include_idle = 0;  /* count the idle tasks (pid 0) too */

/* a stack id the sample did not ask for (-U or -K): not an error */
#define STACK_NOT_COLLECTED (-1000)

struct key_t {
	__u32 pid;            /* tgid */
	__s32 user_stack_id;  /* id in stack_traces, or -errno from bpf_get_stackid */
	__s32 kernel_stack_id;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	static const __u64 zero;
	struct key_t key = {};
	__u64 *count;

	if (!include_idle && tid == 0)
		return 0;
	if (target_tgid && tgid != target_tgid)
		return 0;
	if (target_tid && tid != target_tid)
		return 0;
	key.pid = tgid;
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	key.user_stack_id = user_stacks ?
		bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : STACK_NOT_COLLECTED;
	key.kernel_stack_id = kernel_stacks ?
		bpf_get_stackid(ctx, &stack_traces, 0) : STACK_NOT_COLLECTED;
	count = bpf_map_lookup_elem(&counts, &key);
	if (!count) {
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		count = bpf_map_lookup_elem(&counts, &key);
		if (!count)
			return 0; /* counts is full */
	}
	__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
