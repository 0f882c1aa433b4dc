// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libbpf_py's C shim: only what ctypes cannot do well.
 *
 * libbpf hands its messages to a print callback as (level, format, va_list). A va_list cannot be
 * portably passed through ctypes, so the shim formats each message here with vsnprintf and hands
 * Python a finished, NUL-terminated string.
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
