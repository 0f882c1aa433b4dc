// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Perf buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY) read in batches: the readers behind libbpf_py's
 * PerfBuffer (its callbacks, read(), read_array()), and the perf buffer it opens. Declared in
 * libbpf_py/_ffi/stream.py; what they share with ringbuf.c, and the output layout of
 * lbpy_perf_read(_all), is in stream.h.
 *
 * A perf buffer is libbpf's perf_buffer: one ring per CPU, each as perf_buffer__buffer() returns
 * it: base is the perf_event_mmap_page, followed (one page later) by a data area of size bytes
 * (a power of two) in which records wrap around the end. libbpf_py reads these rings itself and
 * never calls perf_buffer__poll/consume, which call a C callback per record.
 *
 * What a libbpf upgrade (or a kernel ABI change) must re-check here:
 *   - perf_walk mirrors libbpf/src/libbpf.c perf_event_read_simple() (the consumer loop:
 *     data_head read with acquire by ring_buffer_read_head(), records from data_tail on, each
 *     starting with a struct perf_event_header whose size is the whole record, data_tail
 *     published with release by ring_buffer_write_tail()) and perf_buffer__process_record()
 *     (PERF_RECORD_SAMPLE is a struct perf_sample_raw { header; u32 size; char data[]; },
 *     PERF_RECORD_LOST a struct perf_sample_lost { header; u64 id; u64 lost; ... }). Unlike
 *     libbpf, other record types are skipped (libbpf stops with an error), and a record that
 *     wraps is copied piecewise instead of into a malloc'ed buffer. The kernel ABI: struct
 *     perf_event_mmap_page's data_head/data_tail and the records (include/uapi/linux/
 *     perf_event.h); records are 8-byte aligned (kernel/events/ring_buffer.c), so a record's
 *     8-byte header never wraps; bpf_perf_event_output() samples are PERF_SAMPLE_RAW with a raw
 *     size the kernel pads so that the size field + data end 8-byte aligned.
 *   - lbpy_perf_buffer_new mirrors libbpf/src/libbpf.c perf_buffer__new()'s default
 *     perf_event_attr (a BPF output software event, raw samples, sample_period 1).
 */
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "libbpf.h"
#include "lbpy.h"
#include "stream.h"

/* The page size (the data area starts one page after the perf_event_mmap_page), asked once. */
static inline size_t page_size(void)
{
	static size_t cached;
	size_t p = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (!p) {
		p = (size_t)sysconf(_SC_PAGESIZE);
		__atomic_store_n(&cached, p, __ATOMIC_RELAXED);
	}
	return p;
}

/* Consume a perf ring up to tail (from lbpy_perf_peek): the kernel may reuse the space
 * (libbpf: ring_buffer_write_tail() at the end of perf_event_read_simple()). */
LBPY_API void lbpy_perf_commit(void *base, unsigned long long tail)
{
	struct perf_event_mmap_page *page = base;

	__atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

/* --- the record walker ------------------------------------------------------------------------ */

/* One per-CPU ring's data area. */
struct perf_ring {
	const unsigned char *data;
	size_t size; /* a power of two */
};

/* A record, as perf_walk shows it to a visitor. */
struct perf_rec {
	__u64 pos;         /* the tail at its header */
	size_t at;         /* offset of its header in the data area (pos & (size - 1)) */
	__u32 type;        /* PERF_RECORD_* */
	__u32 size;        /* the whole record, header included */
	int wraps;         /* it runs past the end of the data area */
	__u32 raw;         /* PERF_RECORD_SAMPLE: the raw size (the data follows this u32) */
	__u64 lost;        /* PERF_RECORD_LOST: the number of samples lost */
};

/* Where a sample's data starts, as an offset from its header. */
#define PERF_SAMPLE_DATA (sizeof(struct perf_event_header) + sizeof(__u32))

typedef enum lbpy_walk perf_visit_fn(void *ctx, const struct perf_ring *ring,
				     const struct perf_rec *rec);

/*
 * Walk the records of one per-CPU ring from its data_tail on, showing each one to visit (with
 * the raw size of a sample and the count of a lost record already read), until the ring is empty
 * or visit says stop. Returns the tail after the last record visit went past. Consumes nothing:
 * the caller publishes that tail (lbpy_perf_read) or hands it to Python (lbpy_perf_peek:
 * lbpy_perf_commit later). Mirrors libbpf/src/libbpf.c perf_event_read_simple() and
 * perf_buffer__process_record() (see the top of this file).
 */
LBPY_INLINE __u64 perf_walk(void *base, size_t size, perf_visit_fn *visit, void *ctx)
{
	struct perf_event_mmap_page *page = base;
	struct perf_ring ring = { (unsigned char *)base + page_size(), size };
	__u64 head = __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
	__u64 tail = page->data_tail;
	struct perf_event_header eh;
	struct perf_rec rec; /* filled from locals, never address-taken: it stays in registers */
	enum lbpy_walk next;
	size_t at;
	__u32 raw;
	__u64 lost;

	while (tail < head) {
		at = (size_t)(tail & (size - 1));
		memcpy(&eh, ring.data + at, sizeof(eh)); /* 8-byte aligned: never wraps */
		rec.pos = tail;
		rec.at = at;
		rec.type = eh.type;
		rec.size = eh.size;
		rec.wraps = at + eh.size > size;
		if (eh.type == PERF_RECORD_SAMPLE) {
			if (!rec.wraps) /* the common case */
				memcpy(&raw, ring.data + at + sizeof(eh), sizeof(raw));
			else
				lbpy_copy_wrapped((unsigned char *)&raw, ring.data, size,
						  tail + sizeof(eh), sizeof(raw));
			rec.raw = raw;
		} else if (eh.type == PERF_RECORD_LOST) {
			/* struct perf_sample_lost { header; u64 id; u64 lost; } */
			lbpy_copy_wrapped((unsigned char *)&lost, ring.data, size,
					  tail + sizeof(eh) + 8, sizeof(lost));
			rec.lost = lost;
		}
		next = visit(ctx, &ring, &rec);
		if (next == LBPY_WALK_STOP)
			break;
		tail += eh.size;
		if (next == LBPY_WALK_LAST)
			break;
	}
	return tail;
}

/* --- lbpy_perf_read(_all): copy samples out ------------------------------------------------------
 * Samples from bpf_perf_event_output carry a u32 raw size that the kernel pads so that size field
 * + data end 8-byte aligned: in fixed mode a sample of rec_size bytes arrives with raw size
 * round_up(rec_size + 4, 8) - 4 and rec_size bytes are copied; in variable mode lens[i] is the
 * raw size, as libbpf's sample callbacks see it. PERF_RECORD_LOST records add their count to
 * *lost. */

struct perf_read {
	struct lbpy_out out;
	unsigned int padded; /* fixed mode: the raw size of a rec_size sample */
	unsigned int pending;
	unsigned long long lost;
};

LBPY_INLINE enum lbpy_walk perf_read_visit(void *ctx, const struct perf_ring *ring,
					   const struct perf_rec *rec)
{
	struct perf_read *rd = ctx;
	unsigned int rec_size = rd->out.rec_size;
	unsigned int n = rec_size ? rec_size : rec->raw;
	unsigned char *dst;

	if (rd->out.count >= rd->out.max_records)
		return LBPY_WALK_STOP;
	if (rec->type == PERF_RECORD_LOST) {
		rd->lost += rec->lost;
		return LBPY_WALK_NEXT;
	}
	if (rec->type != PERF_RECORD_SAMPLE)
		return LBPY_WALK_NEXT;
	/* fixed mode: the record belongs if its padded raw size is rec_size's */
	dst = lbpy_out_slot(&rd->out, rec->raw,
			    rec_size && rec->raw == rd->padded ? rec_size : rec->raw);
	if (!dst) {
		rd->pending = rec->raw;
		return LBPY_WALK_STOP;
	}
	if (!rec->wraps)
		lbpy_copy(dst, ring->data + rec->at + PERF_SAMPLE_DATA, n);
	else
		lbpy_copy_wrapped(dst, ring->data, ring->size, rec->pos + PERF_SAMPLE_DATA, n);
	return LBPY_WALK_NEXT;
}

/* Copy the samples of one per-CPU ring into rd->out and count lost samples into rd->lost;
 * publish the new tail. */
LBPY_INLINE void perf_read_ring(void *base, size_t size, struct perf_read *rd)
{
	struct perf_event_mmap_page *page = base;
	__u64 tail = perf_walk(base, size, perf_read_visit, rd);

	__atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

static unsigned int padded_raw_size(unsigned int rec_size)
{
	return rec_size ? ((rec_size + 4 + 7) & ~7U) - 4 : 0;
}

/* Copy the samples of one per-CPU perf buffer (layout in stream.h, sizes above) and add the
 * number of lost samples to *lost. */
LBPY_API size_t lbpy_perf_read(void *base, size_t size, void *buf, size_t cap, unsigned int *lens,
			       size_t max_records, unsigned int rec_size, unsigned int *pending,
			       unsigned long long *lost)
{
	struct perf_read rd = { { buf, cap, 0, lens, 0, max_records, rec_size },
				padded_raw_size(rec_size), 0, 0 };

	perf_read_ring(base, size, &rd);
	*pending = rd.pending;
	*lost += rd.lost;
	return rd.out.count;
}

/* lbpy_perf_read over the nbufs per-CPU buffers of one perf buffer (all of `size` bytes) in one
 * call, their records one after the other in buf: counts[i] records come from bases[i],
 * lost[i] is added the lost samples of bases[i], and *pending is the first ring's nonzero
 * pending length (the reader goes on with the next ring). One ctypes call per read, however
 * many CPUs. */
LBPY_API size_t lbpy_perf_read_all(void **bases, size_t nbufs, size_t size, void *buf, size_t cap,
				   unsigned int *lens, size_t max_records, unsigned int rec_size,
				   size_t *counts, unsigned long long *lost, unsigned int *pending)
{
	struct perf_read rd = { { buf, cap, 0, lens, 0, max_records, rec_size },
				padded_raw_size(rec_size), 0, 0 };
	size_t i, before;

	*pending = 0;
	for (i = 0; i < nbufs; i++) {
		before = rd.out.count;
		rd.pending = 0;
		rd.lost = 0;
		perf_read_ring(bases[i], size, &rd);
		counts[i] = rd.out.count - before;
		lost[i] += rd.lost;
		if (rd.pending && !*pending)
			*pending = rd.pending;
	}
	return rd.out.count;
}

/* --- lbpy_perf_peek: where samples are, for per-event callbacks ------------------------------- */

struct perf_peek {
	unsigned long *starts, *stops;
	unsigned long long *ends;
	size_t n, max;
	unsigned int min_len, short_len;
	unsigned char *scratch;
	size_t scratch_cap;
	unsigned long long lost;
};

LBPY_INLINE enum lbpy_walk perf_peek_visit(void *ctx, const struct perf_ring *ring,
					   const struct perf_rec *rec)
{
	struct perf_peek *pk = ctx;

	if (pk->n >= pk->max)
		return LBPY_WALK_STOP;
	if (rec->type == PERF_RECORD_LOST) {
		if (pk->n)
			return LBPY_WALK_STOP; /* report it after the samples before it */
		pk->lost = rec->lost;
		return LBPY_WALK_LAST;
	}
	if (rec->type != PERF_RECORD_SAMPLE)
		return LBPY_WALK_NEXT; /* other record types: skipped */
	if (rec->raw < pk->min_len) {
		pk->short_len = rec->raw;
		return LBPY_WALK_STOP;
	}
	if (!rec->wraps) {
		pk->starts[pk->n] = rec->at + PERF_SAMPLE_DATA;
	} else {
		if (pk->n || rec->raw > pk->scratch_cap)
			return LBPY_WALK_STOP; /* alone, next time (raw > 64 KiB can't happen) */
		lbpy_copy_wrapped(pk->scratch, ring->data, ring->size, rec->pos + PERF_SAMPLE_DATA,
				  rec->raw);
		pk->starts[pk->n] = ring->size;
	}
	pk->stops[pk->n] = pk->starts[pk->n] + rec->raw;
	pk->ends[pk->n++] = rec->pos + rec->size;
	return rec->wraps ? LBPY_WALK_LAST : LBPY_WALK_NEXT;
}

/* Find up to max samples of at least min_len bytes (raw size) in one per-CPU perf ring (as for
 * lbpy_perf_read) from its tail on, without consuming them, for callbacks that get zero-copy
 * views: sample i is at [starts[i], stops[i]) of the data area (offsets; the length is the raw
 * size), and ends[i] the tail just after it; *end is the tail after the last record examined.
 * A sample that wraps around the end of the data area is copied to scratch (scratch_cap bytes;
 * a perf record is at most 64 KiB) and returned alone, with starts[0] = size (stops[0] = size +
 * its length). A PERF_RECORD_LOST record is returned alone too: no samples, its count in *lost
 * (so lost counts and samples stay in order). Stops before a sample shorter than min_len
 * (*short_len = its length, else 0). Consume with lbpy_perf_commit. */
LBPY_API size_t lbpy_perf_peek(void *base, size_t size, unsigned long *starts, unsigned long *stops,
			       unsigned long long *ends, size_t max, unsigned int min_len,
			       void *scratch, size_t scratch_cap, unsigned long long *end,
			       unsigned long long *lost, unsigned int *short_len)
{
	struct perf_peek pk = { starts, stops, ends, 0, max, min_len, 0, scratch, scratch_cap, 0 };

	*end = perf_walk(base, size, perf_peek_visit, &pk);
	*lost = pk.lost;
	*short_len = pk.short_len;
	return pk.n;
}

/* --- perf buffer with a chosen wakeup -----------------------------------------------------------
 * libbpf's perf_buffer__new opens every per-CPU event with wakeup_events = 1: one wakeup (an
 * interrupt and an epoll return) per sample. perf_buffer__new_raw takes any perf_event_attr, and
 * an event callback for perf_buffer__poll/consume. libbpf_py reads the rings itself
 * (lbpy_perf_peek/lbpy_perf_read over perf_buffer__buffer) and never calls those two, so the
 * callback only has to exist: it skips records. */
static enum bpf_perf_event_ret lbpy_perf_skip(void *ctx, int cpu, struct perf_event_header *e)
{
	return LIBBPF_PERF_EVENT_CONT;
}

/* perf_buffer__new_raw for map_fd with libbpf's default attributes (a BPF output software event,
 * raw samples) except the wakeup: every `wakeup` samples, or, with wakeup_bytes set, when
 * `wakeup` bytes are waiting. NULL with errno set on failure. */
LBPY_API struct perf_buffer *lbpy_perf_buffer_new(int map_fd, size_t page_cnt, unsigned int wakeup,
						  int wakeup_bytes)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_BPF_OUTPUT;
	attr.sample_type = PERF_SAMPLE_RAW;
	attr.sample_period = 1;
	if (wakeup_bytes) {
		attr.watermark = 1;
		attr.wakeup_watermark = wakeup;
	} else {
		attr.wakeup_events = wakeup ? wakeup : 1;
	}
	return perf_buffer__new_raw(map_fd, page_cnt, &attr, lbpy_perf_skip, NULL, NULL);
}
