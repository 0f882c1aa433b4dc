// SPDX-License-Identifier: GPL-2.0
/* One map of each family for tests/test_map_kinds.py, and the programs that use them:
 * a tail call through a prog array, stack ids from a tracepoint, task storage written by BPF. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16);
	__type(key, __u32);
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __s64);
} ctl SEC(".maps"); /* [0]: target tgid; [1]: last stack id; [2]: syscall nr counted */

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} task_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} inode_store SEC(".maps");

struct {
	__uint(type, 32); /* BPF_MAP_TYPE_CGRP_STORAGE: newer than the system uapi headers */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} cgrp_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, __u64);
} cg_counter SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner1 SEC(".maps"), inner2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner1 },
};

/* its inner map template is given from Python before load (Map.set_inner_map) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

SEC("tc")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jumps, 0);
	return 1; /* the slot is empty */
}

SEC("tc")
int target(struct __sk_buff *skb)
{
	return 42;
}

/* raw_syscalls/sys_enter, not syscalls/sys_enter_getppid: a syscall tracepoint hands BPF the
 * syscall's user-mode registers on kernels before Yonghong Song's fix (perf_call_bpf_enter()
 * calling perf_fetch_caller_regs(), 2024: Debian's 6.1 lacks it), so a kernel stack is empty
 * there and bpf_get_stackid() returns -EFAULT. A regular TRACE_EVENT takes the caller's kernel
 * registers on every kernel. */
struct raw_sys_enter {
	__u64 common; /* struct trace_entry */
	long id;
	unsigned long args[6];
};

SEC("tracepoint/raw_syscalls/sys_enter")
int stack(struct raw_sys_enter *ctx)
{
	__u32 k = 0;
	__s64 *tgid = bpf_map_lookup_elem(&ctl, &k), *nr;

	if (!tgid || *tgid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	k = 2;
	nr = bpf_map_lookup_elem(&ctl, &k);
	if (!nr || *nr != ctx->id)
		return 0;
	k = 1;
	__s64 *out = bpf_map_lookup_elem(&ctl, &k);
	if (out)
		*out = bpf_get_stackid(ctx, &stacks, 0);
	return 0;
}

SEC("tp_btf/sys_enter")
int task_count(__u64 *ctx) /* (struct pt_regs *regs, long id) */
{
	__u32 k = 0;
	__s64 *tgid = bpf_map_lookup_elem(&ctl, &k), *nr;
	__u64 *n;

	if (!tgid || *tgid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	k = 2;
	nr = bpf_map_lookup_elem(&ctl, &k);
	if (!nr || *nr != (__s64)ctx[1])
		return 0;
	n = bpf_task_storage_get(&task_store, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	__u64 *n = bpf_get_local_storage(&cg_counter, 0);

	__sync_fetch_and_add(n, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
