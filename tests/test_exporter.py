"""The Prometheus exporter (libbpf_py.exporter): maps as metrics, label decoders, config errors,
per-object health, the command, and a real Prometheus server scraping it.

Every map here is a real kernel map of tests/bpf/exporter.bpf.c, filled by its programs (system
calls, execs and pwrite64() sizes of this test process) or from user space (one key field per
decoder); values are read back through prometheus_client's registry or Prometheus's HTTP API and
compared exactly with what was done.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import libbpf_py
from conftest import STRICT, python_child

prometheus_client = pytest.importorskip("prometheus_client") if not STRICT else \
    __import__("prometheus_client")
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from libbpf_py.exporter import (ConfigError, Exporter, Label, LinearBuckets,  # noqa: E402
                                Log2Buckets, MapMetric, MetricError)

root = pytest.mark.root
traced = [pytest.mark.root, pytest.mark.kernel("tracefs")]


@pytest.fixture
def obj(bpf_path):
    """exporter.bpf.o loaded for this process (target_tgid), not attached."""
    opened = libbpf_py.Object.open(bpf_path("exporter"))
    opened.rodata.target_tgid = os.getpid()
    with opened.load() as o:
        yield o


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def registry_with(*metrics: MapMetric) -> CollectorRegistry:
    reg = CollectorRegistry()
    for m in metrics:
        reg.register(m)
    return reg


# --- metrics from maps filled by programs


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_counter_counts_syscalls_by_name(obj) -> None:
    reg = registry_with(MapMetric(obj.maps["syscalls"], "syscalls_total",
                                  labels=[Label("syscall", decode="syscall")]))
    link = obj.programs["on_sys_exit"].attach()  # noqa: F841 - kept: attached while held
    before = sample(reg, "syscalls_total", syscall="getppid") or 0
    for _ in range(37):
        os.getppid()
    assert sample(reg, "syscalls_total", syscall="getppid") == before + 37
    text = generate_latest(reg).decode()
    assert '# TYPE syscalls_total counter' in text
    assert f'syscalls_total{{syscall="getppid"}} {before + 37:.1f}' in text


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_per_cpu_counts_are_summed_and_keyed_by_comm(obj) -> None:
    reg = registry_with(MapMetric(obj.maps["execs"], "execs_total",
                                  labels=[{"name": "comm", "field": "comm"}]))
    link = obj.programs["on_exec"].attach()  # noqa: F841 - kept: attached while held
    for _ in range(6):
        subprocess.run(["/bin/true"], check=True)
    subprocess.run(["/bin/sh", "-c", "exit 0"], check=True)
    assert sample(reg, "execs_total", comm="true") == 6
    assert sample(reg, "execs_total", comm="sh") == 1
    # the per-CPU value really is split: one count per possible CPU
    (_key, per_cpu), = [kv for kv in obj.maps["execs"].items() if kv[0].comm == b"sh"]
    assert isinstance(per_cpu, list) and sum(per_cpu) == 1


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_log2_histogram_has_exact_buckets_count_and_sum(obj, tmp_path: Path) -> None:
    metric = MapMetric(obj.maps["pwrite_hist"], "pwrite_bytes", kind="histogram",
                       buckets=Log2Buckets(32), sum_map=obj.maps["pwrite_bytes"])
    reg = registry_with(metric)
    link = obj.programs["on_pwrite"].attach()  # noqa: F841 - kept: attached while held
    sizes = [1, 2, 3, 100, 4096, 4097, 0]
    with open(tmp_path / "f", "wb") as f:
        for n in sizes:
            os.pwrite(f.fileno(), b"x" * n, 0)
    assert sample(reg, "pwrite_bytes_count") == len(sizes)
    assert sample(reg, "pwrite_bytes_sum") == sum(sizes)
    # slot i holds 2**i .. 2**(i+1)-1 (slot 0 also 0): le is the largest value a slot holds
    expect = {"1.0": 2, "3.0": 4, "7.0": 4, "127.0": 5, "4095.0": 5, "8191.0": 7, "+Inf": 7}
    for le, n in expect.items():
        assert sample(reg, "pwrite_bytes_bucket", le=le) == n, le
    les = [s.labels["le"] for s in next(iter(reg.collect())).samples
           if s.name == "pwrite_bytes_bucket"]
    # le as prometheus_client writes floats (Go's format)
    assert len(les) == 33 and les[-2] == "4.294967295e+09" and les[-1] == "+Inf"


# --- label decoding against a real map, filled from user space


def _cgroup2_root() -> str:
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    pytest.fail("no cgroup2 mount", pytrace=False)


@pytest.mark.root
@pytest.mark.kernel("cgroup2")
def test_label_decoders_on_a_struct_key(obj) -> None:
    from libbpf_py.utils.symbols import KernelSymbols
    from libbpf_py.tools.syscalls import syscall_name

    cg_root = _cgroup2_root()
    cg_name = f"libbpf_py-exporter-{os.getpid()}"
    cg = os.path.join(cg_root, cg_name)
    os.mkdir(cg)
    try:
        cg_id = os.stat(cg).st_ino  # a cgroup v2 id is its directory's inode
        ks = KernelSymbols()
        vfs_read = ks.by_name("vfs_read")
        m = obj.maps["labels"]
        common = {"v4": int.from_bytes(socket.inet_aton("10.1.2.3"), sys.byteorder),
                  "v6": socket.inet_pton(socket.AF_INET6, "2001:db8::7"),
                  "port": socket.htons(8080), "err": -13, "cgroup": cg_id,
                  "addr": vfs_read + 5, "nr": 39, "kind": 7, "name": b"worker",
                  "big_endian": 0xDEAD}
        m[common] = {"count": 3, "bytes": 300}
        # differs only in fields that are not labels: adds to the same series
        m[dict(common, big_endian=1)] = {"count": 4, "bytes": 400}
        m[dict(common, err=-2, kind=0, name=b"other")] = {"count": 5, "bytes": 500}
        labels = [Label("v4", "v4", "ipv4"), Label("v6", "v6", "ip"),
                  Label("port", "port", "port"), Label("err", "err", "errno"),
                  Label("cgroup", "cgroup", "cgroup"), Label("fn", "addr", "ksym"),
                  Label("syscall", "nr", "syscall"), Label("kind", "kind"),
                  {"name": "comm", "field": "name"}]
        reg = registry_with(
            MapMetric(m, "events_total", labels=labels, value_field="count"),
            MapMetric(m, "bytes", kind="gauge", value_field="bytes",
                      labels=[Label("kind", "kind", {"static": {0: "read", 7: "other"}}),
                              Label("raw", "addr", "hex")]))
        want = {"v4": "10.1.2.3", "v6": "2001:db8::7", "port": "8080", "err": "EACCES",
                "cgroup": "/" + cg_name, "fn": "vfs_read", "syscall": syscall_name(39),
                "kind": "KIND_OTHER", "comm": "worker"}
        assert sample(reg, "events_total", **want) == 7
        other = dict(want, err="ENOENT", kind="KIND_READ", comm="other")
        assert sample(reg, "events_total", **other) == 5
        assert sample(reg, "bytes", kind="other", raw=hex(vfs_read + 5)) == 700
        assert sample(reg, "bytes", kind="read", raw=hex(vfs_read + 5)) == 500
        m.clear()
    finally:
        os.rmdir(cg)


@root
def test_histogram_with_bucket_field_slots_in_value_and_linear_buckets(obj) -> None:
    per = obj.maps["hist_per"]
    per.update({(1, 0): 2, (1, 3): 5, (2, 1): 1, (2, 40): 4})  # slot 40: past the last bucket
    obj.maps["hist_per_sum"].update({1: 1234, 2: 99})
    in_value = obj.maps["hist_in_value"]
    in_value[9] = {"slots": [1, 0, 2, 0, 0, 0, 0, 3]}
    reg = registry_with(
        MapMetric(per, "per_id", kind="histogram", labels=[Label("id", "id")],
                  bucket_field="slot", buckets={"type": "log2", "count": 8},
                  sum_map=obj.maps["hist_per_sum"]),
        MapMetric(in_value, "in_value", kind="histogram", labels=["id"], value_field="slots",
                  buckets=LinearBuckets(8, min=10, width=5, multiplier=0.5)),
        MapMetric(per, "per_id_overflow", kind="histogram", labels=[Label("id", "id")],
                  bucket_field="slot", buckets=Log2Buckets(4, overflow=True)))
    assert sample(reg, "per_id_bucket", id="1", le="1.0") == 2
    assert sample(reg, "per_id_bucket", id="1", le="15.0") == 7
    assert sample(reg, "per_id_count", id="1") == 7
    assert sample(reg, "per_id_sum", id="1") == 1234
    assert sample(reg, "per_id_bucket", id="2", le="255.0") == 1  # slot 40 is only in +Inf
    assert sample(reg, "per_id_bucket", id="2", le="+Inf") == 5
    assert sample(reg, "per_id_sum", id="2") == 99
    # linear: bucket i holds 10+5i .. 14+5i, le = (14+5i) * 0.5; _sum from midpoints
    assert sample(reg, "in_value_bucket", id="9", le="7.0") == 1
    assert sample(reg, "in_value_bucket", id="9", le="12.0") == 3
    assert sample(reg, "in_value_bucket", id="9", le="24.5") == 6
    assert sample(reg, "in_value_count", id="9") == 6
    assert sample(reg, "in_value_sum", id="9") == (12 * 1 + 22 * 2 + 47 * 3) * 0.5
    # overflow: the last of 4 slots holds everything above, so le stops at slot 2
    assert sample(reg, "per_id_overflow_bucket", id="1", le="7.0") == 2
    assert sample(reg, "per_id_overflow_bucket", id="1", le="15.0") is None
    assert sample(reg, "per_id_overflow_bucket", id="1", le="+Inf") == 7


@root
def test_per_cpu_array_gauge_without_labels_sums_everything(obj) -> None:
    m = obj.maps["percpu"]
    ncpu = len(m[0])
    m[0] = [1] * ncpu
    m[3] = [2] * ncpu
    reg = registry_with(MapMetric(m, "percpu_total", kind="gauge"))
    assert sample(reg, "percpu_total") == 3 * ncpu


@root
def test_metric_errors_name_the_problem(obj) -> None:
    maps = obj.maps
    cases = [
        (dict(map=maps["events"], name="x"), "map", "a ringbuf map can't be a metric"),
        (dict(map=maps["mac_keys"], name="x", labels=["mac"]), "map",
         "its key type __u8[6] can't be decoded"),
        (dict(map=maps["labels"], name="x", value_field="count", labels=[Label("a", "nope")]),
         "labels[0].field", "struct label_key has no field 'nope' (fields: v4, v6, port"),
        (dict(map=maps["labels"], name="x", value_field="count", labels=[Label("a")]),
         "labels[0]", "label 'a' must name a field of it"),
        (dict(map=maps["labels"], name="x", labels=[Label("a", "v4")]), "map",
         "name the field to read with value_field (fields: count, bytes)"),
        (dict(map=maps["labels"], name="x", value_field="count",
              labels=[Label("a", "name", "ksym")]), "labels[0].decode",
         "decoder 'ksym' reads int or enum of 8 bytes, not char[8] (8 bytes)"),
        (dict(map=maps["labels"], name="x", value_field="count",
              labels=[Label("a", "v4", "nope")]), "labels[0].decode", "unknown decoder 'nope'"),
        (dict(map=maps["syscalls"], name="x", kind="histogram"), "buckets",
         "a histogram needs buckets"),
        (dict(map=maps["syscalls"], name="x", kind="summary"), "type",
         "type is one of counter, gauge, histogram"),
        (dict(map=maps["hist_in_value"], name="x", value_field="slots"), "value_field",
         "only a histogram reads an array of slots"),
        (dict(map=maps["hist_per"], name="x", kind="histogram", labels=[Label("id", "id")],
              buckets=Log2Buckets(4)), "bucket_field", "where is the bucket?"),
    ]
    for kwargs, key, message in cases:
        with pytest.raises(MetricError) as exc:
            MapMetric(**kwargs)
        assert exc.value.key == key, (kwargs, exc.value)
        assert message in str(exc.value), (kwargs, str(exc.value))


# --- the config


BASE_CONFIG = """\
objects:
  - name: test
    path: {obj}
    rodata:
      target_tgid: {pid}
    programs: [on_sys_exit]
    metrics:
      - name: syscalls_total
        map: syscalls
        labels:
          - name: syscall
            decode: syscall
{extra}"""


def write_config(tmp_path: Path, bpf_path, extra: str = "", **fmt: object) -> Path:
    """BASE_CONFIG with ``extra`` (YAML indented to fit) appended; ``{name}`` in it is replaced
    by ``fmt[name]``."""
    for name, value in fmt.items():
        extra = extra.replace("{" + name + "}", str(value))
    path = tmp_path / "exporter.yaml"
    path.write_text(BASE_CONFIG.format(obj=bpf_path("exporter"), pid=os.getpid(), extra=extra))
    return path


CONFIG_ERRORS = [
    # (extra YAML after the base config, line, key, message)
    ("      - name: second\n        map: nope\n", 14, "objects[0].metrics[1].map",
     "object 'test' has no map 'nope' (maps: syscalls, execs"),
    ("      - name: second\n        map: syscalls\n        type: summary\n", 15,
     "objects[0].metrics[1].type", "unknown metric type 'summary'"),
    ("      - name: second\n        map: syscalls\n        lables: []\n", 15,
     "objects[0].metrics[1].lables", "unknown key in a metric (keys: name, type"),
    ("      - name: second\n        map: mac_keys\n        labels: [{name: mac}]\n", 14,
     "objects[0].metrics[1].map", "its key type __u8[6] can't be decoded"),
    ("      - name: second\n        map: labels\n        value_field: count\n"
     "        labels:\n          - name: a\n            field: v6\n            decode: ipv4\n",
     19, "objects[0].metrics[1].labels[0].decode",
     "decoder 'ipv4' reads int or array or chars of 4 bytes, not __u8[16]"),
    ("      - name: second\n        map: labels\n        value_field: cnt\n", 15,
     "objects[0].metrics[1].value_field", "struct label_value has no field 'cnt'"),
    ("      - name: second\n        map: pwrite_hist\n        type: histogram\n"
     "        buckets: {type: log3, count: 3}\n", 16, "objects[0].metrics[1].buckets",
     "type is log2 or linear, not 'log3'"),
    ("      - name: syscalls_total\n        map: syscalls\n", 13,
     "objects[0].metrics[1].name", "metric 'syscalls_total' is defined twice"),
    ("      - name: second\n        map: syscalls\n     bad: indent\n", 15, None,
     "not valid YAML"),
    ("      - name: second\n        map: syscalls\n        map: execs\n", 15, None,
     "key 'map' is given twice"),
    ("      - name: second\n        map: labels\n        value_field: count\n"
     "        labels: [{name: a, field: nope}]\n", 16,
     "objects[0].metrics[1].labels[0].field", "struct label_key has no field 'nope'"),
    ("      - name: second\n        map: syscalls\n        labels: [{name: le}]\n", 15,
     "objects[0].metrics[1].labels[0].name", "a label's name is letters, digits and _"),
]


@pytest.mark.parametrize("extra,line,key,message", CONFIG_ERRORS,
                         ids=[c[2] or "yaml" for c in CONFIG_ERRORS])
def test_config_errors_name_file_line_and_key(tmp_path, bpf_path, extra, line, key,
                                              message) -> None:
    path = write_config(tmp_path, bpf_path, extra)
    with pytest.raises(ConfigError) as exc:
        Exporter(path).check()  # opens the object to check maps and types: no load, no root
    e = exc.value
    assert (e.file, e.line, e.key) == (str(path), line, key), str(e)
    assert message in e.message, str(e)
    assert str(e).startswith(f"{path}:{line}: ")


def test_config_errors_in_objects_and_rodata(tmp_path, bpf_path) -> None:
    cases = [
        (BASE_CONFIG.replace("    programs: [on_sys_exit]", "    programs: [on_sys_exti]"),
         6, "objects[0].programs[0]", "object 'test' has no program 'on_sys_exti' (programs: "),
        (BASE_CONFIG.replace("target_tgid:", "target_tigd:"), 5, "objects[0].rodata.target_tigd",
         "can't set rodata variable 'target_tigd'"),
        (BASE_CONFIG.replace("target_tgid: {pid}", "target_tgid: -1"), 5,
         "objects[0].rodata.target_tgid", "can't set rodata variable 'target_tgid'"),
        (BASE_CONFIG.replace("path: {obj}", "path: missing.bpf.o"), 3, "objects[0].path",
         "no such file: "),
        (BASE_CONFIG.replace("    path:", "    open: {{kernel_log_levle: 1}}\n    path:"), 3,
         "objects[0].open.kernel_log_levle", "unknown key in open (keys: name, btf_custom_path"),
        ("objects: []\n", 1, "objects", "objects is a non-empty list"),
    ]
    for text, line, key, message in cases:
        path = tmp_path / "c.yaml"
        path.write_text(text.format(obj=bpf_path("exporter"), pid=os.getpid(), extra=""))
        with pytest.raises(ConfigError) as exc:
            Exporter(path).check()
        e = exc.value
        assert (e.line, e.key) == (line, key), str(e)
        assert message in e.message, str(e)


def test_dict_config_errors_name_the_key(bpf_path) -> None:
    config = {"objects": [{"path": str(bpf_path("exporter")),
                           "metrics": [{"name": "x", "map": "syscalls", "labels": [{"nam": 1}]}]}]}
    with pytest.raises(ConfigError) as exc:
        Exporter(config)
    assert str(exc.value) == ("<config>: objects[0].metrics[0].labels[0].nam: unknown key in a "
                              "label (keys: name, field, decode)")


# --- the exporter: objects, health, scrape errors


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_exporter_keeps_running_objects_when_one_fails_to_load(tmp_path, bpf_path) -> None:
    path = write_config(tmp_path, bpf_path, (
        "  - name: bad\n"
        "    path: {bad}\n"
        "    metrics:\n"
        "      - name: store_total\n"
        "        map: store\n"), bad=bpf_path("bad_access"))
    with Exporter(path) as exp:
        exp.start()
        assert exp.up == {"test": True, "bad": False}
        assert "bad" in exp.errors and "load failed" in exp.errors["bad"]
        reg = exp.registry
        assert sample(reg, "libbpf_py_exporter_object_up", object="test") == 1
        assert sample(reg, "libbpf_py_exporter_object_up", object="bad") == 0
        before = sample(reg, "syscalls_total", syscall="getppid") or 0
        for _ in range(11):
            os.getppid()
        assert sample(reg, "syscalls_total", syscall="getppid") == before + 11
        assert "store_total" not in generate_latest(reg).decode()
        # a metric whose map can't be read is left out and counted; the rest is served
        exp.objects()["test"].close()
        text = generate_latest(reg).decode()
        assert "syscalls_total{" not in text
        assert ('libbpf_py_exporter_scrape_errors_total{metric="syscalls_total",object="test"} '
                '1.0') in text


def test_import_libbpf_py_imports_no_exporter_dependency() -> None:
    out = python_child("import sys, libbpf_py; print(sorted(m for m in sys.modules if "
                       "m.split('.')[0] in ('prometheus_client', 'yaml') or "
                       "m.startswith('libbpf_py.exporter')))")
    assert out.strip() == "[]"


def test_missing_extra_is_named() -> None:
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('prometheus_client', 'yaml'):
                    raise ImportError('blocked: ' + name)
        sys.meta_path.insert(0, Block())
        import libbpf_py.exporter as e   # importable: the extras load on first use
        for call in (lambda: e.Exporter(sys.argv[1]), lambda: e.load_config(sys.argv[1])):
            try:
                call()
            except ImportError as err:
                print(err)
    """)
    out = python_child(code, "/nonexistent.yaml")
    lines = out.strip().splitlines()
    assert lines == [
        "libbpf_py.exporter needs prometheus_client (not installed): "
        "pip install 'libbpf_py[exporter]'",
        "libbpf_py.exporter needs yaml (not installed): pip install 'libbpf_py[exporter]'"]


def test_command_check_reports_a_bad_config_in_one_line(tmp_path, bpf_path) -> None:
    bad = write_config(tmp_path, bpf_path, "      - name: second\n        map: nope\n")
    done = subprocess.run([sys.executable, "-m", "libbpf_py", "exporter", "--config", str(bad),
                           "--check"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith(f"libbpf_py exporter: {bad}:14: objects[0].metrics[1].map: "
                                  "object 'test' has no map 'nope'")
    assert "Traceback" not in done.stderr
    good = write_config(tmp_path, bpf_path)
    done = subprocess.run([sys.executable, "-m", "libbpf_py", "exporter", "--config", str(good),
                           "--check"], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, f"{good}: OK\n")
    done = subprocess.run([sys.executable, "-m", "libbpf_py", "exporter", "--config", str(good),
                           "--listen", "127.0.0.1:99999"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "--listen: expected [HOST]:PORT with a port 0..65535, not '127.0.0.1:99999'" in \
        done.stderr


# --- end to end: the command, scraped by a real Prometheus server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Process:
    """A child process that is always stopped (``stop_signal``, then SIGKILL) and reaped."""

    def __init__(self, argv: list[str], stop_signal: int = signal.SIGTERM, **kw: object) -> None:
        self.stop_signal = stop_signal
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)  # type: ignore

    def stop(self) -> str:
        p = self.proc
        if p.poll() is None:
            p.send_signal(self.stop_signal)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        err = p.stderr.read() if p.stderr else ""
        for f in (p.stdout, p.stderr):
            if f:
                f.close()
        return err if isinstance(err, str) else err.decode(errors="replace")


def _query(port: int, expr: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def _wait_value(port: int, expr: str, want: float, timeout: float = 300.0) -> None:
    """Query until ``expr`` has exactly one series whose value is ``want`` (a scrape after the
    workload has landed), or fail showing what Prometheus has. ``timeout`` is a ceiling for a
    hang, not a speed threshold: it returns as soon as the value is there (Prometheus took over
    40 s to start listening in a 5.10 guest under TCG on a loaded machine)."""
    deadline = time.monotonic() + timeout
    got: object = None
    while time.monotonic() < deadline:
        try:
            result = _query(port, expr)
        except OSError as e:  # Prometheus still starting
            got = e
        else:
            got = result
            if len(result) == 1 and float(result[0]["value"][1]) == want:  # type: ignore
                return
        time.sleep(0.5)
    pytest.fail(f"Prometheus never had {expr} == {want}; last answer: {got}", pytrace=False)


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_prometheus_scrapes_exact_values(tmp_path, bpf_path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("Debian's prometheus package is not installed (scripts/bootstrap.sh "
                    "installs it; in CI this fails)")
    config = write_config(tmp_path, bpf_path, (
        "      - name: execs_total\n"
        "        map: execs\n"
        "        labels:\n"
        "          - {name: comm, field: comm}\n"
        "      - name: pwrite_bytes\n"
        "        type: histogram\n"
        "        map: pwrite_hist\n"
        "        buckets: {type: log2, count: 32}\n"
        "        sum_map: pwrite_bytes\n"))
    text = config.read_text().replace("    programs: [on_sys_exit]\n", "")
    config.write_text(text)
    exporter = _Process([sys.executable, "-m", "libbpf_py", "exporter", "--config",
                         str(config), "--listen", "127.0.0.1:0"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    prom = None
    try:
        line = exporter.proc.stderr.readline()  # type: ignore[union-attr]
        assert "Serving metrics of 1/1 objects on http://127.0.0.1:" in line, \
            line + exporter.stop()
        exporter_port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        prom_port = _free_port()
        prom_dir = Path(tempfile.mkdtemp(prefix=f"libbpf_py-prom-{os.getpid()}-"))
        (prom_dir / "prometheus.yml").write_text(textwrap.dedent(f"""\
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: libbpf_py
                static_configs:
                  - targets: ['127.0.0.1:{exporter_port}']
        """))
        prom = _Process([prometheus, f"--config.file={prom_dir / 'prometheus.yml'}",
                         f"--storage.tsdb.path={prom_dir / 'data'}",
                         f"--web.listen-address=127.0.0.1:{prom_port}"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # the workload: this process's syscalls, execs of its children, pwrite64 sizes
        for _ in range(123):
            os.getppid()
        for _ in range(4):
            subprocess.run(["/bin/true"], check=True)
        sizes = [5, 6, 7, 1000]
        with open(tmp_path / "w", "wb") as f:
            for n in sizes:
                os.pwrite(f.fileno(), b"x" * n, 0)
        _wait_value(prom_port, 'up{job="libbpf_py"}', 1)
        _wait_value(prom_port, 'libbpf_py_exporter_object_up{object="test"}', 1)
        _wait_value(prom_port, 'syscalls_total{syscall="getppid"}', 123)
        _wait_value(prom_port, 'execs_total{comm="true"}', 4)
        _wait_value(prom_port, "pwrite_bytes_count", len(sizes))
        _wait_value(prom_port, "pwrite_bytes_sum", sum(sizes))
        _wait_value(prom_port, 'pwrite_bytes_bucket{le="7.0"}', 3)
        _wait_value(prom_port, 'pwrite_bytes_bucket{le="1023.0"}', 4)
    finally:
        prom_err = prom.stop() if prom is not None else ""
        err = exporter.stop()
        if prom is not None:
            shutil.rmtree(prom_dir, ignore_errors=True)
    assert exporter.proc.returncode == 0, err
    assert prom.proc.returncode == 0, prom_err[-2000:]


@root
def test_exposition_text_matches_prometheus_client(obj) -> None:
    """The exporter writes counters and gauges itself (fast, for 100k series): the text parses
    to exactly the samples prometheus_client's own exposition gives, escapes included."""
    from prometheus_client.parser import text_string_to_metric_families

    m = obj.maps["labels"]
    for i, name in enumerate([b"plain", b'q"uo\\te', b"new\nline"]):
        m[{"nr": i, "name": name, "kind": i}] = {"count": 10 + i, "bytes": i}
    metrics = [MapMetric(m, "odd_total", value_field="count", help='a "help"\\ text\nline 2',
                         labels=[Label("comm", "name"), Label("nr", "nr")]),
               MapMetric(m, "odd_bytes", kind="gauge", value_field="bytes",
                         labels=[Label("kind", "kind")]),
               MapMetric(obj.maps["percpu"], "no_labels", kind="gauge")]
    for metric in metrics:
        ours = list(text_string_to_metric_families(metric.exposition()))
        theirs = list(text_string_to_metric_families(
            generate_latest(registry_with(metric)).decode()))
        assert ours == theirs
        assert len(ours) == 1 and len(ours[0].samples) == (1 if "no_labels" in metric.name
                                                           else 3)
    by_comm = {s.labels["comm"]: s.value for s in
               next(text_string_to_metric_families(metrics[0].exposition())).samples}
    assert by_comm == {"plain": 10, 'q"uo\\te': 11, "new\nline": 12}


@pytest.mark.root
@pytest.mark.kernel("tracefs")
def test_syscount_serves_prometheus_counters() -> None:
    """The built-in syscount's --prometheus: its counts map as syscount_calls_total{syscall},
    scraped over HTTP while it runs, equal to the calls this process made."""
    tool = _Process([sys.executable, "-m", "libbpf_py", "syscount", "-p", str(os.getpid()),
                     "--prometheus", "127.0.0.1:0", "-d", "60"], stop_signal=signal.SIGINT,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = tool.proc.stderr.readline()  # type: ignore[union-attr]
        assert line.startswith("Serving metrics on http://127.0.0.1:"), line + tool.stop()
        port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        assert "Tracing syscalls" in tool.proc.stderr.readline()  # type: ignore[union-attr]
        for _ in range(29):
            os.getppid()
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            families = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
        calls = {s.labels["syscall"]: s.value for s in families["syscount_calls"].samples}
        assert calls["getppid"] == 29
    finally:
        err = tool.stop()
    assert tool.proc.returncode == 0, err


@root
def test_close_while_scrapes_run_in_other_threads(bpf_path) -> None:
    """Scrapes from several threads while the exporter closes: every answer is whole text or a
    refused connection, never a crash (a child process: a signal would fail the test)."""
    code = textwrap.dedent("""
        import sys, threading, time, urllib.request
        from libbpf_py.exporter import Exporter
        config = {"objects": [{"path": sys.argv[1], "programs": [], "metrics": [
            {"name": "calls_total", "map": "syscalls", "labels": [{"name": "nr"}]}]}]}
        exp = Exporter(config)
        exp.start()
        m = exp.objects()["exporter"].maps["syscalls"]
        m.update((i, i) for i in range(1000))
        port = exp.serve(0, "127.0.0.1")[1]
        ok, refused, stop = [0], [0], threading.Event()
        def scrape():
            while not stop.is_set():
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
                        body = r.read()
                    assert body.endswith(b"\\n") and b"libbpf_py_exporter_object_up" in body
                    ok[0] += 1
                except OSError:
                    refused[0] += 1
        threads = [threading.Thread(target=scrape) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        exp.close()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        print(ok[0] > 0, refused[0] > 0, exp.up)
    """)
    out = python_child(code, str(bpf_path("exporter")))
    assert out.strip() == "True True {'exporter': False}"
