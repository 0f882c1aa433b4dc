// SPDX-License-Identifier: GPL-2.0
/* Its event struct is used only through a local pointer (as in 10 of 13 event-streaming
 * libbpf-tools), so clang leaves it out of the object's BTF: it is in the DWARF only. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "local_event.h"

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int emit(void *ctx)
{
	struct event *e;
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->ts = 0x1122334455667788ULL;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags = 5;
	e->mode = 17;
	e->kind = EV_CLOSE;
	e->word = 0xdeadbeef;
	e->in.lo = 1;
	e->in.hi = 2;
	e->addr = ((unsigned __int128)0x20010db8 << 96) | 1;
	e->args_count = 3;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
