"""libbpf_py.features: the probes a tool uses to pick its hooks before load, and the named
features the test suite's kernel(...) markers rely on."""

from __future__ import annotations

import errno
import logging
import os

import pytest

import libbpf_py
from libbpf_py import BpfError, FeatureNotSupportedError, ProgType, features

pytestmark = [pytest.mark.root]

ARCH_PREFIX = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}[os.uname().machine]


@pytest.mark.kernel("tracefs")
def test_tracepoint() -> None:
    assert features.tracepoint("syscalls", "sys_enter_getpgid")
    assert features.tracepoint("sched", "sched_switch")
    assert not features.tracepoint("syscalls", "sys_enter_lbpy_nope")
    assert not features.tracepoint("lbpy_nope", "x")


@pytest.mark.kernel("tracing")
def test_tp_btf_and_the_tracing_program_type() -> None:
    assert features.tp_btf("sys_enter")
    assert features.tp_btf("sched_switch")
    assert not features.tp_btf("lbpy_no_such_tracepoint")
    # libbpf's own probe loads an fentry program; a kernel that refuses trampolines still
    # loads tp_btf programs, so TRACING programs are supported.
    assert features.program_type(ProgType.TRACING)


@pytest.mark.kernel("kprobes")
def test_kernel_function() -> None:
    assert features.kernel_function(ARCH_PREFIX + "getpgid")
    assert not features.kernel_function("lbpy_no_such_function")


@pytest.mark.kernel_lacks("kprobes")
def test_kernel_function_without_kprobes() -> None:
    assert not features.kernel_function(ARCH_PREFIX + "getpgid")


@pytest.mark.kernel("trampolines")
def test_fentry() -> None:
    assert features.fentry(ARCH_PREFIX + "getpgid")
    assert not features.fentry("lbpy_no_such_function")


@pytest.mark.kernel_lacks("trampolines")
def test_fentry_without_trampolines() -> None:
    assert not features.fentry(ARCH_PREFIX + "getpgid")


@pytest.mark.kernel("btf")
def test_gone_fentry_target_is_named_at_load(bpf_path) -> None:
    """fentry on a function the kernel does not have (do_unlinkat on 7.2): the error names the
    function and the program, not libbpf's bare ESRCH."""
    with pytest.raises(BpfError) as e:
        libbpf_py.load(bpf_path("gone_function"))
    assert e.value.errno == errno.ENOENT
    assert "no kernel function 'lbpy_no_such_function'" in str(e.value)
    assert "program 'on_gone_entry'" in str(e.value)
    assert 'SEC("fentry/lbpy_no_such_function")' in str(e.value)


@pytest.mark.kernel_lacks("trampolines")
@pytest.mark.kernel("tracing")
def test_refused_trampolines_say_so(bpf_path, capfd) -> None:
    """A kernel that refuses trampoline programs (EPERM before verification) gets what kprobes
    get on kernels without them: FeatureNotSupportedError naming the feature and the program,
    and no misleading "ulimit -l" hint from libbpf."""
    logging.getLogger("libbpf_py").setLevel(logging.WARNING)
    with libbpf_py.Object.open(bpf_path("attach_tracing")) as opened:
        for name in ("on_getpgid_entry", "on_getpgid_exit"):
            opened.programs[name].set_attach_target(ARCH_PREFIX + "getpgid")
        with pytest.raises(FeatureNotSupportedError) as e:
            opened.load()
    assert e.value.feature == "trampolines"
    assert e.value.errno == errno.EPERM
    assert "program 'on_getpgid_entry'" in str(e.value)
    assert "trampolines are not supported by this kernel" in str(e.value)
    assert "ulimit" not in capfd.readouterr().err


@pytest.mark.kernel("trampolines")
def test_pick_the_fentry_target_before_load(bpf_path) -> None:
    """The libbpf-tools pattern: the first candidate this kernel can trace, chosen before load."""
    candidates = ["lbpy_renamed_away", ARCH_PREFIX + "getpgid"]
    target = next(c for c in candidates if features.fentry(c))
    assert target == ARCH_PREFIX + "getpgid"
    with libbpf_py.Object.open(bpf_path("attach_tracing")) as opened:
        opened.rodata.fentry_cookie = features.has("tracing_cookie")
        for name, prog in opened.programs.items():
            prog.autoload = name == "on_getpgid_entry"
        opened.programs["on_getpgid_entry"].set_attach_target(target)
        obj = opened.load()
    with obj:
        obj.maps["config"][0] = os.getpid()
        with obj.programs["on_getpgid_entry"].attach_trace():
            os.getpgid(0)
        assert obj.maps["results"][2] == 1  # FENTRY_HITS


def test_every_named_feature_answers() -> None:
    report = {name: features.has(name) for name in features.FEATURES}
    assert all(isinstance(v, bool) for v in report.values())
    assert report["bpf"] and report["btf"]
    with pytest.raises(KeyError, match="unknown feature 'lbpy_nope'"):
        features.has("lbpy_nope")


def test_every_named_feature_is_described() -> None:
    """`python -m libbpf_py features` and docs/kernels.md say what each feature gives a user."""
    assert sorted(features.DESCRIPTIONS) == sorted(features.FEATURES)  # (order: the table's)
    assert all(features.DESCRIPTIONS.values())


def test_a_missing_arena_says_what_the_kernel_said() -> None:
    """A kernel can know ARENA maps and still refuse them (this machine's: EPERM as root): the
    probe keeps the kernel's error, and the CLI prints it next to the feature."""
    from libbpf_py.cli.features import report

    reason = features.why("arena")
    if features.has("arena"):
        assert reason is None
        assert "arena" not in report()["missing_because"]
    else:
        assert reason is not None and reason.startswith("the kernel refused to create one: ")
        name = reason.rsplit("(", 1)[1].rstrip(")")
        assert name in errno.errorcode.values(), reason
        assert report()["missing_because"]["arena"] == reason
    assert features.why("bpf") is None  # present: nothing to explain


def test_probes_mount_nothing() -> None:
    """The bpf_lsm probe reads securityfs's LSM list and mounts nothing: in a private mount
    namespace without securityfs it answers False, says why, and securityfs stays unmounted."""
    import subprocess
    import sys

    child = (
        "import os, subprocess\n"
        "subprocess.run(['umount', '/sys/kernel/security'], capture_output=True)\n"
        "assert not os.path.exists('/sys/kernel/security/lsm')\n"
        "from libbpf_py import features\n"
        "print(features.has('bpf_lsm'), features.why('bpf_lsm'))\n"
        "print(os.path.exists('/sys/kernel/security/lsm'))\n")
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                          "-c", child], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "False securityfs is not mounted, the active LSM list is unknown: mount -t securityfs "
        "securityfs /sys/kernel/security", "False"]


@pytest.mark.kernel("btf")
def test_one_cached_vmlinux_btf() -> None:
    """The probes' and attach checks' name lookups share one vmlinux BTF, loaded once: the
    same ids as a fresh ``Btf.vmlinux()``, and the handle stays the same across questions."""
    from libbpf_py import _vmlinux
    from libbpf_py.btf import Btf, Kind

    enum_id = _vmlinux.find("bpf_prog_type", _vmlinux.BTF_KIND_ENUM)
    handle = _vmlinux._handle
    assert enum_id and handle
    assert _vmlinux.find("lbpy_no_such_type", _vmlinux.BTF_KIND_ENUM) == 0
    assert features.tp_btf("sys_enter")  # through the cached BTF too
    with Btf.vmlinux() as btf:
        assert btf.get("bpf_prog_type", Kind.ENUM).id == enum_id
        assert btf.get("do_sys_openat2", Kind.FUNC).id == \
            _vmlinux.find("do_sys_openat2", _vmlinux.BTF_KIND_FUNC)
    assert _vmlinux._handle is handle


@pytest.mark.root
def test_probes_in_threads_leave_libbpf_its_memlock_bump() -> None:
    """libbpf raises RLIMIT_MEMLOCK once per process, in its first load, in whichever thread; the
    probes that run in a thread with fewer capabilities (no CAP_SYS_RESOURCE) must not be that
    first load: as a process's first calls they leave the limit raised where the kernel charges
    it (before 5.11: no ``memcg_accounting``) and untouched elsewhere, and a load works after."""
    from conftest import BPF_SRC, compile_bpf, python_child

    code = (
        "import sys\n"
        "from libbpf_py import features\n"
        "def limit():\n"
        "    line = next(ln for ln in open('/proc/self/limits') if ln.startswith('Max locked'))\n"
        "    return line.split()[3]\n"
        "before = limit()\n"
        "features.has('packet_checks_without_perfmon'), features.has('perf_event_perfmon')\n"
        "import libbpf_py\n"
        "libbpf_py.load(sys.argv[1]).close()\n"
        "print(before, limit(), features.has('memcg_accounting'))\n")
    before, after, memcg = python_child(code, str(compile_bpf(BPF_SRC / "getppid.bpf.c"))).split()
    if memcg == "True":
        assert after == before  # libbpf leaves the limit alone
    else:
        assert after == "unlimited", (before, after)
