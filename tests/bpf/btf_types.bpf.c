// SPDX-License-Identifier: GPL-2.0
/* Types with every BTF shape the typed layer handles: typedef, bitfields (signed too), char
 * array, nested struct, union, anonymous struct, pointer, 2-D array, enum. (clang 14 emits no
 * signed-enum flag and no ENUM64, so the enum stays non-negative and 32-bit.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef __u32 my_u32;

enum level { LOW = 1, MID = 2, HIGH = 1 << 20 };

struct inner {
	__u16 lo;
	__u16 hi;
};

union either {
	__u32 word;
	__u8 bytes[4];
};

struct rec {
	my_u32 id;
	__u8 kind : 3;
	__u8 prio : 4;
	__s8 delta : 5;
	char name[12];
	struct inner in;
	union either u;
	enum level lvl;
	__u64 big;
	struct {
		int ax;
		int ay;
	};
	void *ptr;
	__u64 arr[2][3];
};

struct rec rec_sample = {
	.id = 7, .kind = 5, .prio = 9, .delta = -3, .name = "sample", .in = { 1, 2 },
	.u = { .word = 0x01020304 }, .lvl = HIGH, .big = 1ULL << 40, .ax = -10, .ay = 20,
	.arr = { { 1, 2, 3 }, { 4, 5, 6 } },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct rec);
} recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct inner);
	__type(value, enum level);
} levels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, char[16]);
} names SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int copy_sample(void *ctx)
{
	__u32 k = bpf_get_current_pid_tgid() >> 32;
	struct inner key = { .lo = 1, .hi = 2 };
	enum level v = MID;

	if (rec_sample.id != k)
		return 0;
	bpf_map_update_elem(&recs, &k, &rec_sample, BPF_ANY);
	bpf_map_update_elem(&levels, &key, &v, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
