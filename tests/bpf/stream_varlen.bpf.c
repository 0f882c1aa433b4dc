// SPDX-License-Identifier: GPL-2.0
/* Variable-length and union events (issue 11: execsnoop-like records), to the ring buffer `rb`
 * and the perf buffer `pb`, on getppid() of the test's process (cfg[CFG_TGID]):
 *
 * - struct exec_event: a fixed header and `args`, a maximum-size array that the producer
 *   truncates: each record is offsetof(args) + args_size bytes, args_size = cfg[CFG_ARGS]
 *   (clamped to MAX_ARGS). args holds "a\0bb\0ccc\0dddd\0..." cut at args_size.
 * - struct flex_event: a header and a flexible array member `data[]`, len = cfg[CFG_ARGS]
 *   bytes (clamped to MAX_ARGS), data[i] = i.
 * - struct union_event: a kind and a union member; union whole_event: the record is a union.
 *
 * cfg[CFG_KIND] picks what getppid() emits: 0 exec_event, 1 flex_event, 2 union_event,
 * 3 whole_event; one record into each buffer per call.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_ARGS 64

enum { CFG_TGID, CFG_KIND, CFG_ARGS, CFG_N };

struct exec_event {
	__u32 pid;
	__u32 args_size;
	char comm[16];
	char args[MAX_ARGS];
};

struct flex_event {
	__u32 pid;
	__u32 len;
	__u8 data[];
};

union value {
	__u64 u;
	__s32 s;
	char text[8];
};

struct union_event {
	__u32 kind;
	__u32 pad;
	union value v;
};

union whole_event {
	struct {
		__u32 kind;
		__u32 n;
	} hdr;
	__u8 raw[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_N);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

/* Scratch for the records (larger than a comfortable stack frame), one per CPU. */
struct scratch {
	struct exec_event exec;
	__u8 flex[sizeof(struct flex_event) + MAX_ARGS]; /* a struct flex_event and its data */
	struct union_event u;
	union whole_event w;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Keep BTF for the types user space reads by name. */
struct exec_event _exec_event = {};
struct flex_event _flex_event = {};
struct union_event _union_event = {};
union whole_event _whole_event __attribute__((section(".bss")));

static __u64 cfg_get(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&cfg, &key);

	return v ? *v : 0;
}

static void emit(void *ctx, void *rec, __u64 size)
{
	bpf_ringbuf_output(&rb, rec, size, 0);
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, rec, size);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int varlen(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, zero = 0, i, word = 1, at = 0;
	__u64 kind = cfg_get(CFG_KIND), n = cfg_get(CFG_ARGS);
	struct scratch *s;

	if (cfg_get(CFG_TGID) != pid)
		return 0;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	if (n > MAX_ARGS)
		n = MAX_ARGS;
	if (kind == 0) {
		s->exec.pid = pid;
		s->exec.args_size = n;
		bpf_get_current_comm(s->exec.comm, sizeof(s->exec.comm));
		for (i = 0; i < MAX_ARGS; i++) {  /* "a\0bb\0ccc\0..." */
			if (at == word) {
				s->exec.args[i] = 0;
				word++;
				at = 0;
			} else {
				s->exec.args[i] = 'a' + (word - 1) % 26;
				at++;
			}
		}
		emit(ctx, &s->exec, __builtin_offsetof(struct exec_event, args) + (n & (MAX_ARGS * 2 - 1)));
	} else if (kind == 1) {
		struct flex_event *f = (void *)s->flex;

		f->pid = pid;
		f->len = n;
		for (i = 0; i < MAX_ARGS; i++)
			s->flex[sizeof(*f) + i] = i;
		emit(ctx, f, sizeof(*f) + (n & (MAX_ARGS * 2 - 1)));
	} else if (kind == 2) {
		s->u.kind = 2;
		s->u.pad = 0;
		s->u.v.u = 0x41424344; /* text: "DCBA" on little-endian */
		emit(ctx, &s->u, sizeof(s->u));
	} else {
		s->w.hdr.kind = 3;
		s->w.hdr.n = 7;
		__builtin_memset(&s->w.raw[8], 0xee, 8);
		emit(ctx, &s->w, sizeof(s->w));
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
