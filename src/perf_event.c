// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * perf_event_open(2), which the C library does not wrap. C knows __NR_perf_event_open for the
 * target architecture, so Python keeps no syscall table (libbpf_py.perf_event builds the
 * perf_event_attr, declared in libbpf_py/_ffi/stream.py and checked against <linux/perf_event.h>
 * by tests/test_ffi.py). libbpf calls it the same way, through syscall(2): libbpf.c's
 * perf_event_open_probe() and perf_buffer__open_cpu_buf().
 */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

#include "lbpy.h"

/* Returns the new fd (O_CLOEXEC: PERF_FLAG_FD_CLOEXEC is always added), or -errno. */
LBPY_API int lbpy_perf_event_open(struct perf_event_attr *attr, int pid, int cpu, int group_fd,
				  unsigned long flags)
{
	long fd = syscall(__NR_perf_event_open, attr, pid, cpu, group_fd,
			  flags | PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}
