// SPDX-License-Identifier: GPL-2.0
/* A BPF_MAP_TYPE_STRUCT_OPS map declared in SEC(".maps") instead of as a struct in
 * SEC(".struct_ops"): clang compiles it, libbpf 1.7 opens it and then crashes loading it
 * (bpf_map__init_kern_struct_ops dereferences the map's missing st_ops), or on
 * bpf_map__initial_value(). libbpf_py refuses it at open (test_stress.py). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_STRUCT_OPS);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, int);
} so SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
