"""W1 cold start, bare-ctypes floor: the thinnest ctypes calls into libbpf_py's bundled
_libbpf.so (loaded directly with ctypes.CDLL, libbpf_py is not imported).

    python coldstart_ctypes.py LIBBPF_SO OBJ [--phases]

Same work as c/coldstart.c: open + load + attach on_getppid, then detach, close, exit.
"""
from time import process_time_ns as _now

_t = [_now()]
import sys  # noqa: E402
import ctypes  # noqa: E402
from ctypes import c_char_p, c_int, c_void_p  # noqa: E402

lib = ctypes.CDLL(sys.argv[1], use_errno=True)
open_file = lib.bpf_object__open_file
open_file.restype, open_file.argtypes = c_void_p, [c_char_p, c_void_p]
load = lib.bpf_object__load
load.restype, load.argtypes = c_int, [c_void_p]
find_prog = lib.bpf_object__find_program_by_name
find_prog.restype, find_prog.argtypes = c_void_p, [c_void_p, c_char_p]
attach = lib.bpf_program__attach
attach.restype, attach.argtypes = c_void_p, [c_void_p]
destroy = lib.bpf_link__destroy
destroy.restype, destroy.argtypes = c_int, [c_void_p]
close = lib.bpf_object__close
close.restype, close.argtypes = None, [c_void_p]
_t.append(_now())

obj = open_file(sys.argv[2].encode(), None)
if not obj:
    sys.exit(f"open failed: errno {ctypes.get_errno()}")
_t.append(_now())
err = load(obj)
if err:
    sys.exit(f"load failed: {err}")
_t.append(_now())
link = attach(find_prog(obj, b"on_getppid"))
if not link:
    sys.exit(f"attach failed: errno {ctypes.get_errno()}")
_t.append(_now())
destroy(link)
close(obj)
_t.append(_now())
if "--phases" in sys.argv:
    names = ("import", "open", "load", "attach", "close")
    print("PHASES startup=%d " % (_t[0] // 1000)
          + " ".join(f"{n}={(b - a) // 1000}" for n, a, b in zip(names, _t, _t[1:])))
