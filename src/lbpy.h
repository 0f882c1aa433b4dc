/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libbpf_py's C shim: every function it exports, one prototype each, grouped by the file that
 * defines it. The shim does only what ctypes does badly; it is compiled with libbpf into
 * libbpf_py/_ffi/_libbpf.so (setup.py, -fvisibility=hidden: LBPY_API marks what is exported).
 *
 *   log.c          libbpf's print callback: formats (level, format, va_list) into a string
 *   version.c      the full release of the bundled libbpf
 *   perf_event.c   perf_event_open(2), which libc does not wrap
 *   atomic.c       atomic exchange on an mmapped global of a BPF object
 *   ringbuf.c      BPF ring buffers read in batches, never a C-to-Python call per record
 *   perfbuf.c      the same for perf buffers, and a perf buffer with a chosen wakeup
 *   stream.h       (private) what ringbuf.c and perfbuf.c share: the output slots of batch reads
 *
 * The Python side declares each of these in libbpf_py/_ffi/ (core.py, with lbpy_log_fn, maps.py,
 * stream.py); tests/test_ffi.py checks those rows against this header, and that
 * the .so exports exactly libbpf's API plus the LBPY_API names below. Every .c file includes
 * this header, so the compiler checks each definition against its prototype here.
 */
#ifndef LBPY_H
#define LBPY_H

#include <stddef.h>

#define LBPY_API __attribute__((visibility("default")))

struct perf_event_attr;
struct perf_buffer;
struct lbpy_ring;

/* log.c */
typedef void (*lbpy_log_fn)(int level, const char *msg);
LBPY_API void lbpy_set_log_fn(lbpy_log_fn fn);

/* version.c */
LBPY_API const char *lbpy_libbpf_version(void);

/* perf_event.c */
LBPY_API int lbpy_perf_event_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
				  unsigned long flags);

/* atomic.c */
LBPY_API unsigned long long lbpy_atomic_xchg(void *addr, unsigned int size,
					     unsigned long long value);

/* ringbuf.c */
LBPY_API struct lbpy_ring *lbpy_ring_open(int map_fd);
LBPY_API void lbpy_ring_close(struct lbpy_ring *r);
LBPY_API void *lbpy_ring_data(struct lbpy_ring *r, size_t *size);
LBPY_API size_t lbpy_ring_read(struct lbpy_ring *r, void *buf, size_t cap, unsigned int *lens,
			       size_t max_records, unsigned int rec_size, unsigned int *pending);
LBPY_API size_t lbpy_ring_peek(struct lbpy_ring *r, unsigned long *starts, unsigned long *stops,
			       unsigned long *ends, size_t max, unsigned int min_len,
			       unsigned long *end, unsigned int *short_len);
LBPY_API size_t lbpy_ring_runs(struct lbpy_ring *r, unsigned int rec_size, size_t *starts,
			       size_t *counts, unsigned long *ends, size_t max_runs,
			       size_t max_records, unsigned long *end, unsigned int *pending);
LBPY_API void lbpy_ring_commit(struct lbpy_ring *r, unsigned long pos);

/* perfbuf.c */
LBPY_API size_t lbpy_perf_read(void *base, size_t size, void *buf, size_t cap, unsigned int *lens,
			       size_t max_records, unsigned int rec_size, unsigned int *pending,
			       unsigned long long *lost);
LBPY_API size_t lbpy_perf_read_all(void **bases, size_t nbufs, size_t size, void *buf, size_t cap,
				   unsigned int *lens, size_t max_records, unsigned int rec_size,
				   size_t *counts, unsigned long long *lost, unsigned int *pending);
LBPY_API size_t lbpy_perf_peek(void *base, size_t size, unsigned long *starts, unsigned long *stops,
			       unsigned long long *ends, size_t max, unsigned int min_len,
			       void *scratch, size_t scratch_cap, unsigned long long *end,
			       unsigned long long *lost, unsigned int *short_len);
LBPY_API void lbpy_perf_commit(void *base, unsigned long long tail);
LBPY_API struct perf_buffer *lbpy_perf_buffer_new(int map_fd, size_t page_cnt, unsigned int wakeup,
						  int wakeup_bytes);

#endif /* LBPY_H */
