"""Every map family against the kernel: the class obj.maps / Map.create pick, and its operations."""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import MutableMapping

import pytest

import libbpf_py
from conftest import open_map_kinds
from libbpf_py import BpfError, MapType
from libbpf_py.maps import Map, MapBase
from libbpf_py.maps import MapFlags
from libbpf_py.maps import (BloomFilter, CgroupStorageMap, CpuMap, DevMap, EventMap,
                                 LocalStorageMap, LpmTrie, MapOfMaps, ProgArray, QueueMap,
                                 StackMap, StackTraceMap)

pytestmark = pytest.mark.root

GETPPID_NR = {"x86_64": 110, "aarch64": 173}
NCPU = libbpf_py._ffi.lib.libbpf_num_possible_cpus()


@pytest.fixture
def kinds(bpf_path):
    """map_kinds.bpf.o loaded, without what this kernel cannot create (conftest)."""
    with open_map_kinds(bpf_path("map_kinds")) as opened:
        with opened.load() as o:
            yield o


def test_queue_push_pop_peek() -> None:
    with Map.create(MapType.QUEUE, value_type=ctypes.c_uint32, max_entries=3) as q:
        assert type(q) is QueueMap and not q
        for v in (1, 2, 3):
            q.push(v)
        with pytest.raises(BpfError) as e:
            q.push(4)
        assert e.value.errno == errno.E2BIG
        q.push(4, overwrite=True)  # drops the oldest (1)
        assert q.peek() == 2 and bool(q)
        assert [q.pop(), q.pop(), q.pop()] == [2, 3, 4]
        with pytest.raises(IndexError, match="pop from an empty QUEUE map"):
            q.pop()
        with pytest.raises(TypeError, match="QUEUE map, not a key/value map: use push"):
            q[0]


@pytest.mark.kernel("bloom_filter")  # the test makes one (5.16)
def test_only_key_value_maps_are_mappings() -> None:
    """Queues, stacks and bloom filters are MapBase kinds, not MutableMappings: the dict methods
    are absent (AttributeError naming what to use), subscripting is a TypeError."""
    with Map.create(MapType.QUEUE, value_type=ctypes.c_uint32, max_entries=3) as q, \
            Map.create(MapType.BLOOM_FILTER, value_type=ctypes.c_uint32, max_entries=8) as bf, \
            Map.create(MapType.PROG_ARRAY, max_entries=2) as pa:
        assert isinstance(q, MapBase) and not isinstance(q, (Map, MutableMapping))
        assert isinstance(bf, MapBase) and not isinstance(bf, (Map, MutableMapping))
        assert isinstance(pa, Map) and isinstance(pa, MutableMapping)
        with pytest.raises(AttributeError, match=r"^'QueueMap' object has no attribute 'items': "
                           r"map '' is a QUEUE map, not a key/value map: use push\(\), pop\(\) "
                           r"and peek\(\)$") as e:
            q.items()
        assert (e.value.name, e.value.obj) == ("items", q)
        with pytest.raises(AttributeError, match=r"^'BloomFilter' object has no attribute "
                           r"'pop_all': map '' is a BLOOM_FILTER map, not a key/value map: use "
                           r"add\(\) and `in`$"):
            bf.pop_all()
        with pytest.raises(AttributeError, match=r"^'QueueMap' object has no attribute 'nope'$"):
            q.nope  # noqa: B018
        with pytest.raises(TypeError, match=r"^map '' is a QUEUE map, not a key/value map: use "):
            q[0] = 1
        with pytest.raises(TypeError, match=r"^object of type 'BloomFilter' has no len\(\)$"):
            len(bf)
        assert bf and q.push(7) is None and q.pop() == 7


def test_stack_is_lifo() -> None:
    with Map.create(MapType.STACK, value_type=ctypes.c_int64, max_entries=4) as s:
        assert type(s) is StackMap
        for v in (-1, 5, 7):
            s.push(v)
        assert s.peek() == 7
        assert list(s.drain()) == [7, 5, -1]
        with pytest.raises(IndexError, match="peek from an empty STACK"):
            s.peek()


@pytest.mark.kernel("bloom_filter")
def test_bloom_filter_add_and_in() -> None:
    with Map.create(MapType.BLOOM_FILTER, value_type=ctypes.c_uint64, max_entries=100,
                    map_extra=3) as bf:
        assert type(bf) is BloomFilter and bf.info().map_extra == 3
        for v in range(0, 100, 2):
            bf.add(v)
        assert all(v in bf for v in range(0, 100, 2))  # no false negatives
        absent = sum(v in bf for v in range(1, 10_000, 2))
        assert absent < 4999  # a bloom filter, not "everything matches"
        with pytest.raises(TypeError, match="BLOOM_FILTER map, not a key/value map: use add"):
            list(bf)


def test_lru_hash_evicts_where_hash_fails() -> None:
    with Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=64) as h:
        for k in range(64):
            h[k] = k
        with pytest.raises(BpfError) as e:
            h[64] = 64
        assert e.value.errno == errno.E2BIG
    with Map.create(MapType.LRU_HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=64) as lru:
        for k in range(1000):
            lru[k] = k * 2  # never fails: old elements are evicted
        items = dict(lru.items())
        assert 0 < len(items) <= 64
        assert items[999] == 1998  # the newest survived
        assert all(v == k * 2 for k, v in items.items())
        assert len([k for k in items if k < 1000 - 64]) < len(items)  # mostly recent ones


def test_lpm_trie_longest_prefix() -> None:
    with Map.create(MapType.LPM_TRIE, key_size=8, value_type=ctypes.c_uint32, max_entries=16,
                    flags=MapFlags.NO_PREALLOC) as t:
        assert type(t) is LpmTrie
        t[ipaddress.ip_network("10.0.0.0/8")] = 8
        t[(16, bytes([10, 1, 0, 0]))] = 16
        t[ipaddress.ip_network("10.1.2.0/24")] = 24
        assert t[ipaddress.ip_address("10.1.2.3")] == 24
        assert t[ipaddress.ip_address("10.1.3.3")] == 16
        assert t[(32, bytes([10, 200, 0, 1]))] == 8
        assert ipaddress.ip_address("11.0.0.1") not in t
        assert sorted(t.items()) == [((8, bytes([10, 0, 0, 0])), 8),
                                     ((16, bytes([10, 1, 0, 0])), 16),
                                     ((24, bytes([10, 1, 2, 0])), 24)]
        del t[(16, bytes([10, 1, 0, 0]))]
        assert t[ipaddress.ip_address("10.1.3.3")] == 8
        with pytest.raises(ValueError, match="LPM key data has size 3"):
            t[(8, b"abc")]


def test_percpu_hash_and_array_every_path() -> None:
    with Map.create(MapType.PERCPU_HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=8) as m:
        m[1] = list(range(NCPU))
        m.update({2: [7] * NCPU, 3: [k + 1 for k in range(NCPU)]})  # batch update
        assert dict(m.items()) == {1: list(range(NCPU)), 2: [7] * NCPU,
                                   3: [k + 1 for k in range(NCPU)]}  # batch lookup
        assert sorted(m.values()) == sorted([list(range(NCPU)), [7] * NCPU,
                                             [k + 1 for k in range(NCPU)]])
        assert m.pop(2) == [7] * NCPU
        m.clear()
        assert len(m) == 0
    with Map.create(MapType.PERCPU_ARRAY, key_type=ctypes.c_uint32, value_type=ctypes.c_uint16,
                    max_entries=3) as a:
        a.update({0: [1] * NCPU, 2: [9] * NCPU})
        assert dict(a.items()) == {0: [1] * NCPU, 1: [0] * NCPU, 2: [9] * NCPU}


def test_prog_array_tail_call(kinds) -> None:
    jumps, entry, target = kinds.maps["jumps"], kinds.programs["entry"], kinds.programs["target"]
    assert type(jumps) is ProgArray
    packet = bytes(64)
    assert entry.test_run(packet).retval == 1  # empty slot: the tail call falls through
    jumps[0] = target
    assert jumps[0] == target.info().id  # the kernel reads back the program id
    assert list(jumps) == [0] and len(jumps) == 1
    assert entry.test_run(packet).retval == 42  # tail call taken
    del jumps[0]
    assert entry.test_run(packet).retval == 1


def test_array_of_maps_values_are_maps(kinds) -> None:
    outer, inner1, inner2 = kinds.maps["outer"], kinds.maps["inner1"], kinds.maps["inner2"]
    assert type(outer) is MapOfMaps
    inner1[0] = 11
    with outer[0] as got:  # set by the object's initializer
        assert isinstance(got, Map) and got.info().id == inner1.info().id
        assert got[0] == 11  # same kernel map, through a new fd
    outer[1] = inner2
    inner2[0] = 22
    assert list(outer) == [0, 1]
    values = outer.values()
    try:
        assert [v[0] for v in values] == [11, 22]
    finally:
        for v in values:
            v.close()
    del outer[0]
    assert list(outer) == [1]


def test_hash_of_maps_standalone() -> None:
    with Map.create(MapType.ARRAY, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=1) as template, \
         Map.create(MapType.ARRAY, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=1) as inner, \
         Map.create(MapType.HASH_OF_MAPS, key_type=ctypes.c_uint64, max_entries=4,
                    inner_map=template) as hom:
        inner[0] = 5
        hom[2**40] = inner
        with hom[2**40] as got:
            # a standalone inner map has no BTF: the reopened map reads raw bytes
            assert got[0] == (5).to_bytes(4, sys.byteorder) and got.info().id == inner.info().id
        assert list(hom) == [2**40]


def test_stack_trace_values_are_address_tuples(kinds) -> None:
    ctl, stacks = kinds.maps["ctl"], kinds.maps["stacks"]
    assert type(stacks) is StackTraceMap
    ctl[0] = os.getpid()
    ctl[1] = -1
    ctl[2] = GETPPID_NR[os.uname().machine]  # raw_syscalls/sys_enter: only getppid() counts
    with kinds.programs["stack"].attach():
        os.getppid()
    stack_id = ctl[1]
    assert stack_id >= 0
    frames = stacks[stack_id]
    assert isinstance(frames, tuple) and 1 <= len(frames) <= 127
    assert all(a >= 0xffff800000000000 for a in frames)  # kernel addresses, tail cut off
    assert list(stacks) == [stack_id]
    syms = _kallsyms()
    names = {_symbolize(syms, a) for a in frames}
    assert "do_syscall_64" in names


def test_stack_trace_error_ids_are_absent(kinds) -> None:
    """bpf_get_stackid() returns a negative errno on failure (-EFAULT, -EEXIST ...); tools look
    such ids up as they come: ``get`` gives the default, ``in`` is False, ``[]`` a KeyError."""
    stacks = kinds.maps["stacks"]
    assert stacks.get(-14) is None and stacks.get(-17, ()) == ()
    assert -14 not in stacks
    with pytest.raises(KeyError, match="stack id -14 is an error of bpf_get_stackid"):
        stacks[-14]


def _kallsyms() -> list[tuple[int, str]]:
    out = []
    with open("/proc/kallsyms") as f:
        for line in f:
            addr, kind, name = line.split()[:3]
            if kind in "tT":
                out.append((int(addr, 16), name))
    out.sort()
    return out


def _symbolize(syms: list[tuple[int, str]], addr: int) -> str:
    import bisect

    i = bisect.bisect_right(syms, (addr, "\xff")) - 1
    return syms[i][1] if i >= 0 else "?"


@pytest.mark.kernel("task_storage")
def test_task_storage_keyed_by_pidfd(kinds) -> None:
    ctl, store = kinds.maps["ctl"], kinds.maps["task_store"]
    assert type(store) is LocalStorageMap
    ctl[0] = os.getpid()
    ctl[2] = GETPPID_NR[os.uname().machine]
    pidfd = os.pidfd_open(os.getpid())
    try:
        store[pidfd] = 100
        with kinds.programs["task_count"].attach():
            os.getppid()
            os.getppid()
        assert store[pidfd] == 102  # BPF counted our two getppid() on top of 100
        del store[pidfd]
        assert pidfd not in store
        with pytest.raises(TypeError, match="TASK_STORAGE map: its storage is reached by key"):
            list(store)
    finally:
        os.close(pidfd)


def test_sk_inode_storage_by_fd(kinds) -> None:
    sk, inode = kinds.maps["sk_store"], kinds.maps["inode_store"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, \
         tempfile.TemporaryFile() as f:
        sk[s] = 1
        inode[f] = 2
        assert (sk[s], inode[f.fileno()]) == (1, 2)
        del inode[f]
        assert f not in inode
        with pytest.raises(TypeError, match="key of SK_STORAGE map 'sk_store' must be an fd"):
            sk["x"]


@pytest.mark.kernel("cgrp_storage")
def test_cgrp_storage_by_fd(kinds) -> None:
    cgrp = kinds.maps["cgrp_store"]
    cg = os.open(_cgroup2_root(), os.O_RDONLY | os.O_DIRECTORY)
    try:
        cgrp[cg] = 3
        assert cgrp[cg] == 3
        del cgrp[cg]
        assert cg not in cgrp
    finally:
        os.close(cg)


def _cgroup2_root() -> str:
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    pytest.skip("kernel feature missing: cgroup2 mounted")


@pytest.fixture
def cgroup():
    path = tempfile.mkdtemp(prefix="libbpf_py-cg-", dir=_cgroup2_root())
    try:
        yield path
    finally:
        os.rmdir(path)


def test_cgroup_storage(kinds, cgroup) -> None:
    cg = kinds.maps["cg_counter"]
    assert type(cg) is CgroupStorageMap
    cg_id = os.stat(cgroup).st_ino
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        with kinds.programs["cg_egress"].attach_cgroup(cgroup):
            assert list(cg) == [(cg_id, 1)]  # (cgroup id, BPF_CGROUP_INET_EGRESS)
            assert cg[(cg_id, 1)] == 0
            code = (f"import socket; open('{cgroup}/cgroup.procs', 'w').write('0');"
                    f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', "
                    f"('127.0.0.1', {port}))")
            subprocess.run([sys.executable, "-c", code], check=True)
            assert rx.recv(10) == b"x"
            assert cg[(cg_id, 1)] == 1


def test_devmap_and_cpumap() -> None:
    with Map.create(MapType.DEVMAP, max_entries=4) as dm:
        assert type(dm) is DevMap
        lo = socket.if_nametoindex("lo")
        dm[1] = lo
        assert dm[1] == lo
        del dm[1]
        with pytest.raises(KeyError):
            dm[1]
    with Map.create(MapType.CPUMAP, max_entries=NCPU) as cm:
        assert type(cm) is CpuMap
        cm[0] = 192
        assert cm[0] == 192


def test_stream_maps_are_not_dicts(kinds) -> None:
    perf = kinds.maps["perf"]
    assert type(perf) is EventMap
    with pytest.raises(TypeError, match="PERF_EVENT_ARRAY: use PerfBuffer, not element access"):
        perf[0]
    assert not isinstance(perf, MutableMapping)
    with pytest.raises(AttributeError, match=r"^'EventMap' object has no attribute 'items': map "
                       r"'perf' is a PERF_EVENT_ARRAY: use PerfBuffer, not element access$"):
        list(perf.items())


def test_struct_ops_map_refuses_element_access(bpf_path) -> None:
    from libbpf_py.maps import StructOpsMap

    with libbpf_py.load(bpf_path("map_struct_ops")) as o:
        cc = o.maps["lbpy_cc"]
        assert type(cc) is StructOpsMap
        info = cc.info()
        assert (info.type, info.key_size, info.max_entries) == (MapType.STRUCT_OPS, 4, 1)
        assert info.btf_vmlinux_value_type_id != 0  # typed by the kernel's tcp_congestion_ops
        for op in (lambda: cc[0], lambda: cc.__setitem__(0, b"")):
            with pytest.raises(TypeError, match=r"'lbpy_cc' is a STRUCT_OPS map, not a "
                               r"key/value map: use StructOpsMap.attach\(\)"):
                op()
        for op in (lambda: list(cc.items()), lambda: cc.pop(0)):
            with pytest.raises(AttributeError, match=r"'lbpy_cc' is a STRUCT_OPS map, not a "
                               r"key/value map: use StructOpsMap.attach\(\)"):
                op()
