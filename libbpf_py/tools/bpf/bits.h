/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* log2 buckets for histograms, the convention libbpf_py.utils.histogram prints: slot i holds the values
 * v with 2^i <= v < 2^(i+1); slot 0 also holds 0. */
#ifndef LIBBPF_PY_TOOLS_BITS_H
#define LIBBPF_PY_TOOLS_BITS_H

static __always_inline __u64 log2_u32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

#endif
