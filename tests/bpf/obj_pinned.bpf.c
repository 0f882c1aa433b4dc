// SPDX-License-Identifier: GPL-2.0
/* A map pinned by name (reused across loads under pin_root_path) and an unpinned one. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} private_map SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int touch(void *ctx)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&shared, &k);

	if (v)
		bpf_map_update_elem(&private_map, &k, v, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
