// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcplife: one event per closed TCP session, with its process, addresses, ports, bytes sent and
 * received, and lifespan.
 *
 * Only sock:inet_sock_set_state is used (no kprobes): early states (SYN_SENT, SYN_RECV,
 * ESTABLISHED) stamp the socket's birth; SYN_SENT (connect) and LAST_ACK (close after the peer)
 * run in the owning process and name it; CLOSE reads the byte counters from struct tcp_sock
 * (CO-RE) and streams the event. Sessions born before tracing started are skipped.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "sock_tp.h"

struct tcp_sock {
	__u64 bytes_received;
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

struct ident {
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

struct event {
	__u64 span_ns;
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[TASK_COMM_LEN];
};

/* Set before load (the verifier folds them): only this tgid (0: all); only this address family
 * (0: both); only this local port (0: all); only this remote port (0: all). */
const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;
const volatile __u16 targ_lport = 0;
const volatile __u16 targ_rport = 0;

/* struct event is used only through a pointer into the ring buffer: this global puts it in the
 * object's BTF, where the tool's skeleton finds it (tcplife_skel.Event, checked at open). */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} birth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct ident);
} whoami SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr), ts, *start;
	int newstate = BPF_CORE_READ(ctx, newstate);
	__u16 family = BPF_CORE_READ(ctx, family);
	__u16 lport = BPF_CORE_READ(ctx, sport), rport = BPF_CORE_READ(ctx, dport);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct ident me = {}, *who;
	struct event *e;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	if (newstate < TCP_FIN_WAIT1) {
		ts = bpf_ktime_get_ns();
		bpf_map_update_elem(&birth, &sk, &ts, BPF_ANY);
	}
	if (newstate == TCP_SYN_SENT || newstate == TCP_LAST_ACK) {
		me.pid = pid;
		bpf_get_current_comm(me.comm, sizeof(me.comm));
		bpf_map_update_elem(&whoami, &sk, &me, BPF_ANY);
	}
	if (newstate != TCP_CLOSE)
		return 0;

	start = bpf_map_lookup_elem(&birth, &sk);
	who = bpf_map_lookup_elem(&whoami, &sk);
	if (!start)
		goto out;  /* born before tracing started */
	if (who)
		pid = who->pid;  /* else: the current task, right when closing in process context */
	if (targ_tgid && targ_tgid != pid)
		goto out;
	if (targ_family && targ_family != family)
		goto out;
	if (targ_lport && targ_lport != lport)
		goto out;
	if (targ_rport && targ_rport != rport)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->span_ns = bpf_ktime_get_ns() - *start;
	e->rx_bytes = BPF_CORE_READ(tp, bytes_received);
	e->tx_bytes = BPF_CORE_READ(tp, bytes_acked);
	e->family = family;
	e->lport = lport;
	e->rport = rport;
	read_addrs(ctx, family, e->laddr, e->raddr);
	e->pid = pid;
	if (who)
		__builtin_memcpy(e->comm, who->comm, sizeof(e->comm));
	else
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&birth, &sk);
	bpf_map_delete_elem(&whoami, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
