/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private to ringbuf.c and perfbuf.c (not exported): what their readers share.
 *
 * Both read event streams without a C-to-Python transition per record. A ctypes callback costs
 * one per record (a few hundred ns); instead each exported function handles many records per
 * ctypes call (which releases the GIL), and none blocks:
 *   - lbpy_ring_read / lbpy_perf_read(_all) copy records into a caller-provided buffer (a
 *     bytearray or a numpy array's memory): the batch reads;
 *   - lbpy_ring_peek / lbpy_perf_peek (and lbpy_ring_runs) list where records are without
 *     consuming them, and lbpy_ring_commit / lbpy_perf_commit consume them: Python then calls
 *     per-event callbacks in a plain loop, on zero-copy views of the records.
 *
 * Output layout of the *_read functions (struct lbpy_out):
 *   - rec_size == 0 ("variable"): records back to back (no padding) in buf, lens[i] = length of
 *     record i; the reader stops before the first record that does not fit in cap.
 *   - rec_size  > 0 ("fixed"): record i at buf + i * rec_size; lens may be NULL; the reader stops
 *     before the first record whose length is not rec_size (left in the ring for another reader).
 * In both modes at most max_records are copied, and *pending is set to the length of the record
 * the reader stopped before (0 when it stopped because the ring was empty or max_records reached).
 * The return value is the number of records copied.
 *
 * Each file has one record walker (ring_walk, perf_walk): the consumer loop over the kernel's
 * ring, mirroring libbpf's, with a visitor per exported function. Walkers and visitors are
 * inlined into each exported function (always_inline, visitors passed as constants), so the
 * compiled loops are what hand-written ones would be.
 */
#ifndef LBPY_STREAM_H
#define LBPY_STREAM_H

#include <string.h>

#define LBPY_INLINE static inline __attribute__((always_inline))
/* Branch hints for the walkers: the compiler then lays the per-record path out straight (measured:
 * without them the ring walker costs 1-2 instructions more per record than hand-written loops). */
#define lbpy_likely(x) __builtin_expect(!!(x), 1)
#define lbpy_unlikely(x) __builtin_expect(!!(x), 0)

/* What a visitor tells its walker about the record it was shown. */
enum lbpy_walk {
	LBPY_WALK_STOP, /* stop before this record: it stays in the ring */
	LBPY_WALK_NEXT, /* go past it (consumed or skipped) and on to the next one */
	LBPY_WALK_LAST, /* go past it, then stop */
};

/* Where the *_read functions put records (layout above). */
struct lbpy_out {
	unsigned char *buf;
	size_t cap, used;
	unsigned int *lens;
	size_t count, max_records;
	unsigned int rec_size;
};

/* memcpy, with the common small event sizes as compile-time constants: the compiler then copies
 * with a few register moves instead of a call (the copy is most of a batch read's cost). */
static inline void lbpy_copy(void *dst, const void *src, unsigned int n)
{
	switch (n) {
	case 8: memcpy(dst, src, 8); break;
	case 16: memcpy(dst, src, 16); break;
	case 24: memcpy(dst, src, 24); break;
	case 32: memcpy(dst, src, 32); break;
	case 48: memcpy(dst, src, 48); break;
	case 64: memcpy(dst, src, 64); break;
	case 128: memcpy(dst, src, 128); break;
	default: memcpy(dst, src, n); break;
	}
}

/* Copy n bytes from offset off of a ring's data area of size bytes (a power of two), wrapping
 * around its end (perf rings; a BPF ring's data is mapped twice and never wraps). */
static inline void lbpy_copy_wrapped(unsigned char *dst, const unsigned char *data, size_t size,
				     unsigned long long off, size_t n)
{
	size_t at = (size_t)(off & (size - 1)), first = size - at;

	if (first >= n) {
		memcpy(dst, data + at, n);
	} else {
		memcpy(dst, data + at, first);
		memcpy(dst + first, data, n - first);
	}
}

/* Reserve room in out for one record of len bytes that counts as `want` bytes in fixed mode;
 * NULL when it does not belong to this batch (wrong size, no room). */
static inline unsigned char *lbpy_out_slot(struct lbpy_out *out, unsigned int len,
					   unsigned int want)
{
	unsigned char *dst;

	if (out->rec_size) {
		if (want != out->rec_size)
			return NULL;
		dst = out->buf + out->count * out->rec_size;
	} else {
		if (out->used + len > out->cap)
			return NULL;
		dst = out->buf + out->used;
		out->lens[out->count] = len;
		out->used += len;
	}
	out->count++;
	return dst;
}

#endif /* LBPY_STREAM_H */
