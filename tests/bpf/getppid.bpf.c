// SPDX-License-Identifier: GPL-2.0
/* Counts getppid() calls of one target process and streams one event per call. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bump.h"

struct event {
	__u32 pid;
	__u32 seq;
	__u64 magic;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *target = bpf_map_lookup_elem(&config, &zero);
	__u64 one = 1, n = 1, *count;
	struct event *e;

	if (!target || *target != tgid)
		return 0;
	count = bpf_map_lookup_elem(&counts, &tgid);
	if (count)
		n = bump(count);
	else
		bpf_map_update_elem(&counts, &tgid, &one, BPF_NOEXIST);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = tgid;
	e->seq = n;
	e->magic = 0xfeedf00dcafeULL;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
