// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Maps for bench/exporter/run.py: filled from user space, scraped as Prometheus metrics. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define ENTRIES 131072

/* syscount's shape: an int key (one label), an int value */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} by_int SEC(".maps");

struct flow {
	__u32 saddr;
	__u32 daddr;
	__u16 dport;
	__u16 pad;
	__u32 pid;
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

/* a struct key (four labels, one an address), a struct value */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENTRIES);
	__type(key, struct flow);
	__type(value, struct counters);
} by_flow SEC(".maps");

/* one count per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int unused(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
