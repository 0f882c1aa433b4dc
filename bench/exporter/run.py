#!/usr/bin/env python3
"""libbpf_py exporter benchmark: the time of one Prometheus scrape of a 100k-key map.

One command, from the repository root, as root (about a minute)::

    .venv/bin/python bench/exporter/run.py            # prints markdown tables
    .venv/bin/python bench/exporter/run.py --write    # ... and writes bench/exporter/RESULTS.md

Three maps of bench/exporter/scrape.bpf.c, each filled with ``--entries`` (100k) distinct keys:
``by_int`` (``u32 -> u64``, one label: syscount's shape), ``by_flow`` (a 16-byte struct key,
four labels one of them an IPv4 address, a struct value read by field) and ``per_cpu`` (``u32
-> u64`` per CPU, summed). For each, in the same run, rounds interleaved, median over rounds:

- ``C dump`` (``by_int`` only): bench/maps/map_bench.c's ``bpf_map_lookup_batch`` dump into
  preallocated arrays, linked against the bundled library: the kernel's share of a scrape.
- ``items()``: ``list(m.items())``, the batch read and decode every Python exporter needs.
- ``collect()``: ``MapMetric.collect()``: the above, labels (cached per key after the first
  scrape) and values summed per label set, into a prometheus_client family.
- ``scrape``: ``GET /metrics`` over HTTP from ``Exporter.serve()`` on loopback: collect plus
  prometheus_client's text exposition of 100k series and the transfer. What Prometheus waits
  for; the target is under 1 s for a 100k-key map.
- ``first scrape``: the same on a fresh exporter (every label decoded, none cached).

Ratios are to ``items()`` (and ``items()`` to C): how much the exporter adds to the read.
Needs root, gcc, clang, prometheus_client and PyYAML (``pip install '.[exporter]'``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
C_SRC = os.path.join(ROOT, "bench", "maps", "map_bench.c")


def log(msg: str) -> None:
    print(f"[bench/exporter] {msg}", file=sys.stderr, flush=True)


def build(tmp: str) -> tuple[str, str]:
    """Compile scrape.bpf.c (clang) and bench/maps' C dump (gcc, against the installed
    package's bundled library) into ``tmp``: (object, C binary)."""
    import libbpf_py

    lib = os.path.join(os.path.dirname(libbpf_py.__file__), "_ffi")
    binary = os.path.join(tmp, "map_bench")
    cmd = [os.environ.get("CC", "gcc"), "-O2", f"-I{ROOT}/libbpf/src",
           f"-I{ROOT}/libbpf/include/uapi", f"-I{ROOT}/libbpf/include", "-o", binary, C_SRC,
           f"-L{lib}", "-l:_libbpf.so", f"-Wl,-rpath,{lib}"]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True)
    obj = os.path.join(tmp, "scrape.bpf.o")
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    multiarch = f"/usr/include/{os.uname().machine}-linux-gnu"
    cmd = [os.environ.get("CLANG", "clang"), "-g", "-O2", "-target", "bpf",
           f"-D__TARGET_ARCH_{arch}", f"-I{libbpf_py.get_include()}", f"-I{multiarch}", "-c",
           os.path.join(HERE, "scrape.bpf.c"), "-o", obj]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True)
    return obj, binary


def possible_cpus() -> int:
    """Number of possible CPUs (/sys/devices/system/cpu/possible: "0-1,4")."""
    with open("/sys/devices/system/cpu/possible") as f:
        n = 0
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            n += int(hi or lo) - int(lo) + 1
    return n


CONFIG = {"objects": [{"name": "bench", "path": None, "programs": [], "metrics": [
    {"name": "by_int_total", "map": "by_int", "labels": [{"name": "nr", "decode": "int"}]},
    {"name": "by_flow_bytes_total", "map": "by_flow", "value_field": "bytes", "labels": [
        {"name": "saddr", "field": "saddr", "decode": "ipv4"},
        {"name": "daddr", "field": "daddr", "decode": "ipv4"},
        {"name": "dport", "field": "dport"}, {"name": "pid", "field": "pid"}]},
    {"name": "per_cpu_total", "map": "per_cpu", "labels": [{"name": "id"}]},
]}]}
MAPS = {"by_int": "by_int_total", "by_flow": "by_flow_bytes_total", "per_cpu": "per_cpu_total"}


def one_metric_config(obj_path: str, map_name: str) -> dict:
    cfg = {"objects": [dict(CONFIG["objects"][0])]}
    cfg["objects"][0]["path"] = obj_path
    cfg["objects"][0]["metrics"] = [m for m in CONFIG["objects"][0]["metrics"]
                                    if m["map"] == map_name]
    return cfg


def c_dump(binary: str, map_id: int, n: int) -> float:
    """bench/maps/map_bench.c: one bpf_map_lookup_batch dump of the map, in seconds."""
    out = subprocess.run([binary, "dump", str(map_id), "1"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert int(out[1]) == n, out
    return int(out[0]) / 1e9


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def scrape(port: int, expect_series: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        body = r.read()
    # every key is its own series (plus the exporter's own metrics)
    assert body.count(b"\n") >= expect_series, body[:200]


def run(args: argparse.Namespace, obj_path: str, c_binary: str) -> None:
    from libbpf_py.exporter import Exporter

    n = args.entries
    rows: dict[str, dict[str, list[float]]] = {m: {} for m in MAPS}
    exporters = {}
    try:
        for map_name in MAPS:
            exp = Exporter(one_metric_config(obj_path, map_name))
            exp.start()
            exporters[map_name] = (exp, exp.serve(0, "127.0.0.1")[1])
        # every exporter loaded its own object: fill each one's map
        for map_name, (exp, _port) in exporters.items():
            obj = exp.objects()["bench"]
            log(f"filling {map_name} with {n} keys")
            fill_one(obj, map_name, n)
        first: dict[str, float] = {}
        for map_name, (_exp, port) in exporters.items():
            first[map_name] = timed(lambda port=port: scrape(port, n))
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            for map_name, (exp, port) in exporters.items():
                obj = exp.objects()["bench"]
                m = obj.maps[map_name]
                metric = exp._objects[0].metrics[0]
                cols = rows[map_name]
                if map_name == "by_int":
                    cols.setdefault("C dump", []).append(c_dump(c_binary, m.info().id, n))
                cols.setdefault("items()", []).append(timed(lambda m=m: list(m.items())))
                cols.setdefault("collect()", []).append(
                    timed(lambda metric=metric: list(metric.collect())))
                cols.setdefault("scrape", []).append(timed(lambda port=port: scrape(port, n)))
    finally:
        for exp, _port in exporters.values():
            exp.close()
    report(args, rows, first)


def fill_one(obj, map_name: str, n: int) -> None:
    m = obj.maps[map_name]
    if map_name == "by_int":
        m.update((i, i * 3) for i in range(n))
    elif map_name == "per_cpu":
        ncpu = possible_cpus()
        m.update((i, [i] * ncpu) for i in range(n))
    else:
        m.update(({"saddr": 0x0100007F + (i << 8), "daddr": 0x0100007F, "dport": i & 0xFFFF,
                   "pid": i}, {"packets": i, "bytes": i * 100}) for i in range(n))
    assert len(m) == n


def report(args: argparse.Namespace, rows: dict[str, dict[str, list[float]]],
           first: dict[str, float]) -> None:
    ms = lambda v: f"{v * 1e3:.1f} ms"  # noqa: E731
    lines = [f"## Scrape of a {args.entries}-key map (run of "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{args.rounds} rounds, median)", "",
             f"Host: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
             f"Python {platform.python_version()}.", "",
             "| map | C dump | items() | collect() | scrape (HTTP) | first scrape | "
             "items() / C | scrape / items() |",
             "|---|---|---|---|---|---|---|---|"]
    for map_name, cols in rows.items():
        med = {k: statistics.median(v) for k, v in cols.items()}
        c = med.get("C dump")
        c_ratio = f"{med['items()'] / c:.2f}x" if c else "-"
        lines.append(f"| {map_name} | {ms(c) if c else '-'} | {ms(med['items()'])} | "
                     f"{ms(med['collect()'])} | **{ms(med['scrape'])}** | {ms(first[map_name])} | "
                     f"{c_ratio} | {med['scrape'] / med['items()']:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        path = os.path.join(HERE, "RESULTS.md")
        with open(path) as f:
            head = f.read().split("## Scrape of a", 1)[0]
        with open(path, "w") as f:
            f.write(head + text)
        log(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="write bench/exporter/RESULTS.md")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (the bpf syscall)")
    with tempfile.TemporaryDirectory(prefix="libbpf_py-bench-exporter-") as tmp:
        run(args, *build(tmp))


if __name__ == "__main__":
    main()
