"""W2 ring buffer throughput, bare-ctypes floor: libbpf_py's bundled _libbpf.so loaded directly
with ctypes.CDLL (libbpf_py is not imported), argtypes set once, one CFUNCTYPE callback.

    python ringbuf_ctypes.py LIBBPF_SO OBJ K TRIGGERS WARMUP [from_address|unpack]

Same loop as stream/c/consumer.c (bench/stream/py/stream_common.py's, which imports no
libbpf_py). The callback adds event.val (offset 8) to a global: by default with
c_uint64.from_address (the cheapest read of a raw address from Python); "unpack" uses
struct.unpack_from over a ctypes array view instead. Prints one JSON line.
"""
import ctypes
import os
import struct
import sys
from ctypes import CFUNCTYPE, byref, c_char_p, c_int, c_size_t, c_uint32, c_uint64, c_void_p
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stream" / "py"))
from stream_common import (CFG_DROPS, CFG_K, CFG_TGID, PROGRAM, report, timed,  # noqa: E402
                           trigger_for)

so, path, k, triggers, warmup = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
variant = sys.argv[6] if len(sys.argv) > 6 else "from_address"

lib = ctypes.CDLL(so, use_errno=True)
for name, res, args in [
    ("bpf_object__open_file", c_void_p, [c_char_p, c_void_p]),
    ("bpf_object__load", c_int, [c_void_p]),
    ("bpf_object__find_map_fd_by_name", c_int, [c_void_p, c_char_p]),
    ("bpf_object__find_program_by_name", c_void_p, [c_void_p, c_char_p]),
    ("bpf_program__attach", c_void_p, [c_void_p]),
    ("bpf_map_update_elem", c_int, [c_int, c_void_p, c_void_p, c_uint64]),
    ("bpf_map_lookup_elem", c_int, [c_int, c_void_p, c_void_p]),
    ("ring_buffer__new", c_void_p, [c_int, c_void_p, c_void_p, c_void_p]),
    ("ring_buffer__consume", c_int, [c_void_p]),
    ("ring_buffer__free", None, [c_void_p]),
    ("bpf_link__destroy", c_int, [c_void_p]),
    ("bpf_object__close", None, [c_void_p]),
]:
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = res, args

SAMPLE_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
total = 0
u64_at = c_uint64.from_address
unpack_from = struct.Struct("=Q").unpack_from
char_array = ctypes.c_char * 64


def on_event_from_address(ctx, data, size):
    global total
    total += u64_at(data + 8).value
    return 0


def on_event_unpack(ctx, data, size):
    global total
    total += unpack_from(char_array.from_address(data), 8)[0]
    return 0


callback = SAMPLE_FN(on_event_unpack if variant == "unpack" else on_event_from_address)

obj = lib.bpf_object__open_file(path.encode(), None)
if not obj or lib.bpf_object__load(obj):
    sys.exit("open/load failed")
cfg = lib.bpf_object__find_map_fd_by_name(obj, b"cfg")
for key, val in ((CFG_TGID, os.getpid()), (CFG_K, k)):
    if lib.bpf_map_update_elem(cfg, byref(c_uint32(key)), byref(c_uint64(val)), 0):
        sys.exit("cfg update failed")
link = lib.bpf_program__attach(lib.bpf_object__find_program_by_name(obj,
                                                                   PROGRAM["ring"].encode()))
rb = lib.ring_buffer__new(lib.bpf_object__find_map_fd_by_name(obj, b"rb"), callback, None, None)
if not link or not rb:
    sys.exit(f"attach/ring_buffer__new failed: errno {ctypes.get_errno()}")

drain = partial(lib.ring_buffer__consume, rb)
trigger = trigger_for("ring")
timed(trigger, drain, warmup)  # warm-up
total = 0
timing = timed(trigger, drain, triggers)
drops = c_uint64()
lib.bpf_map_lookup_elem(cfg, byref(c_uint32(CFG_DROPS)), byref(drops))
report(timing, total, drops.value)
lib.ring_buffer__free(rb)
lib.bpf_link__destroy(link)
lib.bpf_object__close(obj)
