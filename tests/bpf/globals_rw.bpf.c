// SPDX-License-Identifier: GPL-2.0
/* Global variables of every kind of data section, read and written by a tracepoint program
 * that runs only for the test's own pid (set in .rodata before load). */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 1, GREEN = 2, BLUE = 4 };

struct point {
	int x;
	int y;
};

struct cfg {
	__u32 a;
	__u8 flags : 3;
	__u8 mode : 5;
	char tag[8];
	struct point p;
	enum color c;
};

/* .rodata: set before load, frozen after */
const volatile __u32 target_pid = 0;
const volatile enum color ro_color = GREEN;
const volatile char ro_name[16] = "hello";

/* .data */
__u64 data_counter = 7;
bool data_flag = true;
__s16 data_neg = -5;
struct cfg data_cfg = { .a = 1, .flags = 5, .mode = 17, .tag = "tag", .p = { -1, 2 }, .c = BLUE };

/* .bss */
__u64 bss_seen;
__u64 bss_copy;
struct point bss_point;
__u32 bss_arr[4];
enum color bss_color;

/* custom sections */
__u64 custom_var SEC(".data.custom") = 42;
const volatile __u32 custom_ro SEC(".rodata.custom") = 9;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct point);
} points SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 zero = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	bss_seen++;
	bss_copy = data_counter + custom_var + custom_ro;
	bss_point = data_cfg.p;
	bss_arr[bss_seen & 3] = data_cfg.mode;
	bss_color = data_flag ? ro_color : data_cfg.c;
	bpf_map_update_elem(&points, &zero, &data_cfg.p, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
