// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libbpf's messages, formatted for Python.
 *
 * libbpf hands each message to its print callback (libbpf_set_print(), libbpf.h) as
 * (level, format, va_list). A va_list cannot be passed portably through ctypes, so this callback
 * formats the message with vsnprintf and hands Python's lbpy_log_fn a finished, NUL-terminated
 * string (libbpf_py.log turns it into a `logging` record). Nothing here depends on libbpf's
 * internals: only the libbpf_print_fn_t type of libbpf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "libbpf.h"
#include "lbpy.h"

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
