// SPDX-License-Identifier: GPL-2.0
/* A fuzzing seed that exercises most of what an object can carry: CO-RE relocations of every
 * kind (field offset/existence/size, type existence/size, enum values), maps of several types
 * (one map-in-map), globals in .data/.bss/.rodata and a custom section, subprograms (static and
 * global), several program types. It loads on any kernel with BTF; it is never attached. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	unsigned int flags;
	int lbpy_missing_field; /* no kernel has it: bpf_core_field_exists() says 0 */
} __attribute__((preserve_access_index));

enum pid_type { PIDTYPE_PID, PIDTYPE_TGID };

struct value {
	__u64 count;
	__u32 last_pid;
	char comm[16];
	struct { __u8 a : 3; __u8 b : 5; } bits;
};

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { &inner_a } };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct value);
} by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, __u64);
	__type(value, __s32);
} lru SEC(".maps");

const volatile __u32 target_tgid = 0;
const volatile char label[8] = "seed";
__u64 seen = 3;
__s16 neg = -7;
struct value last_value;
__u32 slots[8];
bool enabled SEC(".data.flags") = true;

static __noinline __u64 mix(__u64 a, __u64 b)
{
	return (a * 31) ^ (b >> 3);
}

__noinline int global_helper(__u32 x)
{
	return x & 0xff;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct value *v, init = {};
	__u32 pid = BPF_CORE_READ(task, pid);
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);

	if (target_tgid && BPF_CORE_READ(task, tgid) != target_tgid)
		return 0;
	if (bpf_core_field_exists(task->lbpy_missing_field))
		seen += 1000;
	seen += bpf_core_field_size(task->flags) + bpf_core_type_exists(struct task_struct)
		+ bpf_core_enum_value(enum pid_type, PIDTYPE_TGID)
		+ bpf_core_type_size(struct task_struct) * 0;
	v = bpf_map_lookup_elem(&by_pid, &pid);
	if (!v) {
		bpf_map_update_elem(&by_pid, &pid, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&by_pid, &pid);
		if (!v)
			return 0;
	}
	v->count = mix(v->count, ppid) + 1;
	v->last_pid = ppid;
	bpf_get_current_comm(v->comm, sizeof(v->comm));
	last_value = *v;
	slots[pid & 7] = global_helper(pid);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int on_sys_enter(void *ctx)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&per_cpu, &zero);
	void *in;

	if (c)
		*c += 1;
	in = bpf_map_lookup_elem(&outer, &zero);
	if (in) {
		__u64 *x = bpf_map_lookup_elem(in, &zero);
		if (x)
			*x += neg;
	}
	return 0;
}

SEC("xdp")
int pass_xdp(struct xdp_md *ctx)
{
	__u64 *e;

	if (!enabled)
		return XDP_PASS;
	e = bpf_ringbuf_reserve(&ring, sizeof(*e), 0);
	if (e) {
		*e = ctx->data_end - ctx->data;
		bpf_ringbuf_submit(e, 0);
	}
	return XDP_PASS;
}

SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	__u64 key = skb->len;
	__s32 one = 1;

	bpf_map_update_elem(&lru, &key, &one, BPF_ANY);
	return skb->len + label[0] * 0;
}

char LICENSE[] SEC("license") = "GPL";
