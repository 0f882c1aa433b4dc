// SPDX-License-Identifier: GPL-2.0
/* perf_event sampling (counts samples of the process config[0] per CPU, and the cookie) and
 * BPF iterators over tasks (text) and a hash map's elements (bytes). */
#include "attach_common.h"

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct bpf_map {
	__u32 id;
	char name[16];
	__u32 max_entries;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

/* results[cpu] counts samples of our process on that CPU; results[32] the last cookie */
SEC("perf_event")
int on_sample(void *ctx)
{
	if (mine()) {
		add(bpf_get_smp_processor_id() & 31, 1);
		set(32, attach_cookie(ctx));
	}
	return 0;
}

/* "pid tgid comm" per thread of the process config[0] (all tasks when it is 0) */
SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u64 target = cfg(0);

	if (!task)
		return 0;
	if (target && task->tgid != target)
		return 0;
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d %d %s\n", task->pid, task->tgid, task->comm);
	return 0;
}

/* raw (id, max_entries) u32 pairs of every map named "table" */
SEC("iter/bpf_map")
int dump_maps(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	__u32 rec[2];

	if (!map)
		return 0;
	if (map->name[0] != 't' || map->name[1] != 'a' || map->name[2] != 'b' ||
	    map->name[3] != 'l' || map->name[4] != 'e' || map->name[5])
		return 0;
	rec[0] = map->id;
	rec[1] = map->max_entries;
	bpf_seq_write(ctx->meta->seq, rec, sizeof(rec));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
