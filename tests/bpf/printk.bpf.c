// SPDX-License-Identifier: GPL-2.0
/* bpf_printk() a marker for this test's getppid() calls. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int say(void *ctx)
{
	__u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *target = bpf_map_lookup_elem(&config, &zero);

	if (target && *target == tgid)
		bpf_printk("libbpf_py says %u", tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
