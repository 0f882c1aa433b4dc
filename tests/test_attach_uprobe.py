"""uprobe/uretprobe (by symbol and by offset, executable and libc, pid filter, cookie),
uprobe_multi (glob, symbols with cookies) and USDT (arguments and cookie read in BPF), against a
helper process built from tests/bin/uprobe_target.c with <sys/sdt.h>, and against a shared
library the test builds (tests/bin/uprobe_lib.c), loaded by this process and by a child."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import libbpf_py
from libbpf_py import BpfError, LinkType, features

pytestmark = [pytest.mark.root, pytest.mark.kernel("uprobes")]

from conftest import CACHE  # noqa: E402 - tests/.cache, or $LIBBPF_PY_TEST_CACHE (VM runner)

TESTS = Path(__file__).resolve().parent
(ADD_HITS, ADD_A, ADD_B, ADD_COOKIE, ADD_RET, RET_HITS, MULTI_HITS, USDT_HITS, USDT_A, USDT_B,
 USDT_COOKIE, LIBC_HITS, LAST_PID, MULTI_COOKIE_SUM) = range(14)


def build_helper(name: str, *, shared: bool = False) -> Path:
    """Compile tests/bin/<name>.c with gcc (cached by source hash under tests/.cache/): an
    executable, or with ``shared`` a shared library (lib<name>-<hash>.so)."""
    src = TESTS / "bin" / f"{name}.c"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    out = CACHE / (f"lib{name}-{digest}.so" if shared else f"{name}-{digest}")
    if out.is_file():
        return out
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the uprobe test helper", pytrace=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    flags = ["-shared", "-fPIC"] if shared else []
    done = subprocess.run(["gcc", "-O1", "-g", *flags, "-o", f"{out}.tmp", str(src)],
                          capture_output=True, text=True)
    if done.returncode:
        hint = " (<sys/sdt.h>: apt-get install systemtap-sdt-dev)" if "sdt.h" in done.stderr else ""
        pytest.fail(f"building {src.name} failed{hint}:\n{done.stderr}", pytrace=False)
    os.replace(f"{out}.tmp", out)
    return out


class Helper:
    """A running uprobe_target: ``call(a, b)`` makes it call the probed functions once."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout.readline() == "ready\n"
        self.pid = self.proc.pid

    def call(self, a: int, b: int) -> tuple[int, int]:
        self.proc.stdin.write(f"{a} {b}\n")
        self.proc.stdin.flush()
        s, p = self.proc.stdout.readline().split()
        return int(s), int(p)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def helper_path() -> Path:
    return build_helper("uprobe_target")


@pytest.fixture
def helpers(helper_path):
    made: list[Helper] = []

    def spawn() -> Helper:
        made.append(Helper(helper_path))
        return made[-1]

    try:
        yield spawn
    finally:
        for h in made:
            h.close()


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.load(bpf_path("attach_uprobe")) as o:
        o.maps["config"][0] = os.getpid()
        yield o


def r(obj, slot: int) -> int:
    return obj.maps["results"][slot]


def file_offset(path: str | Path, symbol: str) -> int:
    """File offset of a function symbol (what uprobes take), via pyelftools."""
    elffile = pytest.importorskip("elftools.elf.elffile")
    with open(path, "rb") as f:
        elf = elffile.ELFFile(f)
        for table in (".symtab", ".dynsym"):
            sec = elf.get_section_by_name(table)
            if sec is None:
                continue
            for sym in sec.get_symbol_by_name(symbol) or ():
                if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"]:
                    shdr = elf.get_section(sym["st_shndx"])
                    return sym["st_value"] - shdr["sh_addr"] + shdr["sh_offset"]
    raise AssertionError(f"{symbol} not found in {path}")


def libc_path() -> str:
    for line in open("/proc/self/maps"):
        parts = line.split()
        if len(parts) >= 6 and os.path.basename(parts[5]).startswith("libc.so"):
            return parts[5]
    pytest.fail("libc is not mapped in this process", pytrace=False)


def test_uprobe_and_uretprobe_by_symbol_with_pid_filter(obj, helpers, helper_path) -> None:
    p1, p2 = helpers(), helpers()
    # A cookie where the kernel has them (5.15); the BPF side reads 0 elsewhere.
    cookie = 7 if features.has("uprobe_cookie") else 0
    enter = obj.programs["on_add"].attach_uprobe(str(helper_path), "target_add", pid=p1.pid,
                                                 cookie=cookie)
    with enter, obj.programs["on_add_ret"].attach_uprobe(str(helper_path), "target_add",
                                                         pid=p1.pid, retprobe=True):
        assert p1.call(2, 3) == (5, 6)
        assert p2.call(10, 20) == (30, 200)  # another process: filtered out
        if not features.has("perf_link"):  # an ioctl attachment (before 5.15): no link info
            with pytest.raises(BpfError, match="bpf_link_get_info_by_fd"):
                enter.info()
        else:
            info = enter.info()
    assert (r(obj, ADD_HITS), r(obj, ADD_A), r(obj, ADD_B)) == (1, 2, 3)
    assert (r(obj, ADD_COOKIE), r(obj, LAST_PID)) == (cookie, p1.pid)
    assert (r(obj, RET_HITS), r(obj, ADD_RET)) == (1, 5)
    if not features.has("perf_link"):
        return
    assert info.type == LinkType.PERF_EVENT
    if not features.has("perf_link_info"):  # before 6.6: the link info stops at the type
        return
    assert info.perf_event_type == "uprobe"
    assert (info.file_name, info.cookie) == (str(helper_path), cookie)
    assert info.offset == file_offset(helper_path, "target_add")


def test_uprobe_by_offset_in_executable(obj, helpers, helper_path) -> None:
    h = helpers()
    off = file_offset(helper_path, "target_add")
    with obj.programs["on_add"].attach_uprobe(str(helper_path), offset=off):
        h.call(4, 5)
        h.call(6, 7)
    assert (r(obj, ADD_HITS), r(obj, ADD_A), r(obj, ADD_B)) == (2, 6, 7)


def test_uprobe_in_libc_by_symbol_and_offset(obj) -> None:
    prog = obj.programs["on_libc"]
    with prog.attach_uprobe("libc.so.6", "getppid", pid=os.getpid()):
        for _ in range(3):
            os.getppid()
    assert r(obj, LIBC_HITS) == 3
    libc = libc_path()
    with prog.attach_uprobe(libc, offset=file_offset(libc, "getppid"), pid=os.getpid()):
        os.getppid()
    assert r(obj, LIBC_HITS) == 4


@pytest.mark.kernel("uprobe_multi")
def test_uprobe_multi_glob_and_symbols(obj, helpers, helper_path) -> None:
    h = helpers()
    prog = obj.programs["on_multi"]
    with prog.attach_uprobe_multi(str(helper_path), "target_*", pid=h.pid) as link:
        h.call(1, 1)
        h.call(2, 2)
        info = link.info()
    assert r(obj, MULTI_HITS) == 4  # target_add and target_mul, twice
    assert info.type == LinkType.UPROBE_MULTI
    assert (info.path, info.count, info.pid) == (str(helper_path), 2, h.pid)
    with prog.attach_uprobe_multi(str(helper_path), symbols=["target_add", "target_mul"],
                                  cookies=[1, 100], pid=h.pid):
        h.call(3, 3)
    assert r(obj, MULTI_HITS) == 6
    assert r(obj, MULTI_COOKIE_SUM) == 101


def test_usdt_arguments_and_cookie(obj, helpers, helper_path) -> None:
    h = helpers()
    with obj.programs["on_pair"].attach_usdt(str(helper_path), "libbpf_py", "pair", pid=h.pid,
                                              cookie=42):
        h.call(-3, 1 << 40)
    assert r(obj, USDT_HITS) == 1
    assert r(obj, USDT_A) == (-3) & 0xFFFFFFFFFFFFFFFF  # the int, sign-extended by BPF
    assert r(obj, USDT_B) == 1 << 40
    assert r(obj, USDT_COOKIE) == 42


def test_usdt_link_outliving_object_close(bpf_path, helpers, helper_path) -> None:
    """USDT links use memory of their object: Object.close() detaches them first (no use after
    free), and a later detach() is a no-op. No fd is leaked (the fd-leak check)."""
    h = helpers()
    o = libbpf_py.load(bpf_path("attach_uprobe"))
    link = o.programs["on_pair"].attach_usdt(str(helper_path), "libbpf_py", "pair", pid=h.pid)
    o.close()
    assert link.closed and o.links == []
    link.detach()
    h.call(1, 2)  # the probe is gone: the helper still works


def test_usdt_link_is_a_composite_without_fd(obj, helpers, helper_path, tmp_path) -> None:
    """libbpf's USDT link has no fd (bpf_link__fd says 0, stdin): the Link says what it is and
    refuses fd-based operations instead of acting on fd 0."""
    h = helpers()
    with obj.programs["on_pair"].attach_usdt(str(helper_path), "libbpf_py", "pair",
                                              pid=h.pid) as link:
        for op in (lambda: link.fd, link.info, lambda: link.pin(tmp_path / "usdt"),
                   lambda: link.update_program(obj.programs["on_pair"])):
            with pytest.raises(BpfError, match="composite of uprobes") as e:
                op()
            assert e.value.errno == errno.EOPNOTSUPP
        assert (link.has_fd, link.borrows) == (False, libbpf_py.link.BORROWS_OBJECT_MEMORY)
        assert "no fd (borrows object memory)" in repr(link)
        h.call(1, 2)
    assert r(obj, USDT_HITS) == 1


def test_missing_symbol_and_binary_are_named(obj, helper_path) -> None:
    with pytest.raises(BpfError, match="no_such_function") as e:
        obj.programs["on_add"].attach_uprobe(str(helper_path), "no_such_function")
    assert e.value.errno == errno.ENOENT
    with pytest.raises(BpfError, match="no such binary '/nonexistent/bin'") as e:
        obj.programs["on_add"].attach_uprobe("/nonexistent/bin", "main")
    assert e.value.errno == errno.ENOENT
    with pytest.raises(BpfError, match="pair_missing"):
        obj.programs["on_pair"].attach_usdt(str(helper_path), "libbpf_py", "pair_missing")


# --- a shared library (what ported tools probe most: libc, libssl, libpthread ...)

LIB_CHILD = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.lbpy_lib_add.argtypes = [ctypes.c_int, ctypes.c_long]
print("ready", flush=True)
for line in sys.stdin:
    a, b = map(int, line.split())
    print(lib.lbpy_lib_add(a, b), flush=True)
"""


@pytest.fixture(scope="module")
def shared_lib() -> Path:
    return build_helper("uprobe_lib", shared=True)


def load_lib(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.lbpy_lib_add.argtypes = [ctypes.c_int, ctypes.c_long]
    lib.lbpy_lib_mul.argtypes = [ctypes.c_int, ctypes.c_long]
    lib.lbpy_lib_mul.restype = ctypes.c_long
    return lib


def test_uprobe_and_usdt_in_a_shared_library_of_this_process(obj, shared_lib) -> None:
    """pid=0: this process. The probes are on the library's file; this process maps it."""
    lib = load_lib(shared_lib)
    path = str(shared_lib)
    # A uprobe cookie where the kernel has them (5.15); the BPF side reads 0 elsewhere. USDT
    # cookies work everywhere (libbpf falls back to a map keyed by the probe's address).
    cookie = 3 if features.has("uprobe_cookie") else 0
    with obj.programs["on_add"].attach_uprobe(path, "lbpy_lib_add", pid=0, cookie=cookie), \
            obj.programs["on_add_ret"].attach_uprobe(path, "lbpy_lib_add", pid=0,
                                                     retprobe=True), \
            obj.programs["on_pair"].attach_usdt(path, "libbpf_py_lib", "pair", pid=0, cookie=9):
        assert lib.lbpy_lib_add(20, 1 << 33) == 20
    assert (r(obj, ADD_HITS), r(obj, ADD_A), r(obj, ADD_B), r(obj, ADD_COOKIE)) == (
        1, 20, 0, cookie)
    assert (r(obj, RET_HITS), r(obj, ADD_RET), r(obj, LAST_PID)) == (1, 20, os.getpid())
    assert (r(obj, USDT_HITS), r(obj, USDT_A), r(obj, USDT_B), r(obj, USDT_COOKIE)) == (
        1, 20, 1 << 33, 9)


@pytest.mark.kernel("uprobe_multi")
def test_uprobe_multi_in_a_shared_library_of_this_process(obj, shared_lib) -> None:
    """uprobe.multi by glob over the library's functions, pid=0: this process."""
    lib = load_lib(shared_lib)
    with obj.programs["on_multi"].attach_uprobe_multi(str(shared_lib), "lbpy_lib_*", pid=0):
        lib.lbpy_lib_add(1, 1)
        lib.lbpy_lib_mul(2, 2)
    assert r(obj, MULTI_HITS) == 2


def test_uprobe_in_a_shared_library_of_another_process(obj, shared_lib) -> None:
    """pid=-1 sees every process that maps the library; pid=0 only this one."""
    import sys

    child = subprocess.Popen([sys.executable, "-c", LIB_CHILD, str(shared_lib)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"

        def call(a: int, b: int) -> int:
            child.stdin.write(f"{a} {b}\n")
            child.stdin.flush()
            return int(child.stdout.readline())

        with obj.programs["on_add"].attach_uprobe(str(shared_lib), "lbpy_lib_add", pid=0):
            assert call(1, 2) == 3  # another process: not seen
        assert r(obj, ADD_HITS) == 0
        with obj.programs["on_add"].attach_uprobe(str(shared_lib), "lbpy_lib_add"), \
                obj.programs["on_pair"].attach_usdt(str(shared_lib), "libbpf_py_lib", "pair",
                                                     pid=child.pid):
            assert call(5, 6) == 11
        assert (r(obj, ADD_HITS), r(obj, ADD_A), r(obj, LAST_PID)) == (1, 5, child.pid)
        assert (r(obj, USDT_HITS), r(obj, USDT_A), r(obj, USDT_B)) == (1, 5, 6)
    finally:
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()
