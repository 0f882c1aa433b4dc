// SPDX-License-Identifier: GPL-2.0
/* A global whose anonymous struct and union hold an enum, a char array and bitfields: their
 * members read and write from the outer record (test_stress.py; found by fuzzing). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum level { LOW = 1, HIGH = 2 };

struct holder {
	int x;
	struct {
		enum level lvl;
		char tag[4];
		unsigned int small : 3;
		int neg : 5;
	};
	union {
		int as_int;
		enum level as_level;
	};
};

struct holder held = { .x = 1, .lvl = HIGH, .tag = "ab", .small = 5, .neg = -3, .as_int = 2 };

char LICENSE[] SEC("license") = "GPL";
