// SPDX-License-Identifier: GPL-2.0
/* Records the attach cookie seen by each of two programs, for this test's process only.
 * Tracepoint programs read cookies since 5.15, raw_tp ones since 6.10: tests set these from
 * libbpf_py.features before load (conftest.load_cookie), and the verifier drops the calls the
 * kernel would refuse. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

const volatile __u8 tp_cookie = 1, raw_tp_cookie = 1;

static __always_inline int record(void *ctx, __u32 slot, int with_cookie)
{
	__u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *target = bpf_map_lookup_elem(&config, &zero);
	__u64 cookie = with_cookie ? bpf_get_attach_cookie(ctx) : 0;

	if (target && *target == tgid)
		bpf_map_update_elem(&seen, &slot, &cookie, BPF_ANY);
	return 0;
}

/* No target in SEC(): Object.attach() must skip it, attach_tracepoint() attaches it. */
SEC("tracepoint")
int manual_tp(void *ctx)
{
	return record(ctx, 1, tp_cookie);
}

/* libbpf's generic raw tracepoint section; attached explicitly with a name. */
SEC("raw_tp")
int manual_raw(void *ctx)
{
	return record(ctx, 2, raw_tp_cookie);
}

char LICENSE[] SEC("license") = "GPL";
