// SPDX-License-Identifier: GPL-2.0
/* Rejected by the verifier: dereferences a hash map value without the NULL check
 * (a hash map: recent kernels know an array lookup with a constant in-range key is never NULL). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} store SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int unchecked_deref(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&store, &zero);

	*v += 1; /* no NULL check: the verifier must refuse this */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
