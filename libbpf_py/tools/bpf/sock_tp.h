/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sock:inet_sock_set_state tracepoint context and TCP constants, declared locally (CO-RE,
 * no vmlinux.h): relocated against the running kernel's BTF through preserve_access_index. */
#ifndef LIBBPF_PY_TOOLS_SOCK_TP_H
#define LIBBPF_PY_TOOLS_SOCK_TP_H

#define TASK_COMM_LEN 16
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT,
	TCP_SYN_RECV,
	TCP_FIN_WAIT1,
	TCP_FIN_WAIT2,
	TCP_TIME_WAIT,
	TCP_CLOSE,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_LISTEN,
	TCP_CLOSING,
	TCP_NEW_SYN_RECV,
};

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

struct trace_event_raw_inet_sock_set_state {
	struct trace_entry ent;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

/* The tracepoint's addresses into 16-byte buffers (IPv4: the first 4 bytes, the rest zero). */
static __always_inline void read_addrs(struct trace_event_raw_inet_sock_set_state *ctx,
				       __u16 family, __u8 *saddr, __u8 *daddr)
{
	__builtin_memset(saddr, 0, 16);
	__builtin_memset(daddr, 0, 16);
	if (family == AF_INET6) {
		bpf_core_read(saddr, 16, &ctx->saddr_v6);
		bpf_core_read(daddr, 16, &ctx->daddr_v6);
	} else {
		bpf_core_read(saddr, 4, &ctx->saddr);
		bpf_core_read(daddr, 4, &ctx->daddr);
	}
}

#endif
