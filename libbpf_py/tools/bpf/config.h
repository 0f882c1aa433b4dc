/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The per-run settings every tool reads: a u32 array map "config" that the Python side writes
 * after load, before attach. Include it after defining CFG_MAX (the number of slots); slot 0 is
 * always "only this tgid (0: every process)". */
#ifndef LIBBPF_PY_TOOLS_CONFIG_H
#define LIBBPF_PY_TOOLS_CONFIG_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_MAX);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

static __always_inline __u32 cfg(__u32 slot)
{
	__u32 *v = bpf_map_lookup_elem(&config, &slot);

	return v ? *v : 0;
}

/* True when a tgid filter is set (slot 0) and tgid is not the one wanted. */
static __always_inline int skip_tgid(__u32 tgid)
{
	__u32 want = cfg(0);

	return want && want != tgid;
}

#endif
