// SPDX-License-Identifier: GPL-2.0
/* A cold start's shape: one auto-attached tracepoint program and a map no one touches until
 * after load. The queue map's BTF value type is zeroed by libbpf at load (the kernel takes no
 * BTF for queues): a Map made after load must still convert its values as __u32. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 64);
	__type(value, __u32);
} jobs SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 v = 42;

	bpf_map_push_elem(&jobs, &v, BPF_EXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
