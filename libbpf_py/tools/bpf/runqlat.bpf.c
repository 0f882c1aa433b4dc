// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* runqlat: run queue (scheduler) latency as a log2 histogram.
 *
 * A task's enqueue time is recorded when it is woken (sched_wakeup, sched_wakeup_new) or
 * preempted while runnable (sched_switch with prev still TASK_RUNNING); when sched_switch puts it
 * on a CPU, the time it waited is counted in hists[{id, log2(usecs or msecs)}], where id is 0
 * (one histogram), the tgid or the tid (targ_per). BTF-enabled tracepoints
 * (tp_btf) give the task_struct pointers; its fields are read with CO-RE, so the object runs on
 * any kernel with BTF (task_struct.__state since 5.14, .state before).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "bits.h"

#define MAX_SLOTS 32
#define TASK_RUNNING 0

struct task_struct {
	int pid;
	int tgid;
	unsigned int __state;
} __attribute__((preserve_access_index));

struct task_struct___pre_5_14 {
	long state;
} __attribute__((preserve_access_index));

enum per { PER_NONE, PER_PROCESS, PER_THREAD };

/* Set before load (the verifier folds them): only this tgid (0: every process); the histogram
 * in milliseconds (default microseconds); one histogram, or one per process or per thread. */
const volatile __u32 targ_tgid = 0;
const volatile _Bool targ_ms = 0;
const volatile enum per targ_per = PER_NONE;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct hist_key {
	__u32 id; /* 0 (PER_NONE), the tgid or the tid */
	__u32 slot; /* log2 of the latency */
};

/* {id, slot} -> count: a hash map, so user space reads and clears it in one pop_all() */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, __u64);
} hists SEC(".maps");

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre_5_14 *)t, state);
}

static __always_inline int enqueue(struct task_struct *t)
{
	__u32 tgid = BPF_CORE_READ(t, tgid), pid = BPF_CORE_READ(t, pid);
	__u64 ts;

	if (!pid || (targ_tgid && targ_tgid != tgid))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_sched_wakeup, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_sched_wakeup_new, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_sched_switch, _Bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(next, pid);
	struct hist_key key;
	__u64 *tsp, delta, zero = 0;
	__u32 slot;

	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	if (targ_ms)
		delta /= 1000;
	bpf_map_delete_elem(&start, &pid);
	delta = log2l(delta);
	slot = delta < MAX_SLOTS ? delta : MAX_SLOTS - 1;
	__builtin_memset(&key, 0, sizeof(key)); /* no stray bytes: Python's keys must match */
	key.id = targ_per == PER_PROCESS ? BPF_CORE_READ(next, tgid) :
		 targ_per == PER_THREAD ? pid : 0;
	key.slot = slot;
	tsp = bpf_map_lookup_elem(&hists, &key);
	if (!tsp) {
		bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
		tsp = bpf_map_lookup_elem(&hists, &key);
	}
	if (tsp)
		__sync_fetch_and_add(tsp, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
