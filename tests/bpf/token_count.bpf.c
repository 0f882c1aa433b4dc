// SPDX-License-Identifier: GPL-2.0
/* Loaded by an unprivileged process through a BPF token: counts one process's getppid() calls
 * from the raw sys_enter tracepoint (a raw_tracepoint program: no perf event to open). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define NR_GETPPID 110 /* x86_64; 173 on arm64, set by the loader */

const volatile __u32 target_tgid = 0;
const volatile __u64 nr_getppid = NR_GETPPID;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int count_getppid(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	__u64 *n;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid || ctx->args[1] != nr_getppid)
		return 0;
	n = bpf_map_lookup_elem(&counts, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
