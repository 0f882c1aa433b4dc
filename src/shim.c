// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libbpf_py's C shim: only what ctypes cannot do well.
 *
 * libbpf hands its messages to a print callback as (level, format, va_list). A va_list cannot be
 * portably passed through ctypes, so the shim formats each message here with vsnprintf and hands
 * Python a finished, NUL-terminated string. The rest: perf_event_open(2) (no libc wrapper), and
 * the event-stream readers below (their own section comment).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "libbpf.h"

#define LBPY_API __attribute__((visibility("default")))

typedef void (*lbpy_log_fn)(int level, const char *msg);

/* LIFETIME: the Python side keeps the CFUNCTYPE object behind this pointer alive for as long as
 * it is installed (libbpf_py.log keeps it in a module global). */
static lbpy_log_fn log_fn;

static int lbpy_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char small[512];
	char *msg = small;
	va_list again;
	int n;

	va_copy(again, args);
	n = vsnprintf(small, sizeof(small), fmt, args);
	if (n >= (int)sizeof(small)) {
		msg = malloc((size_t)n + 1);
		if (msg)
			vsnprintf(msg, (size_t)n + 1, fmt, again);
		else
			msg = small; /* truncated rather than lost */
	}
	va_end(again);
	if (n >= 0 && log_fn)
		log_fn((int)level, msg);
	if (msg != small)
		free(msg);
	return n;
}

/* Route libbpf's messages to fn (formatted), or silence them with NULL. */
LBPY_API void lbpy_set_log_fn(lbpy_log_fn fn)
{
	log_fn = fn;
	libbpf_set_print(fn ? lbpy_print : NULL);
}

/* The full release of the bundled libbpf ("1.7.0"); libbpf itself exposes only major.minor. */
LBPY_API const char *lbpy_libbpf_version(void)
{
	return LBPY_LIBBPF_VERSION;
}

/*
 * perf_event_open(2), which the C library does not wrap: C knows __NR_perf_event_open for the
 * target architecture, so Python keeps no syscall table (libbpf calls it the same way, through
 * syscall(2), in libbpf.c's perf_event_open_probe and perf_buffer__new_cpu_buf).
 * Returns the new fd (O_CLOEXEC: PERF_FLAG_FD_CLOEXEC is always added), or -errno.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

LBPY_API int lbpy_perf_event_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
				  unsigned long flags)
{
	long fd = syscall(__NR_perf_event_open, attr, pid, cpu, group_fd,
			  flags | PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

/*
 * ---------------------------------------------------------------------------------------------
 * Reading event streams without a C-to-Python transition per record.
 *
 * A ctypes callback costs a C-to-Python transition per record (a few hundred ns). Instead, the
 * functions below work on many records per ctypes call (which releases the GIL), and never block:
 *   - lbpy_ring_read / lbpy_perf_read copy records into a caller-provided buffer (a bytearray or
 *     a numpy array's memory): the batch reads;
 *   - lbpy_ring_peek / lbpy_perf_peek list where records are, without consuming them, and
 *     lbpy_ring_commit / lbpy_perf_commit consume them: Python then calls per-event callbacks
 *     in a plain loop, with zero-copy views of the records.
 *
 * Output layout of the *_read functions:
 *   - rec_size == 0 ("variable"): records back to back (no padding) in buf, lens[i] = length of
 *     record i; the reader stops before the first record that does not fit in cap.
 *   - rec_size  > 0 ("fixed"): record i at buf + i * rec_size; lens may be NULL; the reader stops
 *     before the first record whose length is not rec_size (left in the ring for another reader).
 * In both modes at most max_records are copied, and *pending is set to the length of the record
 * the reader stopped before (0 when it stopped because the ring was empty or max_records reached).
 * The return value is the number of records copied.
 * ---------------------------------------------------------------------------------------------
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>

#include "bpf.h"

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

/* Reserve room for one record of len bytes in out; NULL when it does not belong to this batch. */
static unsigned char *lbpy_out_slot(struct lbpy_out *out, unsigned int len, unsigned int want)
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

/* --- BPF ring buffer (BPF_MAP_TYPE_RINGBUF) -------------------------------------------------
 * The shim maps the ring itself, exactly as libbpf's ring_buffer__add does (consumer page
 * read-write, producer page + data read-only, the data mapped twice back to back by the kernel so
 * a record never wraps). libbpf's ring_buffer__consume calls a C callback per record, consuming
 * the record before the callback sees it: it can neither leave a record that does not fit a
 * batch in the ring, nor hand Python records without a per-record transition. Both mappings
 * share the kernel's pages: this reader and a libbpf ring_buffer on the same map see (and
 * advance) the same consumer position. */
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

/* Copy committed records out of the ring (layout above); discarded records are skipped. The
 * consumer position is published once, at the end (the kernel frees the space then). */
LBPY_API size_t lbpy_ring_read(struct lbpy_ring *r, void *buf, size_t cap, unsigned int *lens,
			       size_t max_records, unsigned int rec_size, unsigned int *pending)
{
	struct lbpy_out out = { buf, cap, 0, lens, 0, max_records, rec_size };
	unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	unsigned char *dst;
	__u32 hdr, len;

	*pending = 0;
	while (cons < prod && out.count < max_records) {
		hdr = __atomic_load_n((__u32 *)(r->data + (cons & r->mask)), __ATOMIC_ACQUIRE);
		if (hdr & BPF_RINGBUF_BUSY_BIT)
			break; /* reserved, not committed yet: everything after it waits too */
		len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (!(hdr & BPF_RINGBUF_DISCARD_BIT)) {
			dst = lbpy_out_slot(&out, len, len);
			if (!dst) {
				*pending = len;
				break;
			}
			lbpy_copy(dst, r->data + (cons & r->mask) + BPF_RINGBUF_HDR_SZ, len);
		}
		cons += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
		if (cons >= prod)
			prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	}
	__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
	return out.count;
}

/* The data area of the reader's mapping (mapped twice back to back: 2 * *size bytes readable
 * from the returned address), for zero-copy views of records found by lbpy_ring_peek. */
LBPY_API void *lbpy_ring_data(struct lbpy_ring *r, size_t *size)
{
	*size = r->mask + 1;
	return r->data;
}

/* Find up to max committed records of at least min_len bytes from the consumer position on,
 * without consuming them: the data of record i is at [starts[i], stops[i]) of lbpy_ring_data's
 * area (offsets; the area is mapped twice, so a record never wraps), and ends[i] is the consumer
 * position just after it. Stops before an uncommitted record, and before one shorter than
 * min_len (*short_len = its length, else 0). *end: the position after the last record examined
 * (trailing discarded records included). Hand a position to lbpy_ring_commit once the records
 * before it are handled. Returns the number of records found. Mirrors libbpf's
 * ringbuf_process_ring (ringbuf.c): the BUSY and DISCARD bits, the 8-byte header, rounding. */
LBPY_API size_t lbpy_ring_peek(struct lbpy_ring *r, unsigned long *starts, unsigned long *stops,
			       unsigned long *ends, size_t max, unsigned int min_len,
			       unsigned long *end, unsigned int *short_len)
{
	unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	unsigned long at;
	size_t n = 0;
	__u32 hdr, len;

	*short_len = 0;
	while (cons < prod && n < max) {
		at = cons & r->mask;
		hdr = __atomic_load_n((__u32 *)(r->data + at), __ATOMIC_ACQUIRE);
		if (hdr & BPF_RINGBUF_BUSY_BIT)
			break;
		len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (!(hdr & BPF_RINGBUF_DISCARD_BIT)) {
			if (len < min_len) {
				*short_len = len;
				break;
			}
			starts[n] = at + BPF_RINGBUF_HDR_SZ;
			stops[n] = at + BPF_RINGBUF_HDR_SZ + len;
		}
		cons += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
		if (!(hdr & BPF_RINGBUF_DISCARD_BIT))
			ends[n++] = cons;
		if (cons >= prod)
			prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	}
	*end = cons;
	return n;
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
	unsigned long cons = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	unsigned long stride = (rec_size + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
	size_t runs = 0, records = 0;
	int open = 0; /* the last run can still grow */
	__u32 hdr, len;

	*pending = 0;
	while (cons < prod && records < max_records) {
		hdr = __atomic_load_n((__u32 *)(r->data + (cons & r->mask)), __ATOMIC_ACQUIRE);
		if (hdr & BPF_RINGBUF_BUSY_BIT)
			break;
		len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		if (hdr & BPF_RINGBUF_DISCARD_BIT) {
			open = 0;
		} else if (len != rec_size) {
			*pending = len;
			break;
		} else if (open) {
			counts[runs - 1]++;
			records++;
			ends[runs - 1] = cons + stride;
		} else {
			if (runs == max_runs)
				break;
			starts[runs] = (cons & r->mask) + BPF_RINGBUF_HDR_SZ;
			counts[runs] = 1;
			ends[runs++] = cons + stride;
			records++;
			open = 1;
		}
		cons += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
		if (cons >= prod)
			prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	}
	*end = cons;
	return runs;
}

/* Consume everything before position pos (from lbpy_ring_peek): the kernel may reuse it. */
LBPY_API void lbpy_ring_commit(struct lbpy_ring *r, unsigned long pos)
{
	__atomic_store_n(r->consumer_pos, pos, __ATOMIC_RELEASE);
}

/* --- perf buffer (BPF_MAP_TYPE_PERF_EVENT_ARRAY) --------------------------------------------
 * One per-CPU buffer of libbpf's perf_buffer, as perf_buffer__buffer() returns it: base is the
 * perf_event_mmap_page, followed by a data area of size bytes (a power of two). Records can wrap
 * around the end of the data area. Samples from bpf_perf_event_output carry a u32 raw size that
 * the kernel pads so that size field + data end 8-byte aligned: in fixed mode a sample of
 * rec_size bytes arrives with raw size round_up(rec_size + 4, 8) - 4 and rec_size bytes are
 * copied; in variable mode lens[i] is the raw size, as libbpf's sample callbacks see it.
 * PERF_RECORD_LOST records add their count to *lost. */

static void lbpy_copy_wrapped(unsigned char *dst, const unsigned char *data, size_t size,
			      __u64 off, size_t n)
{
	size_t at = (size_t)(off & (size - 1)), first = size - at;

	if (first >= n) {
		memcpy(dst, data + at, n);
	} else {
		memcpy(dst, data + at, first);
		memcpy(dst + first, data, n - first);
	}
}

/* Append the samples of one per-CPU perf buffer to out (layout above) and count lost samples;
 * *pending as for the *_read functions. Mirrors libbpf's perf_event_read_simple (libbpf.c). */
static void lbpy_perf_read_ring(void *base, size_t size, struct lbpy_out *out_,
				unsigned int *pending, unsigned long long *lost)
{
	struct lbpy_out o = *out_, *out = &o; /* a local: its fields stay in registers */
	struct perf_event_mmap_page *page = base;
	static long page_size;
	unsigned char *data;
	__u64 head = __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
	__u64 tail = page->data_tail;
	unsigned int rec_size = out->rec_size;
	unsigned int padded = rec_size ? ((rec_size + 4 + 7) & ~7U) - 4 : 0;
	struct perf_event_header eh;
	unsigned char *dst;
	__u32 raw;
	__u64 n;

	if (!page_size)
		page_size = sysconf(_SC_PAGESIZE);
	data = (unsigned char *)base + page_size;
	*pending = 0;
	while (tail < head && out->count < out->max_records) {
		size_t at = (size_t)(tail & (size - 1));
		const unsigned char *rec = data + at;

		/* Records are 8-byte aligned, so the 8-byte header never wraps. */
		memcpy(&eh, rec, sizeof(eh));
		if (eh.type == PERF_RECORD_SAMPLE) {
			if (at + eh.size <= size) /* the common case: the record does not wrap */
				memcpy(&raw, rec + sizeof(eh), sizeof(raw));
			else
				lbpy_copy_wrapped((unsigned char *)&raw, data, size,
						  tail + sizeof(eh), sizeof(raw));
			/* fixed mode: the record belongs if its padded raw size is rec_size's */
			dst = lbpy_out_slot(out, raw, rec_size && raw == padded ? rec_size : raw);
			if (!dst) {
				*pending = raw;
				break;
			}
			if (at + eh.size <= size)
				lbpy_copy(dst, rec + sizeof(eh) + sizeof(raw), rec_size ? rec_size : raw);
			else
				lbpy_copy_wrapped(dst, data, size, tail + sizeof(eh) + sizeof(raw),
						  rec_size ? rec_size : raw);
		} else if (eh.type == PERF_RECORD_LOST) {
			/* struct { header; u64 id; u64 lost; } */
			lbpy_copy_wrapped((unsigned char *)&n, data, size, tail + sizeof(eh) + 8,
					  sizeof(n));
			*lost += n;
		}
		tail += eh.size;
	}
	__atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
	*out_ = o;
}

/* Copy the samples of one per-CPU perf buffer (layout above) and count lost samples. */
LBPY_API size_t lbpy_perf_read(void *base, size_t size, void *buf, size_t cap, unsigned int *lens,
			       size_t max_records, unsigned int rec_size, unsigned int *pending,
			       unsigned long long *lost)
{
	struct lbpy_out out = { buf, cap, 0, lens, 0, max_records, rec_size };

	lbpy_perf_read_ring(base, size, &out, pending, lost);
	return out.count;
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
	struct lbpy_out out = { buf, cap, 0, lens, 0, max_records, rec_size };
	unsigned int stuck;
	size_t i, before;

	*pending = 0;
	for (i = 0; i < nbufs; i++) {
		before = out.count;
		lbpy_perf_read_ring(bases[i], size, &out, &stuck, &lost[i]);
		counts[i] = out.count - before;
		if (stuck && !*pending)
			*pending = stuck;
	}
	return out.count;
}

/* Find up to max samples of at least min_len bytes (raw size) in one per-CPU perf ring (as for
 * lbpy_perf_read) from its tail on, without consuming them, for callbacks that get zero-copy
 * views: sample i is at [starts[i], stops[i]) of the data area (offsets; the length is the raw
 * size), and ends[i] the tail just after it; *end is the tail after the last record examined.
 * A sample that wraps around the end of the data area is copied to scratch (scratch_cap bytes;
 * a perf record is at most 64 KiB) and returned alone, with starts[0] = size (stops[0] = size +
 * its length). A PERF_RECORD_LOST record is returned alone too: no samples, its count in *lost
 * (so lost counts and samples stay in order). Stops before a sample shorter than min_len
 * (*short_len = its length, else 0). Consume with lbpy_perf_commit. Mirrors libbpf's
 * perf_buffer__process_record / perf_event_read_simple (libbpf.c). */
LBPY_API size_t lbpy_perf_peek(void *base, size_t size, unsigned long *starts, unsigned long *stops,
			       unsigned long long *ends, size_t max, unsigned int min_len,
			       void *scratch, size_t scratch_cap, unsigned long long *end,
			       unsigned long long *lost, unsigned int *short_len)
{
	struct perf_event_mmap_page *page = base;
	unsigned char *data = (unsigned char *)base + sysconf(_SC_PAGESIZE);
	__u64 head = __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
	__u64 tail = page->data_tail;
	struct perf_event_header eh;
	size_t n = 0, at;
	__u32 raw;

	*lost = 0;
	*short_len = 0;
	while (tail < head && n < max) {
		at = (size_t)(tail & (size - 1));
		memcpy(&eh, data + at, sizeof(eh)); /* 8-byte aligned: never wraps */
		if (eh.type == PERF_RECORD_LOST) {
			if (n)
				break; /* report it after the samples before it */
			lbpy_copy_wrapped((unsigned char *)lost, data, size, tail + sizeof(eh) + 8, 8);
			tail += eh.size;
			break;
		}
		if (eh.type == PERF_RECORD_SAMPLE) {
			lbpy_copy_wrapped((unsigned char *)&raw, data, size, tail + sizeof(eh),
					  sizeof(raw));
			if (raw < min_len) {
				*short_len = raw;
				break;
			}
			if (at + eh.size <= size) {
				starts[n] = at + sizeof(eh) + sizeof(raw);
			} else {
				if (n || raw > scratch_cap)
					break; /* alone, next time (raw > 64 KiB can't happen) */
				lbpy_copy_wrapped(scratch, data, size, tail + sizeof(eh) + sizeof(raw),
						  raw);
				starts[n] = size;
			}
			stops[n] = starts[n] + raw;
			ends[n++] = tail + eh.size;
			tail += eh.size;
			if (starts[n - 1] == size)
				break;
			continue;
		}
		tail += eh.size; /* other record types: skipped */
	}
	*end = tail;
	return n;
}

/* Consume a perf ring up to tail (from lbpy_perf_peek): the kernel may reuse the space. */
LBPY_API void lbpy_perf_commit(void *base, unsigned long long tail)
{
	struct perf_event_mmap_page *page = base;

	__atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

/* --- perf buffer with a custom perf_event_attr ----------------------------------------------
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

/* Atomically store `value` into the `size`-byte (1, 2, 4 or 8) integer at `addr` (an mmapped
 * global of a BPF object) and return what was there: a read-and-reset that loses no update the
 * BPF program makes with an atomic add (__sync_fetch_and_add) meanwhile. Python cannot express
 * the CPU's exchange instruction; libbpf has no such call. */
LBPY_API unsigned long long lbpy_atomic_xchg(void *addr, unsigned int size, unsigned long long value)
{
	switch (size) {
	case 1:
		return __atomic_exchange_n((unsigned char *)addr, (unsigned char)value, __ATOMIC_SEQ_CST);
	case 2:
		return __atomic_exchange_n((unsigned short *)addr, (unsigned short)value, __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_exchange_n((unsigned int *)addr, (unsigned int)value, __ATOMIC_SEQ_CST);
	case 8:
		return __atomic_exchange_n((unsigned long long *)addr, value, __ATOMIC_SEQ_CST);
	}
	return 0;
}
