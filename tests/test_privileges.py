"""Privileges: as an unprivileged user (nobody) and as root with a subset of the capabilities BPF
checks (none; CAP_BPF; CAP_BPF + CAP_PERFMON; CAP_BPF + CAP_NET_ADMIN; set with setpriv from
util-linux), opening and inspecting objects works; loading, creating maps, attaching and opening
by id raise PermissionError naming the capability that is missing (``missing_capabilities``);
nothing half-created is left behind: no fd, no pin, no link."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from libbpf_py import features

pytestmark = pytest.mark.root

CONFIGS = {
    "nobody": ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all"],
    "no capabilities": ["--inh-caps=-all", "--bounding-set=-all"],
    "CAP_BPF": ["--inh-caps=-all", "--bounding-set=-all,+bpf"],
    "CAP_BPF+CAP_PERFMON": ["--inh-caps=-all", "--bounding-set=-all,+bpf,+perfmon"],
    "CAP_BPF+CAP_NET_ADMIN": ["--inh-caps=-all", "--bounding-set=-all,+bpf,+net_admin"],
}

CHILD = r"""
import ctypes, json, os, sys
import libbpf_py
from libbpf_py import Map, MapType

getppid, testrun, cgroup_obj, pinned, cgroup, bpffs = sys.argv[1:7]
results = {}


def fds():
    return sorted(os.listdir("/proc/self/fd"))


def attempt(name, fn):
    before = fds()
    try:
        fn()
        res = {"ok": True}
    except Exception as e:
        res = {"ok": False, "type": type(e).__name__, "permission": isinstance(e, PermissionError),
               "missing": getattr(e, "missing_capabilities", None), "msg": str(e)}
    res["fds_left"] = len(fds()) - len(before)
    results[name] = res


def inspect():
    with libbpf_py.Object.open(getppid) as o:
        assert list(o.programs) == ["on_getppid"] and "counts" in o.maps
        assert o.maps["counts"].key_size == 4 and o.btf is not None and o.sections == {}
        assert o.programs["on_getppid"].section == "tracepoint/syscalls/sys_enter_getppid"


def only(path, section):
    o = libbpf_py.Object.open(path)
    for p in o.programs.values():
        p.autoload = p.section == section
    return o


def attach_tracepoint():
    with libbpf_py.load(getppid) as o:
        o.attach()


def attach_cgroup():
    with only(cgroup_obj, "cgroup_skb/ingress").load() as o:
        prog = next(p for p in o.programs.values() if p.section == "cgroup_skb/ingress")
        prog.attach_cgroup(cgroup).detach()


attempt("open and inspect", inspect)
attempt("Map.create hash", lambda: Map.create(MapType.HASH, key_size=4, value_size=4,
                                              max_entries=4).close())
attempt("Map.create devmap", lambda: Map.create(MapType.DEVMAP, key_size=4, value_size=4,
                                                max_entries=4).close())
attempt("load tracepoint", lambda: libbpf_py.load(getppid).close())
attempt("load xdp", lambda: only(testrun, "xdp").load().close())
def load_pinned():
    libbpf_py.load(pinned, pin_root_path=bpffs).close()
    os.unlink(os.path.join(bpffs, "shared"))  # loaded: the pin is ours (by name, it stays)


attempt("load with pinned maps", load_pinned)
attempt("attach tracepoint", attach_tracepoint)
attempt("attach cgroup_skb", attach_cgroup)
attempt("Map.from_id", lambda: Map.from_id(1).close())
print(json.dumps(results))
"""

BPF, PERFMON, NET_ADMIN, SYS_ADMIN = "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"


def expected(config: str) -> dict[str, list[str] | None]:
    """Per operation: None (it works) or the capabilities the refusal must name."""
    has = {"nobody": set(), "no capabilities": set(), "CAP_BPF": {BPF},
           "CAP_BPF+CAP_PERFMON": {BPF, PERFMON}, "CAP_BPF+CAP_NET_ADMIN": {BPF, NET_ADMIN}}[config]

    def lacks(*needs: str) -> list[str] | None:
        missing = [n for n in needs if n not in has]
        return missing or None

    return {
        "open and inspect": None,
        "Map.create hash": lacks(BPF),
        "Map.create devmap": lacks(BPF, NET_ADMIN),
        "load tracepoint": lacks(BPF, PERFMON),
        # 5.10's verifier takes a packet bounds check only from a process with CAP_PERFMON
        "load xdp": lacks(BPF, NET_ADMIN) or (
            None if PERFMON in has or features.has("packet_checks_without_perfmon")
            else [PERFMON]),
        "load with pinned maps": lacks(BPF, PERFMON),
        # perf events: CAP_PERFMON, or CAP_SYS_ADMIN where the kernel asks for that
        # (Debian's kernels at perf_event_paranoid=3: the perf_event_perfmon probe)
        "attach tracepoint": lacks(BPF, PERFMON) or (
            None if features.has("perf_event_perfmon") else [SYS_ADMIN]),
        # cgroup_skb loads with CAP_BPF alone, attaching it needs CAP_NET_ADMIN
        "attach cgroup_skb": lacks(BPF) or lacks(NET_ADMIN),
        "Map.from_id": [SYS_ADMIN],
    }


@pytest.fixture(scope="module")
def setup(bpf_path):
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop capabilities", pytrace=False)
    work = tempfile.mkdtemp(prefix="libbpf_py-priv-")
    os.chmod(work, 0o755)
    objs = []
    for name in ("getppid", "prog_testrun", "attach_cgroup", "obj_pinned"):
        dst = os.path.join(work, f"{name}.bpf.o")
        shutil.copy(bpf_path(name), dst)
        os.chmod(dst, 0o644)
        objs.append(dst)
    root = subprocess.run(["findmnt", "-n", "-o", "TARGET", "-t", "cgroup2"], capture_output=True,
                          text=True).stdout.split()
    assert root, "cgroup v2 is not mounted"
    cgroup = os.path.join(root[0], f"lbpy-priv-{os.getpid()}")
    os.mkdir(cgroup)
    bpffs = os.path.join(work, "bpffs")
    os.mkdir(bpffs)
    subprocess.run(["mount", "-t", "bpf", "bpf", bpffs], check=True)
    os.chmod(bpffs, 0o1777)
    try:
        yield objs, cgroup, bpffs
    finally:
        subprocess.run(["umount", "-l", bpffs], check=True)
        os.rmdir(cgroup)
        shutil.rmtree(work)


def pins(bpffs: str) -> list[str]:
    return sorted(set(os.listdir(bpffs)) - {"maps.debug", "progs.debug"})


@pytest.mark.parametrize("config", list(CONFIGS))
def test_refusals_name_the_missing_capability(setup, config) -> None:
    objs, cgroup, bpffs = setup
    # Capabilities only: kernels before 5.11 also charge BPF memory to RLIMIT_MEMLOCK, which
    # libbpf raises itself only with CAP_SYS_RESOURCE (the next test): there, no limit
    memlock = [] if features.has("memcg_accounting") else ["prlimit",
                                                           "--memlock=unlimited:unlimited"]
    out = subprocess.run([*memlock, "setpriv", *CONFIGS[config], sys.executable, "-c", CHILD,
                          *objs, cgroup, bpffs], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout)
    for op, missing in expected(config).items():
        res = results[op]
        assert res["fds_left"] == 0, (op, res)  # nothing half-created holds an fd
        if missing is None:
            assert res["ok"], (op, res)
            continue
        assert not res["ok"] and res["permission"], (op, res)
        assert res["missing"] == missing, (op, res)
        assert f"lacks {' and '.join(missing)}" in res["msg"], (op, res)
    # A load that created and pinned a map before its program was refused unpinned it again.
    assert pins(bpffs) == [], pins(bpffs)


MEMLOCK_CHILD = r"""
import json, os, sys
import libbpf_py
from libbpf_py import Map, MapType

results = {}
for name, fn in (("load", lambda: libbpf_py.load(sys.argv[1]).close()),
                 ("Map.create", lambda: Map.create(MapType.HASH, key_size=4, value_size=4,
                                                   max_entries=4).close())):
    before = len(os.listdir("/proc/self/fd"))
    try:
        fn()
        res = {"ok": True}
    except Exception as e:
        res = {"ok": False, "permission": isinstance(e, PermissionError), "msg": str(e)}
    res["fds_left"] = len(os.listdir("/proc/self/fd")) - before
    results[name] = res
print(json.dumps(results))
"""


def test_memlock_limit_is_named_where_the_kernel_charges_it(setup) -> None:
    """Kernels without memcg accounting (before 5.11) charge maps and programs to RLIMIT_MEMLOCK;
    libbpf raises the limit itself, which needs CAP_SYS_RESOURCE: with CAP_BPF+CAP_PERFMON and a
    limit of 0 the refusal names RLIMIT_MEMLOCK, its value and the way out. Where memory cgroups
    are charged instead, the limit plays no part: the same calls work."""
    objs, _, _ = setup
    out = subprocess.run(["prlimit", "--memlock=0:0", "setpriv", *CONFIGS["CAP_BPF+CAP_PERFMON"],
                          sys.executable, "-c", MEMLOCK_CHILD, objs[0]],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout)
    assert sorted(results) == ["Map.create", "load"]
    charged = not features.has("memcg_accounting")
    for op, res in results.items():
        assert res["fds_left"] == 0, (op, res)
        if charged:
            assert not res["ok"] and res["permission"], (op, res)
            assert ("charges BPF maps and programs to RLIMIT_MEMLOCK, and this process's limit "
                    "is 0 bytes: raise it") in res["msg"], (op, res)
            # ... once: not also libbpf's own hint, which it prints after any EPERM as root
            assert "permission error while running as root" not in res["msg"], (op, res)
        else:
            assert res["ok"], (op, res)
