"""W1 cold start, peer pylibbpf 0.0.6 (pybind11, bundles its own libbpf): import + open + load +
attach, then detach/close, exit. Same precompiled CO-RE object as coldstart_libbpf_py.py.

    python coldstart_pylibbpf.py OBJ [--phases|--check]

--check (untimed sanity run) also sets config[0] = getpid(), calls getppid() and checks
counts[getpid()] == 1.

pylibbpf API used: BpfObject(path) only records the path (a missing file fails in load()),
.load() opens and loads the object, so "open" is ~0 and "load" includes the open;
.get_program(name).attach() takes no target: it attaches by the SEC name (libbpf auto-attach, so
"tracepoint/syscalls/sys_enter_getppid" works as is), .detach() destroys the link. There is no
explicit close: the object is closed when the last reference goes (del). `import pylibbpf` also
imports llvmlite.ir (its package __init__ does, for PythonBPF struct conversion): that is part
of what a pylibbpf user pays, so it is counted in "import".
"""
from time import process_time_ns as _now

_t = [_now()]
import sys  # noqa: E402
import pylibbpf  # noqa: E402

_t.append(_now())


def check(obj: pylibbpf.BpfObject) -> None:
    """The program ran once for this process: config[0] <- own pid, getppid(), counts[pid]."""
    import os

    obj["config"][0] = os.getpid()
    os.getppid()
    count = obj["counts"][os.getpid()]
    if count != 1:
        sys.exit(f"check failed: count={count}")
    print("check ok")


obj = pylibbpf.BpfObject(sys.argv[1])  # lazy: nothing is opened yet
_t.append(_now())
obj.load()  # opens the ELF, then loads
_t.append(_now())
prog = obj.get_program("on_getppid")
prog.attach()
_t.append(_now())
if "--check" in sys.argv:
    check(obj)
prog.detach()
del prog, obj  # no close(): the C++ destructor closes the bpf_object
_t.append(_now())
if "--phases" in sys.argv:
    names = ("import", "open", "load", "attach", "close")
    print("PHASES startup=%d " % (_t[0] // 1000)
          + " ".join(f"{n}={(b - a) // 1000}" for n, a, b in zip(names, _t, _t[1:])))
