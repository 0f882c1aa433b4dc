/* The event of local_event.bpf.c, written as libbpf-tools write their headers. */
#ifndef LOCAL_EVENT_H
#define LOCAL_EVENT_H
#define TASK_COMM_LEN 16
enum ev_kind { EV_OPEN = 1, EV_CLOSE = 2 };
struct inner { unsigned short lo, hi; };
typedef unsigned long long u64;
struct event {
	int pid;
	u64 ts;
	char comm[TASK_COMM_LEN];
	unsigned flags : 3, mode : 5;
	enum ev_kind kind;
	union { unsigned int word; unsigned char bytes[4]; };
	struct inner in;
	unsigned __int128 addr;
	int args_count;
	char args[];
};
#endif
