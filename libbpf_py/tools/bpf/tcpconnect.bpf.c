// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpconnect: one event per active TCP connection attempt, with its process, addresses, ports,
 * outcome and connect latency.
 *
 * sock:inet_sock_set_state fires in the connecting process when a socket enters SYN_SENT (its
 * source port is not chosen yet): the process is remembered per socket. When the socket leaves
 * SYN_SENT (ESTABLISHED, or CLOSE for a refused / failed attempt, usually in softirq context)
 * the tracepoint carries both ports and addresses: the event is streamed then. Portable: the
 * tracepoint context is declared locally (CO-RE).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "sock_tp.h"

struct start {
	__u64 ts_ns;
	__u32 pid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
};

struct event {
	__u64 delta_ns;
	__u32 pid;
	__u32 uid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 newstate;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TASK_COMM_LEN];
};

/* Set before load (the verifier folds them): only this tgid (0: all); only this address family
 * (0: both); only this destination port (0: all). */
const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;
const volatile __u16 targ_dport = 0;

/* struct event is used only through a pointer into the ring buffer: this global puts it in the
 * object's BTF, where the tool's skeleton finds it (tcpconnect_skel.Event, checked at open). */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct start);
} connecting SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr), id;
	int newstate = BPF_CORE_READ(ctx, newstate);
	__u16 family = BPF_CORE_READ(ctx, family);
	struct start *s, st = {};
	struct event *e;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		id = bpf_get_current_pid_tgid();
		if (targ_tgid && targ_tgid != id >> 32)
			return 0;
		if (targ_family && targ_family != family)
			return 0;
		st.ts_ns = bpf_ktime_get_ns();
		st.pid = id >> 32;
		st.uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(st.comm, sizeof(st.comm));
		bpf_map_update_elem(&connecting, &sk, &st, BPF_ANY);
		return 0;
	}
	if (BPF_CORE_READ(ctx, oldstate) != TCP_SYN_SENT)
		return 0;
	s = bpf_map_lookup_elem(&connecting, &sk);
	if (!s)
		return 0;
	if (targ_dport && targ_dport != BPF_CORE_READ(ctx, dport))
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->delta_ns = bpf_ktime_get_ns() - s->ts_ns;
	e->pid = s->pid;
	e->uid = s->uid;
	e->family = family;
	e->sport = BPF_CORE_READ(ctx, sport);
	e->dport = BPF_CORE_READ(ctx, dport);
	e->newstate = newstate;
	read_addrs(ctx, family, e->saddr, e->daddr);
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&connecting, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
