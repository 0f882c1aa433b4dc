// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF ring buffers (BPF_MAP_TYPE_RINGBUF) read in batches: the readers behind libbpf_py's
 * RingBuffer (its callbacks, read(), read_array(), consume_array()). Declared in
 * libbpf_py/_ffi/stream.py; what they share with perfbuf.c, and the output layout of
 * lbpy_ring_read, is in stream.h.
 *
 * Why not libbpf's ring_buffer__consume(): it calls a C callback per record and consumes each
 * record before the callback sees it, so it can neither leave a record that does not fit a batch
 * in the ring nor hand Python many records without a per-record transition. So the shim maps
 * the ring itself and walks it, as libbpf does.
 *
 * What a libbpf upgrade (or a kernel ABI change) must re-check here:
 *   - lbpy_ring_open mirrors libbpf/src/ringbuf.c ring_buffer__add(): the consumer page mapped
 *     read-write at offset 0, the producer page + the data area read-only at offset page_size,
 *     2 * max_entries bytes of data (the kernel maps the data twice back to back, so a record
 *     never wraps), mask = max_entries - 1.
 *   - ring_walk mirrors libbpf/src/ringbuf.c ringbuf_process_ring() and roundup_len(): the
 *     positions and each record's header read with acquire, BPF_RINGBUF_BUSY_BIT (not committed
 *     yet: stop), BPF_RINGBUF_DISCARD_BIT (skip), the BPF_RINGBUF_HDR_SZ (8-byte) header, the
 *     record length rounded up to 8, the consumer position published with release. The bits
 *     and the header size are the kernel's UAPI (include/uapi/linux/bpf.h; kernel/bpf/ringbuf.c
 *     writes them).
 * Both mappings share the kernel's pages: this reader and a libbpf ring_buffer on the same map
 * see (and advance) the same consumer position.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/bpf.h>

#include "bpf.h"
#include "lbpy.h"
#include "stream.h"

struct lbpy_ring {
	unsigned long *consumer_pos; /* read-write page */
	unsigned long *producer_pos; /* read-only: producer page, then the data twice */
	unsigned char *data;
	unsigned long mask;
	size_t page_size;
	size_t data_map_len;
};

/* Map the ring buffer map map_fd for batch reads; NULL with errno set on failure. */
LBPY_API struct lbpy_ring *lbpy_ring_open(int map_fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct lbpy_ring *r;
	void *p;
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_map_get_info_by_fd(map_fd, &info, &len);
	if (err)
		return errno = -err, NULL;
	if (info.type != BPF_MAP_TYPE_RINGBUF)
		return errno = EINVAL, NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return errno = ENOMEM, NULL;
	r->page_size = (size_t)sysconf(_SC_PAGESIZE);
	r->mask = info.max_entries - 1;
	p = mmap(NULL, r->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	r->consumer_pos = p;
	r->data_map_len = r->page_size + 2 * (size_t)info.max_entries;
	p = mmap(NULL, r->data_map_len, PROT_READ, MAP_SHARED, map_fd, (off_t)r->page_size);
	if (p == MAP_FAILED) {
		err = errno;
		munmap(r->consumer_pos, r->page_size);
		free(r);
		return errno = err, NULL;
	}
	r->producer_pos = p;
	r->data = (unsigned char *)p + r->page_size;
	return r;
fail:
	err = errno;
	free(r);
	return errno = err, NULL;
}

/* Unmap and free a reader of lbpy_ring_open. */
LBPY_API void lbpy_ring_close(struct lbpy_ring *r)
{
	if (!r)
		return;
	munmap(r->producer_pos, r->data_map_len);
	munmap(r->consumer_pos, r->page_size);
	free(r);
}

/* The data area of the reader's mapping (mapped twice back to back: 2 * *size bytes readable
 * from the returned address), for zero-copy views of records found by lbpy_ring_peek. */
LBPY_API void *lbpy_ring_data(struct lbpy_ring *r, size_t *size)
{
	*size = r->mask + 1;
	return r->data;
}

/* Consume everything before position pos (from lbpy_ring_peek/lbpy_ring_runs): the kernel may
 * reuse the space (libbpf: the smp_store_release of ringbuf_process_ring()). */
LBPY_API void lbpy_ring_commit(struct lbpy_ring *r, unsigned long pos)
{
	__atomic_store_n(r->consumer_pos, pos, __ATOMIC_RELEASE);
}

/* --- the record walker ------------------------------------------------------------------------ */

/* A committed record, as ring_walk shows it to a visitor. */
struct ring_rec {
	unsigned long at;   /* offset of its header in the data area (position & mask) */
	unsigned long next; /* the consumer position just after it (header + length, rounded) */
	__u32 len;          /* its length, header excluded */
	int discarded;      /* bpf_ringbuf_discard()ed: nothing to hand out, only to skip */
};

typedef enum lbpy_walk ring_visit_fn(void *ctx, struct lbpy_ring *r, const struct ring_rec *rec);

/*
 * Walk the committed records from the consumer position on, showing each one (discarded ones
 * too) to visit, until the ring is empty, a record is not committed yet, or visit says stop.
 * Returns the position after the last record visit went past. Consumes nothing: the caller
 * publishes that position (lbpy_ring_read) or hands it to Python (peek, runs: lbpy_ring_commit
 * later). Mirrors libbpf/src/ringbuf.c ringbuf_process_ring() (see the top of this file),
 * which also re-reads the producer position only when it has caught up with it; unlike it, the
 * walk publishes no consumer position per record (the caller does, once).
 */
LBPY_INLINE unsigned long ring_walk(struct lbpy_ring *r, ring_visit_fn *visit, void *ctx)
{
	unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	struct ring_rec rec;
	enum lbpy_walk next;
	__u32 hdr;

	while (cons < prod) {
		rec.at = cons & r->mask;
		hdr = __atomic_load_n((__u32 *)(r->data + rec.at), __ATOMIC_ACQUIRE);
		if (lbpy_unlikely(hdr & BPF_RINGBUF_BUSY_BIT))
			break; /* reserved, not committed yet: everything after it waits too */
		rec.len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		rec.discarded = !!(hdr & BPF_RINGBUF_DISCARD_BIT);
		rec.next = cons + ((rec.len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL);
		next = visit(ctx, r, &rec);
		if (lbpy_unlikely(next == LBPY_WALK_STOP))
			break;
		cons = rec.next;
		if (lbpy_unlikely(next == LBPY_WALK_LAST))
			break;
		if (lbpy_unlikely(cons >= prod))
			prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	}
	return cons;
}

/* --- lbpy_ring_read: copy records out --------------------------------------------------------- */

struct ring_read {
	struct lbpy_out out;
	unsigned int pending;
};

LBPY_INLINE enum lbpy_walk ring_read_visit(void *ctx, struct lbpy_ring *r,
					   const struct ring_rec *rec)
{
	struct ring_read *rd = ctx;
	unsigned char *dst;

	if (rd->out.count >= rd->out.max_records)
		return LBPY_WALK_STOP;
	if (rec->discarded)
		return LBPY_WALK_NEXT;
	dst = lbpy_out_slot(&rd->out, rec->len, rec->len);
	if (!dst) {
		rd->pending = rec->len;
		return LBPY_WALK_STOP;
	}
	lbpy_copy(dst, r->data + rec->at + BPF_RINGBUF_HDR_SZ, rec->len);
	return LBPY_WALK_NEXT;
}

/* Copy committed records out of the ring (layout in stream.h); discarded records are skipped.
 * The consumer position is published once, at the end (the kernel frees the space then). */
LBPY_API size_t lbpy_ring_read(struct lbpy_ring *r, void *buf, size_t cap, unsigned int *lens,
			       size_t max_records, unsigned int rec_size, unsigned int *pending)
{
	struct ring_read rd = { { buf, cap, 0, lens, 0, max_records, rec_size }, 0 };
	unsigned long cons = ring_walk(r, ring_read_visit, &rd);

	__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
	*pending = rd.pending;
	return rd.out.count;
}

/* --- lbpy_ring_peek: where records are, for per-event callbacks ------------------------------- */

struct ring_peek {
	unsigned long *starts, *stops, *ends;
	size_t n, max;
	unsigned int min_len, short_len;
};

LBPY_INLINE enum lbpy_walk ring_peek_visit(void *ctx, struct lbpy_ring *r,
					   const struct ring_rec *rec)
{
	struct ring_peek *pk = ctx;

	if (pk->n >= pk->max)
		return LBPY_WALK_STOP;
	if (rec->discarded)
		return LBPY_WALK_NEXT;
	if (rec->len < pk->min_len) {
		pk->short_len = rec->len;
		return LBPY_WALK_STOP;
	}
	pk->starts[pk->n] = rec->at + BPF_RINGBUF_HDR_SZ;
	pk->stops[pk->n] = rec->at + BPF_RINGBUF_HDR_SZ + rec->len;
	pk->ends[pk->n++] = rec->next;
	return LBPY_WALK_NEXT;
}

/* Find up to max committed records of at least min_len bytes from the consumer position on,
 * without consuming them: the data of record i is at [starts[i], stops[i]) of lbpy_ring_data's
 * area (offsets; the area is mapped twice, so a record never wraps), and ends[i] is the consumer
 * position just after it. Stops before an uncommitted record, and before one shorter than
 * min_len (*short_len = its length, else 0). *end: the position after the last record examined
 * (trailing discarded records included). Hand a position to lbpy_ring_commit once the records
 * before it are handled. Returns the number of records found. */
LBPY_API size_t lbpy_ring_peek(struct lbpy_ring *r, unsigned long *starts, unsigned long *stops,
			       unsigned long *ends, size_t max, unsigned int min_len,
			       unsigned long *end, unsigned int *short_len)
{
	struct ring_peek pk = { starts, stops, ends, 0, max, min_len, 0 };

	*end = ring_walk(r, ring_peek_visit, &pk);
	*short_len = pk.short_len;
	return pk.n;
}

/* --- lbpy_ring_runs: runs of same-size records, for zero-copy numpy views --------------------- */

struct ring_runs {
	size_t *starts, *counts;
	unsigned long *ends;
	size_t runs, max_runs, records, max_records;
	unsigned int rec_size, pending;
	int open; /* the last run can still grow */
};

LBPY_INLINE enum lbpy_walk ring_runs_visit(void *ctx, struct lbpy_ring *r,
					   const struct ring_rec *rec)
{
	struct ring_runs *ru = ctx;

	if (ru->records >= ru->max_records)
		return LBPY_WALK_STOP;
	if (rec->discarded) {
		ru->open = 0; /* a run is evenly spaced: a discarded record ends it */
		return LBPY_WALK_NEXT;
	}
	if (rec->len != ru->rec_size) {
		ru->pending = rec->len;
		return LBPY_WALK_STOP;
	}
	if (lbpy_likely(ru->open)) { /* runs are long: growing one is the straight path */
		ru->counts[ru->runs - 1]++;
		ru->ends[ru->runs - 1] = rec->next;
		ru->records++;
		return LBPY_WALK_NEXT;
	}
	if (ru->runs == ru->max_runs)
		return LBPY_WALK_STOP;
	ru->starts[ru->runs] = rec->at + BPF_RINGBUF_HDR_SZ;
	ru->counts[ru->runs] = 1;
	ru->ends[ru->runs++] = rec->next;
	ru->records++;
	ru->open = 1;
	return LBPY_WALK_NEXT;
}

/* Find runs of consecutive records of exactly rec_size bytes from the consumer position on,
 * without consuming them, for zero-copy numpy views: run i is counts[i] records, the first at
 * offset starts[i] of lbpy_ring_data's area and each next one stride =
 * round_up(8 + rec_size, 8) bytes further (the area is mapped twice: a run never wraps), and
 * ends[i] is the consumer position after it. A discarded record ends a run. Stops at max_runs
 * runs, max_records records, an uncommitted record, or before a record of another size
 * (*pending = its length, else 0). *end: the position after the last record examined. Returns
 * the number of runs. */
LBPY_API size_t lbpy_ring_runs(struct lbpy_ring *r, unsigned int rec_size, size_t *starts,
			       size_t *counts, unsigned long *ends, size_t max_runs,
			       size_t max_records, unsigned long *end, unsigned int *pending)
{
	struct ring_runs ru = { starts, counts, ends, 0, max_runs, 0, max_records, rec_size, 0, 0 };

	*end = ring_walk(r, ring_runs_visit, &ru);
	*pending = ru.pending;
	return ru.runs;
}
