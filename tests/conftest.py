"""Test harness: BPF programs compiled on demand, privilege/feature markers, fd-leak check.

- ``bpf_path(name)`` compiles ``tests/bpf/<name>.bpf.c`` with clang (cached by a hash of the
  source, the bundled headers and the clang version) and returns the object's path.
- ``@pytest.mark.root``: needs root; skipped (with that reason) otherwise.
- ``@pytest.mark.kernel("feature")``: needs a kernel feature named in ``libbpf_py.features.FEATURES``
  (add new checks there); skipped naming it. ``@pytest.mark.kernel_lacks("feature")``: the
  opposite, for tests of how kernels without the feature are reported.
- Strict mode (``CI=true`` as root, or ``LIBBPF_PY_STRICT=1``): a skip fails the test unless it
  comes from a ``kernel(...)`` marker whose feature probe found the feature absent (or a
  ``kernel_lacks(...)`` marker whose probe found it present). So a test
  can't skip a feature this kernel has, and a skip always names a probed, missing feature.
- Every test is wrapped by an fd-leak check: fds it opened and did not close fail it.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Callable

import pytest

import libbpf_py
from libbpf_py import features

TESTS = Path(__file__).resolve().parent
BPF_SRC = TESTS / "bpf"
CACHE = Path(os.environ.get("LIBBPF_PY_TEST_CACHE", TESTS / ".cache"))
IS_ROOT = os.geteuid() == 0
STRICT = os.environ.get("LIBBPF_PY_STRICT", "1" if (os.environ.get("CI") == "true" and IS_ROOT) else "0") == "1"
TRACEFS = Path("/sys/kernel/tracing")


def _tracefs() -> bool:
    if (TRACEFS / "events").is_dir():
        return True
    if IS_ROOT:
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], capture_output=True)
    return (TRACEFS / "events").is_dir()


def _securityfs() -> None:
    """Mount securityfs when missing (the bpf_lsm probe reads its lsm list; probes never
    mount anything themselves)."""
    if IS_ROOT and not os.path.exists("/sys/kernel/security/lsm") \
            and os.path.isdir("/sys/kernel/security"):
        subprocess.run(["mount", "-t", "securityfs", "securityfs", "/sys/kernel/security"],
                       capture_output=True)


def has_feature(name: str) -> bool:
    """A kernel feature of ``libbpf_py.features.FEATURES``; tracefs (and securityfs, for
    bpf_lsm) is mounted when missing."""
    if name == "tracefs":
        _tracefs()
    elif name == "bpf_lsm":
        _securityfs()
    return features.has(name)


def open_map_kinds(path: str) -> libbpf_py.OpenObject:
    """map_kinds.bpf.o opened, with what this kernel cannot create left out before load, as a
    tool would: the TASK_STORAGE (5.11) and CGRP_STORAGE (6.2) maps, and the program using
    task storage."""
    opened = libbpf_py.Object.open(path)
    if not features.has("task_storage"):
        opened.maps["task_store"].autocreate = False
        opened.programs["task_count"].autoload = False
    if not features.has("cgrp_storage"):
        opened.maps["cgrp_store"].autocreate = False
    return opened


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "root: needs root")
    config.addinivalue_line("markers", "kernel_lacks(feature): for kernels without the feature")
    # A suite started in the background (`cmd &` in a non-interactive shell, nohup) inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the Ctrl-C tests
    # would wait forever, and the tools they start would inherit the ignored signal too.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and not IS_ROOT:
        pytest.skip("needs root (CAP_SYS_ADMIN/CAP_BPF) to use the bpf syscall")
    for mark in item.iter_markers("kernel"):
        for feature in mark.args:
            # junit.xml carries it: docs/kernels.md says per kernel whether a feature's tests pass
            item.user_properties.append(("kernel_feature", feature))
            if not has_feature(feature):
                item.user_properties.append(("probed_missing_feature", feature))
                why = features.why(feature)  # the kernel's refusal, where the probe kept it
                pytest.skip(f"kernel feature missing: {feature} (libbpf_py.features probe"
                            f"{': ' + why if why else ''})")
    for mark in item.iter_markers("kernel_lacks"):
        for feature in mark.args:
            if has_feature(feature):
                item.user_properties.append(("probed_missing_feature", f"not {feature}"))
                pytest.skip(f"kernel has feature {feature}: the test is for kernels without it "
                            "(libbpf_py.features probe)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    probed = any(k == "probed_missing_feature" for k, _ in item.user_properties)
    if STRICT and report.skipped and not hasattr(report, "wasxfail") and not probed:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"strict mode (CI=true as root): only a kernel(...) marker whose "
                           f"feature probe failed may skip, but the test skipped: {reason}")


def _open_fds() -> dict[int, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the fd of listdir itself, gone by now
            pass
    return fds


@pytest.fixture(autouse=True)
def _fd_leak_check() -> object:
    gc.collect()
    before = _open_fds()
    yield
    gc.collect()
    leaked = {fd: target for fd, target in _open_fds().items() if fd not in before}
    if leaked:
        pytest.fail(f"test leaked file descriptors: {leaked}", pytrace=False)


def _clang() -> str:
    clang = os.environ.get("CLANG", "clang")
    if shutil.which(clang) is None:
        pytest.fail(f"{clang} is needed to compile the BPF test programs (apt-get install clang)",
                    pytrace=False)
    return clang


#: BPF sources that need clang 18+ (arenas: address spaces, addr_space_cast): compiled with
#: $CLANG_ARENA (default clang-19, Debian bookworm's; scripts/bootstrap.sh installs it). A
#: source says so by including this marker in a comment or code.
NEEDS_NEW_CLANG = "__arena"


def _clang_for(src: Path) -> str:
    if NEEDS_NEW_CLANG not in src.read_text():
        return _clang()
    clang = os.environ.get("CLANG_ARENA", "clang-19")
    if shutil.which(clang) is None:
        pytest.fail(f"{src.name} needs clang 18+ ({clang}: apt-get install clang-19)",
                    pytrace=False)
    return clang


def compile_bpf(src: Path, out_dir: Path = CACHE) -> Path:
    """Compile a BPF C source with clang into a cached object; returns the object's path.
    Arena programs get a clang new enough for them (``_clang_for``)."""
    clang = _clang_for(src)
    include = Path(libbpf_py.get_include())
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    h = hashlib.sha256(src.read_bytes())
    for header in [*sorted((include / "bpf").glob("*.h")), *sorted(BPF_SRC.glob("*.h"))]:
        h.update(header.read_bytes())
    h.update(subprocess.run([clang, "--version"], capture_output=True, check=True).stdout)
    out = out_dir / f"{src.name[:-2]}-{h.hexdigest()[:16]}.o"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    cmd = [clang, "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", f"-I{include}",
           f"-I{BPF_SRC}", "-c", str(src), "-o", f"{out}.tmp"]
    if multiarch:
        cmd.insert(1, f"-I/usr/include/{multiarch}")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"compiling {src.name} failed:\n{' '.join(cmd)}\n{done.stderr}", pytrace=False)
    os.replace(f"{out}.tmp", out)
    return out


@pytest.fixture(scope="session")
def bpf_path() -> Callable[[str], Path]:
    """``bpf_path("getppid")`` -> path of tests/bpf/getppid.bpf.c compiled."""

    def get(name: str) -> Path:
        return compile_bpf(BPF_SRC / f"{name}.bpf.c")

    return get


@pytest.fixture
def bpffs():
    """A private bpffs mount (a temporary directory), unmounted and removed after the test."""
    import tempfile

    d = tempfile.mkdtemp(prefix="libbpf_py-bpffs-")
    subprocess.run(["mount", "-t", "bpf", "bpf", d], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d], check=True)
        os.rmdir(d)


def load_cookie(path: Path) -> libbpf_py.Object:
    """tests/bpf/cookie.bpf.c loaded with its cookie reads on where this kernel allows them."""
    with libbpf_py.Object.open(path) as opened:
        opened.rodata.tp_cookie = features.has("tracepoint_cookie")
        opened.rodata.raw_tp_cookie = features.has("raw_tp_cookie")
        return opened.load()


def python_child(code: str, *args: str, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (``python -c code args...``), the way a user's script
    starts: what it imports and binds is its own. Its stdout; a failure shows its stderr. Also
    the way to run a case that could crash the interpreter: a child killed by a signal fails the
    test naming the signal, one still running after ``timeout`` seconds fails it as a hang."""
    try:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"child process hung (still running after {timeout} s); stdout: "
                    f"{e.stdout!r}, stderr: {e.stderr!r}", pytrace=False)
    if out.returncode < 0:
        pytest.fail(f"child process killed by {signal.Signals(-out.returncode).name}; stdout: "
                    f"{out.stdout!r}, stderr:\n{out.stderr}", pytrace=False)
    assert out.returncode == 0, out.stderr
    return out.stdout
