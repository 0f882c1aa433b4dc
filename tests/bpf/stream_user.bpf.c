// SPDX-License-Identifier: GPL-2.0
/* The user ring buffer (6.1), apart from stream_events.bpf.c so that the ring and perf buffer
 * tests load on kernels without it. Filtered to the test's process (cfg[CFG_TGID]).
 *
 * - getsid(): drains the user ring buffer `urb` with bpf_user_ringbuf_drain; every struct
 *   user_msg read adds one to res[RES_COUNT], a to res[RES_SUM_A], b * (index + 1) to
 *   res[RES_WEIGHTED]; the drain's return (records drained) goes to res[RES_RET].
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bump.h"

enum { CFG_TGID, CFG_N };
enum { RES_COUNT, RES_SUM_A, RES_WEIGHTED, RES_RET, RES_N };

struct user_msg {
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_N);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RES_N);
	__type(key, __u32);
	__type(value, __s64);
} res SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 * 1024);
} urb SEC(".maps");

/* Keep BTF for the type user space reads by name. */
struct user_msg _user_msg = {};

static int mine(void)
{
	__u32 key = CFG_TGID;
	__u64 *tgid = bpf_map_lookup_elem(&cfg, &key);

	return tgid && *tgid == (bpf_get_current_pid_tgid() >> 32);
}

static void res_add(__u32 key, __s64 n)
{
	__s64 *v = bpf_map_lookup_elem(&res, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

static long drain_one(struct bpf_dynptr *dynptr, void *ctx)
{
	struct user_msg m;
	__u32 key = RES_COUNT;
	__s64 *count = bpf_map_lookup_elem(&res, &key);
	__s64 index;

	if (!count)
		return 1;
	if (bpf_dynptr_read(&m, sizeof(m), dynptr, 0, 0))
		return 1;
	index = bump(count) - 1;
	res_add(RES_SUM_A, m.a);
	res_add(RES_WEIGHTED, m.b * (index + 1));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getsid")
int drain_user(void *ctx)
{
	__u32 key = RES_RET;
	__s64 ret;

	if (!mine())
		return 0;
	ret = bpf_user_ringbuf_drain(&urb, drain_one, NULL, 0);
	bpf_map_update_elem(&res, &key, &ret, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
