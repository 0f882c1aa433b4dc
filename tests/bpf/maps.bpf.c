// SPDX-License-Identifier: GPL-2.0
/* Maps of several key/value shapes, for the Map tests (no program logic needed). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair {
	__u32 a;
	__u32 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __s64);
} signed_vals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct pair);
	__type(value, __u64);
} struct_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u16);
} small_array SEC(".maps");

/* tcptop's key shape: IPv6 addresses as unsigned __int128, plus an array and a nested struct */
struct ip_key {
	unsigned __int128 saddr;
	unsigned __int128 daddr;
	__u32 pid;
	__u16 ports[2];
	struct pair inner;
	char comm[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct ip_key);
	__type(value, __int128);
} ip_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} percpu SEC(".maps");

__u32 initial_glob = 7; /* .data: its initial value is set from Python before load */

struct locked_val {
	struct bpf_spin_lock lock;
	__u32 v;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct locked_val);
} locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} mmapped SEC(".maps");

/* configured from Python before load (value size, flags, max_entries, numa node) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__uint(key_size, 4);
	__uint(value_size, 4);
} configurable SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int touch(void *ctx)
{
	/* signed_vals[1] holds the test's pid; for its calls only, signed_vals[0] -= 1 */
	__u32 k = 1, tgid = bpf_get_current_pid_tgid() >> 32;
	__s64 *target = bpf_map_lookup_elem(&signed_vals, &k), *v;

	k = 0;
	v = bpf_map_lookup_elem(&signed_vals, &k);
	if (v && target && *target == tgid)
		__sync_fetch_and_add(v, -1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
