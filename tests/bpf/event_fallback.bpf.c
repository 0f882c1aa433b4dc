// SPDX-License-Identifier: GPL-2.0
/* Streaming one event per getppid() of one process through a ring buffer or a perf buffer,
 * chosen by user space before load, the two ways ported tools do it:
 * - two programs, one per buffer kind (emit_rb -> rb, emit_pb -> pb): the unused program's
 *   autoload and the unused map's autocreate are turned off;
 * - libbpf-tools' compat.bpf.h: one map "events" declared as a RINGBUF, retyped to a
 *   PERF_EVENT_ARRAY (type, key_size, value_size) when ring buffers are not wanted, a per-CPU
 *   "heap" for the perf path (autocreate off on the ring path), and a rodata knob. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 kind; /* 1: ring buffer, 2: perf buffer */
	__u64 magic;
};

const volatile __u32 target_pid = 0;
const volatile bool use_ringbuf = true;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct event);
} heap SEC(".maps");

static __always_inline bool mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int emit_rb(void *ctx)
{
	struct event e = { .pid = target_pid, .kind = 1, .magic = 0xfa11bac0 };

	if (mine())
		bpf_ringbuf_output(&rb, &e, sizeof(e), 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int emit_pb(void *ctx)
{
	struct event e = { .pid = target_pid, .kind = 2, .magic = 0xfa11bac0 };

	if (mine())
		bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int emit_compat(void *ctx)
{
	struct event *e;
	int zero = 0;

	if (!mine())
		return 0;
	if (use_ringbuf)
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	else
		e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		return 0;
	e->pid = target_pid;
	e->kind = use_ringbuf ? 1 : 2;
	e->magic = 0xfa11bac0;
	if (use_ringbuf)
		bpf_ringbuf_submit(e, 0);
	else
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
