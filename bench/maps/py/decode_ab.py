#!/usr/bin/env python3
"""A/B of a dump's decoding alone, in one process (no kernel): 1M u32 -> u64 pairs already in
ctypes buffers, handed out through struct.unpack_from tuples (before) or memoryviews (now),
iterated or built into a dict; 7 interleaved rounds, min and median.

    python bench/maps/py/decode_ab.py
"""

import ctypes
import struct
import time

N = 1_000_000
KB = ctypes.create_string_buffer(4 * N)
KB[:] = struct.pack(f"={N}I", *range(N))
VB = ctypes.create_string_buffer(8 * N)
VB[:] = struct.pack(f"={N}Q", *range(0, 3 * N, 3))


def views() -> tuple[memoryview, memoryview]:
    return memoryview(KB).cast("B").cast("I"), memoryview(VB).cast("B").cast("Q")


def tuples() -> tuple[tuple, tuple]:
    return struct.unpack_from(f"={N}I", KB), struct.unpack_from(f"={N}Q", VB)


def iterate(make) -> None:
    i = 0
    for _k, _v in zip(*make()):
        i += 1


CASES = {
    "iterate, unpack_from tuples": lambda: iterate(tuples),
    "iterate, memoryviews": lambda: iterate(views),
    "dict, unpack_from tuples": lambda: dict(zip(*tuples())),
    "dict, memoryviews": lambda: dict(zip(*views())),
}


def main() -> None:
    res: dict[str, list[float]] = {k: [] for k in CASES}
    for _ in range(7):
        for name, f in CASES.items():
            t = time.perf_counter()
            x = f()
            res[name].append(time.perf_counter() - t)
            del x
    for name, v in res.items():
        v.sort()
        print(f"{name:30s} min {v[0] * 1e3:6.1f} ms, median {v[3] * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
