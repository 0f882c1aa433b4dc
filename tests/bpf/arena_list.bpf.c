// SPDX-License-Identifier: GPL-2.0
/* A linked list built in a BPF arena (needs clang 18+: __arena is address space 1, and
 * dereferencing it emits addr_space_cast). build() allocates a page and links N nodes with
 * values 10, 20, ... N*10; walk() follows the list from `head` and sums it. Python walks and
 * edits the same list through the arena's mapping (libbpf_py.arena). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __arena __attribute__((address_space(1)))
#define NUMA_NO_NODE (-1)
#define MAX_WALK 256

#ifndef __BPF_FEATURE_ADDR_SPACE_CAST
#error "arena programs need clang 18 or newer (address space casts)"
#endif

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA: newer than the system's linux/bpf.h */
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4); /* pages */
} arena SEC(".maps");

void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, __u32 page_cnt, int node_id,
				    __u64 flags) __ksym __weak;

struct node {
	struct node __arena *next;
	__u64 value;
};

const volatile __u32 n_items = 8;
struct node __arena *head;	/* the list, as the program left it */
struct node __arena *page;	/* the page its nodes live in */
__u64 sum;			/* walk()'s results */
__u32 count;
__u64 __arena walks;	/* a global in the arena itself: walk() uses the arena through it (a
			 * program that dereferences arena pointers must reference the arena map) */

SEC("syscall")
int build(void *ctx)
{
	struct node __arena *p, *prev = NULL;
	int i;

	p = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);
	if (!p)
		return 1;
	for (i = n_items - 1; i >= 0; i--) {
		struct node __arena *n = p + i;

		n->value = (i + 1) * 10;
		n->next = prev;
		prev = n;
	}
	page = p;
	head = prev;
	return 0;
}

SEC("syscall")
int walk(void *ctx)
{
	struct node __arena *n = head;
	__u64 s = 0;
	__u32 c = 0;
	int i;

	for (i = 0; i < MAX_WALK && n; i++) {
		s += n->value;
		c++;
		n = n->next;
	}
	sum = s;
	count = c;
	walks++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
