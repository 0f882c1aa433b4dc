// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An atomic exchange on memory shared with BPF programs: Python cannot express the CPU's exchange
 * instruction, and libbpf has no such call. Used by libbpf_py.variables for a read-and-reset of
 * an mmapped global (.bss/.data) of a BPF object.
 */
#include "lbpy.h"

/* Atomically store `value` into the `size`-byte (1, 2, 4 or 8) integer at `addr` and return what
 * was there: a read-and-reset that loses no update the BPF program makes with an atomic add
 * (__sync_fetch_and_add) meanwhile. Any other size: nothing is stored, 0 is returned. */
LBPY_API unsigned long long lbpy_atomic_xchg(void *addr, unsigned int size,
					     unsigned long long value)
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
