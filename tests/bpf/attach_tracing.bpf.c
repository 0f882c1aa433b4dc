// SPDX-License-Identifier: GPL-2.0
/* BTF tracing kinds: tp_btf with a cookie, fentry/fexit (target set from Python), fmod_ret on
 * bpf_modify_return_test, BPF LSM observing and denying socket creation. Only events of the
 * process config[0] are recorded (attach_common.h). */
#include "attach_common.h"
#include <bpf/bpf_tracing.h>

#define EPERM 1
#define AF_UNIX 1
#define SOCK_SEQPACKET 5

/* Cookies: tp_btf programs read them since 6.10, fentry ones since 5.19; tests set these from
 * libbpf_py.features before load, and the verifier drops the calls the kernel would refuse. */
const volatile __u8 tp_btf_cookie = 1, fentry_cookie = 1;

enum { TP_BTF_COOKIE, TP_BTF_HITS, FENTRY_HITS, FEXIT_RET, FEXIT_HITS, FMOD_A, LSM_FAMILY,
       LSM_TYPE, LSM_PROTOCOL, LSM_DENIED, FENTRY_COOKIE };

/* config[1]: the syscall number whose sys_enter counts (getpgid) */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, void *regs, long id)
{
	if (mine() && id == cfg(1)) {
		set(TP_BTF_COOKIE, tp_btf_cookie ? bpf_get_attach_cookie(ctx) : 0);
		add(TP_BTF_HITS, 1);
	}
	return 0;
}

/* Attach target chosen at run time with Program.set_attach_target() (arch-specific name). */
SEC("fentry")
int BPF_PROG(on_getpgid_entry, void *regs)
{
	if (mine()) {
		add(FENTRY_HITS, 1);
		set(FENTRY_COOKIE, fentry_cookie ? bpf_get_attach_cookie(ctx) : 0);
	}
	return 0;
}

SEC("fexit")
int BPF_PROG(on_getpgid_exit, void *regs, long ret)
{
	if (mine()) {
		set(FEXIT_RET, ret);
		add(FEXIT_HITS, 1);
	}
	return 0;
}

/* int bpf_modify_return_test(int a, int *b): called by BPF_PROG_TEST_RUN of fmod_ret programs.
 * config[2]: 0 keeps the original function, else it is skipped and this is its result. */
SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(replace_return, int a, int *b, int ret)
{
	set(FMOD_A, a);
	return cfg(2);
}

SEC("lsm/socket_create")
int BPF_PROG(observe_socket, int family, int type, int protocol, int kern, int ret)
{
	if (mine() && !kern) {
		set(LSM_FAMILY, family);
		set(LSM_TYPE, type);
		set(LSM_PROTOCOL, protocol);
	}
	return ret;
}

SEC("lsm/socket_create")
int BPF_PROG(deny_seqpacket, int family, int type, int protocol, int kern, int ret)
{
	if (ret)
		return ret;
	if (mine() && !kern && family == AF_UNIX && (type & 0xf) == SOCK_SEQPACKET) {
		add(LSM_DENIED, 1);
		return -EPERM;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
