/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the attach_*.bpf.c test programs: `config[0]` is the tgid whose events count,
 * `config[1..]` are per-test parameters; results go to `results[slot]` (u64 each). */
#pragma once
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "bump.h"

/* bpf_get_attach_cookie(ctx) where the kernel has it (5.15), else 0: on older kernels libbpf's
 * CO-RE enum check turns the call into dead code the verifier never sees (as libbpf-tools do). */
enum bpf_func_id___local { BPF_FUNC_get_attach_cookie___local = 174 };
#define attach_cookie(ctx)                                                                        \
	(bpf_core_enum_value_exists(enum bpf_func_id___local, BPF_FUNC_get_attach_cookie___local) \
		 ? bpf_get_attach_cookie(ctx)                                                     \
		 : 0)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline __u64 cfg(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&config, &slot);

	return v ? *v : 0;
}

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == cfg(0);
}

static __always_inline void set(__u32 slot, __u64 value)
{
	__u64 *v = bpf_map_lookup_elem(&results, &slot);

	if (v)
		*v = value;
}

static __always_inline void add(__u32 slot, __u64 value)
{
	__u64 *v = bpf_map_lookup_elem(&results, &slot);

	if (v)
		__sync_fetch_and_add(v, value);
}
