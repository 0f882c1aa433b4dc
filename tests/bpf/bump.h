/* SPDX-License-Identifier: GPL-2.0 */
/* bump(p): add one to the counter *p atomically and give its new value, on every kernel.
 * __sync_fetch_and_add(p, 1) + 1 would compile to an atomic fetch instruction (BPF_FETCH), which
 * kernels before 5.12 reject ("BPF_STX uses reserved fields"); with its result unused it is the
 * plain atomic add (XADD) that every kernel has. The add stays atomic (no count is lost); the
 * read after it is the new value while one CPU at a time bumps the counter, as in these tests. */
#ifndef BUMP_H
#define BUMP_H

#define bump(p) ({ __sync_fetch_and_add((p), 1); *(volatile __typeof__(*(p)) *)(p); })

#endif
