// SPDX-License-Identifier: GPL-2.0
/* Kconfig externs: one libbpf fills from the kconfig open option, one from the kernel's. */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern unsigned int CONFIG_LBPY_TEST_VALUE __kconfig __weak;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

const volatile __u32 target_pid = 0;
__u64 seen_value;
__u64 seen_version;

SEC("tracepoint/syscalls/sys_enter_getppid")
int read_kconfig(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	seen_value = CONFIG_LBPY_TEST_VALUE;
	seen_version = LINUX_KERNEL_VERSION;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
