"""W1 cold start, libbpf_py: import + open + load + attach, then detach/close, exit.

    python coldstart_libbpf_py.py OBJ [--phases|--check]

--check (untimed sanity run) also sets config[0] = getpid(), calls getppid() and checks
counts[getpid()] == 1.
"""
from time import process_time_ns as _now

_t = [_now()]
import sys  # noqa: E402
import libbpf_py  # noqa: E402

_t.append(_now())
opened = libbpf_py.Object.open(sys.argv[1])
_t.append(_now())
obj = opened.load()
_t.append(_now())
obj.attach()
_t.append(_now())
if "--check" in sys.argv:
    import os

    obj.maps.config[0] = os.getpid()
    os.getppid()
    count = obj.maps.counts[os.getpid()]
    if count != 1:
        sys.exit(f"check failed: count={count}")
    print("check ok")
obj.close()
_t.append(_now())
if "--phases" in sys.argv:
    names = ("import", "open", "load", "attach", "close")
    print("PHASES startup=%d " % (_t[0] // 1000)
          + " ".join(f"{n}={(b - a) // 1000}" for n, a, b in zip(names, _t, _t[1:])))
