// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* For test_cli.py's inspect/map dump: typed maps (one pinned by name), globals in every data
 * section, CO-RE relocations on a locally declared kernel struct, two programs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum colour { RED = 1, GREEN = 2 };

struct event {
	__u32 pid;
	char comm[8];
	enum colour colour;
	__u64 total;
};

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct event);
} events_by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct event);
	__type(value, int);
} by_event SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} percpu_hits SEC(".maps");

const volatile __u32 target_pid = 42;
const volatile char greeting[6] = "hello";
int counter = -7;
struct event last_event;
__u64 bss_total;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);

	if (target_pid && tgid != target_pid)
		return 0;
	last_event.pid = ppid;
	last_event.total = bpf_core_field_size(task->tgid) + bpf_core_field_exists(task->real_parent);
	counter++;
	return 0;
}

SEC("cgroup/connect4")
int on_connect4(struct bpf_sock_addr *ctx)
{
	bss_total += greeting[0];
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
