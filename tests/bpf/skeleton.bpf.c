// SPDX-License-Identifier: GPL-2.0
/* A skeleton's every kind of global (ints, arrays, structs, enums, a custom section), hash maps
 * with struct keys and values, and ring buffer events of a type only a local pointer uses. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "skeleton.h"

enum mode { MODE_OFF = 0, MODE_COUNT = 1, MODE_ALL = 7 };

struct limits {
	__u32 min;
	__u32 max;
};

struct flow_key {
	__u32 pid;
	__u16 port;
	__u8 proto;
};

struct flow_val {
	__u64 packets;
	__u64 bytes;
	enum mode mode;
};

const volatile __u32 target_pid = 0;
const volatile enum mode mode = MODE_OFF;
const volatile struct limits limits = { .min = 1, .max = 100 };
__u32 step = 2;				/* .data */
__u64 counters[4];			/* .bss */
struct limits seen;			/* .bss, a struct */
__u32 custom_hits SEC(".data.custom") = 5;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int tick(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct flow_key key;
	struct flow_val val = { .packets = 1, .bytes = limits.max, .mode = mode };
	struct flow_val *old;
	struct event *e;
	__u32 zero = 0;
	__u64 *t;

	if (pid != target_pid || mode == MODE_OFF)
		return 0;
	__builtin_memset(&key, 0, sizeof(key));	/* the padding is part of the key */
	key.pid = pid;
	key.port = 80;
	key.proto = 6;
	old = bpf_map_lookup_elem(&flows, &key);
	if (old) {
		old->packets += 1;
		old->bytes += limits.max;
	} else {
		bpf_map_update_elem(&flows, &key, &val, BPF_ANY);
	}
	counters[1] += step;
	seen.min = limits.min;
	seen.max = limits.max;
	custom_hits += 1;
	t = bpf_map_lookup_elem(&totals, &zero);
	if (t)
		*t += 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->step = step;
	__builtin_memcpy(e->tag, "skel", 5);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
