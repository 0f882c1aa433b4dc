// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The full release of the bundled libbpf ("1.7.0"): libbpf itself exposes only major.minor
 * (libbpf_major_version(), libbpf_minor_version()). setup.py defines LBPY_LIBBPF_VERSION as
 * libbpf's Makefile derives the release: the newest version node of libbpf/src/libbpf.map.
 */
#include "lbpy.h"

LBPY_API const char *lbpy_libbpf_version(void)
{
	return LBPY_LIBBPF_VERSION;
}
