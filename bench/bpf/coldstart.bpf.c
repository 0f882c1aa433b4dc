// SPDX-License-Identifier: GPL-2.0
/* W1 cold start: a small CO-RE tracepoint program with a config array, a hash map and a ring
 * buffer. The task's tgid is read through a local CO-RE flavor of task_struct
 * (preserve_access_index), so loading needs kernel BTF and performs one field relocation. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Local flavor: libbpf matches it to the kernel's struct task_struct (the ___ suffix is
 * ignored) and relocates the offset of tgid. */
struct task_struct___local {
	int tgid;
} __attribute__((preserve_access_index));

struct event {
	__u32 tgid;
	__u32 pad;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct task_struct___local *task = (void *)bpf_get_current_task();
	__u32 zero = 0, tgid = BPF_CORE_READ(task, tgid);
	__u32 *target = bpf_map_lookup_elem(&config, &zero);
	__u64 one = 1, n = 1, *count;
	struct event *e;

	if (!target || *target != tgid)
		return 0;
	count = bpf_map_lookup_elem(&counts, &tgid);
	if (count)
		n = __sync_fetch_and_add(count, 1) + 1;
	else
		bpf_map_update_elem(&counts, &tgid, &one, BPF_NOEXIST);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tgid = tgid;
	e->pad = 0;
	e->count = n;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
