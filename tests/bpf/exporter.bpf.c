// SPDX-License-Identifier: GPL-2.0
/* Maps for the Prometheus exporter's tests (tests/test_exporter.py).
 *
 * Filled by programs, for the end-to-end test with a real Prometheus: system calls of one
 * process by number (raw_syscalls:sys_exit), execs of its children by comm in a per-CPU hash
 * (sched:sched_process_exec), and a log2 histogram of its pwrite64() sizes with their exact sum.
 * Filled from user space, for the label decoders and the config checks: a hash keyed by a struct
 * with one field per decoder, histograms keyed by (id, slot) and with slots in the value.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define SLOTS 32

const volatile __u32 target_tgid = 0;

struct trace_event_raw_sys_enter {
	unsigned short type;
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_exit {
	unsigned short type;
	long id;
	long ret;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

/* syscall number -> completed calls */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} syscalls SEC(".maps");

struct comm_key {
	char comm[TASK_COMM_LEN];
};

/* comm of an exec'ed child of target_tgid -> execs (one count per CPU) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct comm_key);
	__type(value, __u64);
} execs SEC(".maps");

/* log2(bytes) of pwrite64() -> calls; pwrite_bytes[0]: the exact sum */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} pwrite_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pwrite_bytes SEC(".maps");

enum kind { KIND_READ, KIND_WRITE, KIND_OTHER = 7 };

/* one field per label decoder, filled from user space */
struct label_key {
	__u32 v4;
	__u8 v6[16];
	__u16 port;
	__s32 err;
	__u64 cgroup;
	__u64 addr;
	__u32 nr;
	enum kind kind;
	char name[8];
	__u32 big_endian;
};

struct label_value {
	__u64 count;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct label_key);
	__type(value, struct label_value);
} labels SEC(".maps");

struct hist_key {
	__u32 id;
	__u32 slot;
};

/* (id, slot) -> count, and id -> sum: per-id histograms */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hist_key);
	__type(value, __u64);
} hist_per SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} hist_per_sum SEC(".maps");

struct slots {
	__u64 slots[8];
};

/* id -> its histogram's slots, in the value (libbpf-tools' layout) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct slots);
} hist_in_value SEC(".maps");

/* the same counts one per CPU, for the per-CPU sums */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

/* a key no label decoder reads (an array) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u8[6]);
	__type(value, __u64);
} mac_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	while (v > 1 && r < 63) {
		v >>= 1;
		r++;
	}
	return r;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int on_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 nr;
	__u64 one = 1, *count;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	nr = (__u32)BPF_CORE_READ(ctx, id);
	count = bpf_map_lookup_elem(&syscalls, &nr);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&syscalls, &nr, &one, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct comm_key key = {};
	__u64 one = 1, *count;

	if (BPF_CORE_READ(task, real_parent, tgid) != target_tgid)
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	count = bpf_map_lookup_elem(&execs, &key);
	if (count)
		*count += 1; /* per-CPU: this CPU's own slot */
	else
		bpf_map_update_elem(&execs, &key, &one, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_pwrite64")
int on_pwrite(struct trace_event_raw_sys_enter *ctx)
{
	__u64 bytes = BPF_CORE_READ(ctx, args[2]), *slot_count, *sum;
	__u32 slot, zero = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	slot = log2_u64(bytes);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	slot_count = bpf_map_lookup_elem(&pwrite_hist, &slot);
	if (slot_count)
		__sync_fetch_and_add(slot_count, 1);
	sum = bpf_map_lookup_elem(&pwrite_bytes, &zero);
	if (sum)
		__sync_fetch_and_add(sum, bytes);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
