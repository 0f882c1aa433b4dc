"""The kprobe family on kernels that have kprobes (the development machine's does not: the VM
runner's guests do): kprobe and kretprobe with cookies, kprobe.multi, ksyscall; a kernel function
that is gone is named in the error, and a tool picks its target before attaching."""

from __future__ import annotations

import errno
import os

import pytest

import libbpf_py
from libbpf_py import BpfError, features

pytestmark = [pytest.mark.root, pytest.mark.kernel("kprobes")]

ARCH_PREFIX = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}[os.uname().machine]
(KP_HITS, KP_COOKIE, KRET_HITS, KRET_COOKIE, KRET_RET, MULTI_HITS, MULTI_COOKIE_SUM, KSYS_HITS,
 KSYS_ARG, GONE_HITS) = range(10)


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.load(bpf_path("attach_kprobe")) as obj:
        obj.maps["config"][0] = os.getpid()
        yield obj


def result(obj, slot: int) -> int:
    return obj.maps["results"][slot]


def test_kprobe_and_kretprobe_with_cookies(obj) -> None:
    # Cookies where the kernel has them (5.15); the BPF side reads 0 elsewhere.
    cookies = features.has("kprobe_cookie")
    target = ARCH_PREFIX + "getpgid"
    with obj.programs["on_kprobe"].attach_kprobe(target, cookie=11 if cookies else 0), \
            obj.programs["on_kretprobe"].attach_kprobe(target, retprobe=True,
                                                        cookie=22 if cookies else 0):
        expected = os.getpgid(0)
        os.getpgid(0)
    os.getpgid(0)  # detached: not counted
    assert result(obj, KP_HITS) == 2
    assert result(obj, KRET_HITS) == 2
    assert result(obj, KRET_RET) == expected
    assert (result(obj, KP_COOKIE), result(obj, KRET_COOKIE)) == ((11, 22) if cookies else (0, 0))


@pytest.mark.kernel("kprobe_multi")
def test_kprobe_multi_cookie_per_function(obj) -> None:
    prog = obj.programs["on_multi"]
    with prog.attach_kprobe_multi(symbols=[ARCH_PREFIX + "getpgid", ARCH_PREFIX + "getppid"],
                                  cookies=[1, 100]):
        os.getpgid(0)
        os.getpgid(0)
        os.getppid()
    assert result(obj, MULTI_HITS) == 3
    assert result(obj, MULTI_COOKIE_SUM) == 1 + 1 + 100
    with prog.attach_kprobe_multi(ARCH_PREFIX + "getpg*"):  # a glob: getpgid, getpgrp
        os.getpgid(0)
    assert result(obj, MULTI_HITS) == 4


def test_ksyscall_reads_the_syscall_argument(obj) -> None:
    with obj.programs["on_ksyscall"].attach():  # SEC("ksyscall/getpgid")
        os.getpgid(os.getpid())
    assert (result(obj, KSYS_HITS), result(obj, KSYS_ARG)) == (1, os.getpid())


def test_gone_kernel_function_is_named(obj) -> None:
    """Kernels rename and inline functions (do_unlinkat is filename_unlinkat on 7.2): attaching
    to one that is gone names it and the program."""
    with pytest.raises(BpfError) as e:
        obj.programs["on_gone"].attach()  # SEC("kprobe/lbpy_no_such_function")
    assert e.value.errno in (errno.ENOENT, errno.EINVAL)
    assert "no kernel function 'lbpy_no_such_function'" in str(e.value)
    assert "'on_gone'" in str(e.value)
    with pytest.raises(BpfError, match="no kernel function 'lbpy_no_such_function'"):
        obj.programs["on_kprobe"].attach_kprobe("lbpy_no_such_function")
    assert obj.links == []


def test_pick_the_target_before_attaching(obj) -> None:
    """The libbpf-tools pattern: the first candidate this kernel has."""
    candidates = ["lbpy_renamed_away", ARCH_PREFIX + "getpgid"]
    assert [features.kernel_function(c) for c in candidates] == [False, True]
    target = next(c for c in candidates if features.kernel_function(c))
    with obj.programs["on_kprobe"].attach_kprobe(target):
        os.getpgid(0)
    assert result(obj, KP_HITS) == 1
