#!/usr/bin/env python3
"""One column of bench/maps/callgrind.py in its own process: ``worker.py MODE N [--setup-only]``.

Single ops (``floor_lookup``, ``floor_update``, ``lookup``, ``update``): a 1024-entry u32 -> u64
hash, then N calls on key 5. Dumps (``items``, ``dict``, ``numpy``, ``pop_all``,
``struct_items``): a map of N entries (u32 -> u64, or a 16-byte struct key -> 16-byte struct
value), then one dump. ``--setup-only`` stops before the measured part (callgrind.py subtracts
it). libbpf_py is imported from PYTHONPATH.
"""

from __future__ import annotations

import ctypes
import sys

from libbpf_py import MapType
from libbpf_py.maps import Map


class Flow(ctypes.Structure):
    _fields_ = [("saddr", ctypes.c_uint32), ("daddr", ctypes.c_uint32),
                ("dport", ctypes.c_uint16), ("pad", ctypes.c_uint16), ("pid", ctypes.c_uint32)]


class Counters(ctypes.Structure):
    _fields_ = [("packets", ctypes.c_uint64), ("bytes", ctypes.c_uint64)]


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    setup_only = "--setup-only" in sys.argv
    lib_path = sys.modules["libbpf_py._ffi"].LIBRARY_PATH
    if mode == "struct_items":
        m = Map.create(MapType.HASH, key_type=Flow, value_type=Counters, max_entries=n)
        m.update((Flow(i, 0x0100007F, i & 0xFFFF, 0, i), Counters(i, i * 100))
                 for i in range(n))
    else:
        size = 1024 if mode in ("floor_lookup", "floor_update", "lookup", "update") else n
        m = Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                       max_entries=size)
        m.update(zip(range(size), range(0, 3 * size, 3)))
        assert m[5] == 15
    if mode.startswith("floor_"):
        bare = ctypes.CDLL(lib_path, use_errno=True)
        b_lookup, b_update = bare.bpf_map_lookup_elem, bare.bpf_map_update_elem
        b_lookup.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        b_update.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
        b_lookup.restype = b_update.restype = ctypes.c_int
        kbuf = ctypes.create_string_buffer((5).to_bytes(4, sys.byteorder), 4)
        vbuf = ctypes.create_string_buffer(8)
        fd = m.fd
    if mode == "numpy":
        import numpy  # noqa: F401 - its import is not the dump's cost
    if setup_only:
        m.close()
        return
    run(mode, n, m, locals())
    m.close()


def run(mode: str, n: int, m: Map, env: dict) -> None:
    if mode == "floor_lookup":
        f, fd, k, v = env["b_lookup"], env["fd"], env["kbuf"], env["vbuf"]
        for _ in range(n):
            f(fd, k, v)
    elif mode == "floor_update":
        f, fd, k, v = env["b_update"], env["fd"], env["kbuf"], env["vbuf"]
        for _ in range(n):
            f(fd, k, v, 0)
    elif mode == "lookup":
        for _ in range(n):
            m[5]
    elif mode == "update":
        for _ in range(n):
            m[5] = 15
    elif mode in ("items", "struct_items"):
        i = 0
        for _k, _v in m.items():
            i += 1
        assert i == n
    elif mode == "dict":
        assert len(dict(m.items())) == n
    elif mode == "numpy":
        k, v = m.to_numpy()
        assert len(k) == len(v) == n
    elif mode == "pop_all":
        d = m.pop_all()
        assert len(d) == n and d[5] == 15
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
