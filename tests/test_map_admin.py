"""Standalone maps, pinning, info, freeze, mmap, configuration before load, batch ops, numpy."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import struct
import subprocess

import pytest

import libbpf_py
from conftest import open_map_kinds
from libbpf_py import BpfError, ClosedError, MapType, UpdateFlags
from libbpf_py._ffi.maps import bpf_map_info
from libbpf_py.maps import Map
from libbpf_py.maps import MapFlags, MapInfo

pytestmark = pytest.mark.root

NCPU = libbpf_py._ffi.lib.libbpf_num_possible_cpus()


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint32)]


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.load(bpf_path("maps")) as o:
        yield o


def u32_u64(max_entries: int = 64, **kw) -> Map:
    return Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                      max_entries=max_entries, **kw)


def test_bpf_map_info_layout_matches_c(tmp_path) -> None:
    gcc = shutil.which("gcc") or pytest.fail("gcc is needed to check struct bpf_map_info")
    names = [f[0] for f in bpf_map_info._fields_]
    src = tmp_path / "probe.c"
    src.write_text("#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\n"
                   "int main(void){\n"
                   'printf("%zu\\n", sizeof(struct bpf_map_info));\n'
                   + "".join(f'printf("%zu\\n", offsetof(struct bpf_map_info, {n}));\n'
                             for n in names) + "return 0;}\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    exe = tmp_path / "probe"
    subprocess.run([gcc, f"-I{root}/libbpf/include/uapi", str(src), "-o", str(exe)], check=True)
    out = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True,
                                          check=True).stdout.split()]
    assert out == [ctypes.sizeof(bpf_map_info)] + [getattr(bpf_map_info, n).offset
                                                   for n in names]


def test_create_typed_info_and_close() -> None:
    m = Map.create(MapType.HASH, key_type=Pair, value_type=ctypes.c_int16, max_entries=8,
                   name="typed", flags=MapFlags.NO_PREALLOC)
    with m:
        assert type(m) is Map and m.name == "typed"
        m[Pair(1, 2)] = -3
        m[(3, 4)] = 5
        m[{"a": 5, "b": 6}] = 7
        assert m[(1, 2)] == -3
        assert sorted((k.a, k.b, v) for k, v in m.items()) == [(1, 2, -3), (3, 4, 5), (5, 6, 7)]
        info = m.info()
        assert isinstance(info, MapInfo)
        assert (info.type, info.name, info.key_size, info.value_size, info.max_entries) == \
            (MapType.HASH, "typed", 8, 2, 8)
        assert info.flags == MapFlags.NO_PREALLOC and info.id > 0
        assert (m.key_size, m.value_size, m.max_entries, m.flags) == (8, 2, 8, 1)
        fd = m.fd
        os.fstat(fd)
    assert m.closed
    with pytest.raises(OSError):
        os.fstat(fd)  # the fd was closed
    with pytest.raises(ClosedError, match="map 'typed': the map is closed"):
        m[(1, 2)]
    m.close()  # idempotent


def test_create_bad_input() -> None:
    with pytest.raises(TypeError, match=r"Map.create\(HASH\): give key_size/key_type"):
        Map.create(MapType.HASH, value_size=4, max_entries=1)
    with pytest.raises(BpfError, match="create map 'bad'") as e:
        Map.create(MapType.HASH, key_size=4, value_size=4, max_entries=0, name="bad")
    assert e.value.errno == errno.EINVAL
    with u32_u64() as m:
        with pytest.raises(ValueError, match="key has size 2 but the map's key size is 4"):
            m[b"ab"]
        with pytest.raises(OverflowError, match="value -1 does not fit a unsigned 64-bit"):
            m[1] = -1
        with pytest.raises(TypeError, match="key must be bytes of size 4, not float"):
            m[1.5]


def test_from_id_and_pinning(bpffs) -> None:
    path = os.path.join(bpffs, "m")
    with u32_u64(name="pinme") as m:
        m[1] = 10
        m.pin(path)
        assert os.path.exists(path) and m.pin_path == path
        with Map.from_pinned(path, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64) as p:
            assert p.name == "pinme" and p[1] == 10
            p[2] = 20
        assert m.info().id in list(Map.ids())
        with Map.from_id(m.info().id) as by_id:
            assert by_id.info().id == m.info().id
            assert by_id[struct.pack("=I", 2)] == struct.pack("=Q", 20)  # no BTF: bytes
        m.unpin()
        assert not os.path.exists(path) and m.pin_path is None
    with pytest.raises(BpfError, match="open pinned map") as e:
        Map.from_pinned(path)
    assert e.value.errno == errno.ENOENT


def test_object_map_pin_and_reuse(obj, bpffs, bpf_path) -> None:
    m = obj.maps["signed_vals"]
    m[5] = -5
    path = os.path.join(bpffs, "signed_vals")
    m.pin(path)
    try:
        with Map.from_pinned(path) as p:  # typed from the kernel's BTF of the map
            assert p[5] == -5
        with Map.from_pinned(path, key_type=bytes, value_type=bytes) as raw:  # no decoding
            assert raw[struct.pack("=I", 5)] == struct.pack("=q", -5)
        with Map.from_pinned(path) as p:
            with libbpf_py.Object.open(bpf_path("maps")) as o2:
                o2.maps["signed_vals"].reuse_fd(p)
                loaded = o2.load()
                with loaded:
                    assert loaded.maps["signed_vals"][5] == -5
                    assert loaded.maps["signed_vals"].info().id == m.info().id
    finally:
        m.unpin(path)


def test_pin_path_before_load_shares_the_map(bpffs, bpf_path) -> None:
    path = os.path.join(bpffs, "shared")
    with libbpf_py.Object.open(bpf_path("maps")) as o1:
        o1.maps["signed_vals"].pin_path = path
        with o1.load() as a:
            a.maps["signed_vals"][1] = 111
            assert os.path.exists(path)
            with libbpf_py.Object.open(bpf_path("maps")) as o2:
                o2.maps["signed_vals"].pin_path = path
                with o2.load() as b:
                    assert b.maps["signed_vals"][1] == 111
            a.maps["signed_vals"].unpin()


def test_configure_before_load(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("maps")) as o:
        c = o.maps["configurable"]
        c.value_size = 8
        c.max_entries = 3
        c.flags = MapFlags.NO_PREALLOC
        c.numa_node = 0
        assert (c.value_size, c.max_entries, c.numa_node) == (8, 3, 0)
        with o.load() as loaded:
            c = loaded.maps["configurable"]
            info = c.info()
            assert (info.value_size, info.max_entries) == (8, 3)
            assert info.flags == MapFlags.NO_PREALLOC  # node 0: the default, no flag
            with pytest.raises(BpfError, match="only possible before load"):
                c.max_entries = 5
            c[b"\x01\x00\x00\x00"] = b"12345678"  # no BTF types: bytes
            assert c[b"\x01\x00\x00\x00"] == b"12345678"


def test_initial_value_before_load(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("maps")) as o:
        data = next(m for name, m in o.maps.items() if name.endswith(".data"))
        assert data.initial_value == struct.pack("=I", 7)  # `__u32 initial_glob = 7;`
        with pytest.raises(BpfError, match=r"set initial value of map 'maps.data' \(5 bytes, value size 4\)"):
            data.initial_value = b"short"
        data.initial_value = struct.pack("=I", 9)
        with pytest.raises(TypeError, match="has no initial value"):
            o.maps["signed_vals"].initial_value
        with o.load() as loaded:
            data = next(m for name, m in loaded.maps.items() if name.endswith(".data"))
            assert bytes(data[0]) == struct.pack("=I", 9)


def test_set_inner_map_before_load(bpf_path) -> None:
    def array(value_size: int) -> Map:
        return Map.create(MapType.ARRAY, key_size=4, value_size=value_size, max_entries=1)

    with array(16) as template, array(16) as fits, array(8) as wrong:
        with open_map_kinds(bpf_path("map_kinds")) as o:
            o.maps["outer2"].set_inner_map(template)  # instead of the declared u64 arrays
            with o.load() as loaded:
                outer2 = loaded.maps["outer2"]
                outer2[7] = fits
                with outer2[7] as got:
                    assert got.info().id == fits.info().id and got.value_size == 16
                with pytest.raises(BpfError) as e:
                    outer2[8] = wrong  # not like the template
                assert e.value.errno == errno.EINVAL


def test_freeze_and_mmap(obj) -> None:
    arr = obj.maps["mmapped"]
    with arr.mmap() as mm:
        assert (mm.format, mm.readonly, len(mm)) == ("B", False, 8 * arr.max_entries)
        view = mm.cast("Q")
        view[3] = 33
        assert arr[3] == 33  # the same memory the kernel sees
        arr[4] = 44
        assert view[4] == 44
        view.release()
    arr.freeze()
    with pytest.raises(BpfError) as e:
        arr[0] = 1
    assert e.value.errno == errno.EPERM
    with pytest.raises(BpfError, match="frozen"):
        arr.mmap()
    with arr.mmap(writable=False) as ro:
        assert ro.readonly and struct.unpack_from("=Q", ro, 3 * 8)[0] == 33
        with pytest.raises(TypeError, match="read-only"):
            ro[0] = 1
    with pytest.raises(ValueError, match="not created with MapFlags.MMAPABLE"):
        obj.maps["small_array"].mmap()


def test_mmap_views_are_leases_of_their_owner(bpf_path) -> None:
    """Issue 10: Map.mmap() views outlived their object. A view is a lease (_lease.Lease):
    closing the object (or a standalone map) releases it, and using it raises ValueError; what
    was derived before (a slice, a numpy array, a ctypes instance) keeps the mapping until
    dropped, and the mapping goes with the last of them (no fd is kept for it). Another
    thread reading a slice while the object closes reads mapped memory to the end. In a child
    process: a signal fails the test, naming it."""
    from test_globals import in_child

    code = """
import ctypes, gc, os, sys, threading
import numpy as np
import libbpf_py
from libbpf_py import Map, MapFlags, MapType

def address(view):  # where a writable view's memory is (the probe's export is dropped at once)
    return ctypes.addressof(ctypes.c_char.from_buffer(view))

def mapped(*addresses):  # which of these addresses are in a mapping of this process now
    with open("/proc/self/maps") as f:
        ranges = [[int(x, 16) for x in line.split()[0].split("-")] for line in f]
    return [any(lo <= a < hi for lo, hi in ranges) for a in addresses]

fds = len(os.listdir("/proc/self/fd"))
obj = libbpf_py.load(sys.argv[1])
arr = obj.maps["mmapped"]
fds_loaded = len(os.listdir("/proc/self/fd"))
plain, held, kept = arr.mmap(), arr.mmap(), arr.mmap()
where = address(plain), address(held), address(kept)
print("mapped:", mapped(*where), "new fds:", len(os.listdir("/proc/self/fd")) - fds_loaded)
values = np.frombuffer(held, dtype=np.uint64)    # numpy keeps held's mapping
tail = kept[8:16]                                # so does a slice
cval = ctypes.c_uint64.from_buffer(tail)         # and a ctypes instance (over the slice)
arr[1], arr[2] = 5, 7
stop, seen = False, set()
def reader():                                    # reads the slice while the object closes
    while not stop:
        seen.add(tail.cast("Q")[0])
t = threading.Thread(target=reader); t.start()
obj.close()
for name, v in (("plain", plain), ("held", held), ("kept", kept)):
    try:
        v[0]
    except ValueError as e:
        print(name, "released:", e)
print("mapped:", mapped(*where))
print("numpy still reads:", int(values[2]), "slice:", tail.cast("Q")[0], "ctypes:", cval.value)
tail.cast("Q")[0] = 6                            # writes land in the (still mapped) memory
stop = True; t.join()
del values
gc.collect()
print("after numpy:", mapped(*where))
del tail, cval
gc.collect()
print("after all:", mapped(*where), "fds:", len(os.listdir("/proc/self/fd")) - fds,
      "seen:", 5 in seen and seen <= {0, 5, 6})
with Map.create(MapType.ARRAY, key_type=ctypes.c_uint32, value_type=ctypes.c_uint64,
                max_entries=4, flags=MapFlags.MMAPABLE) as m:
    mm = m.mmap()
    mm.cast("Q")[1] = 9
    assert m[1] == 9
    at = address(mm)
try:
    mm[0]
except ValueError as e:
    print("standalone released:", e, mapped(at))
try:
    m.mmap()
except libbpf_py.ClosedError as e:
    print("closed:", type(e).__name__)
print("fds:", len(os.listdir("/proc/self/fd")) - fds)
"""
    out = in_child(code, str(bpf_path("maps")))
    released = "released: operation forbidden on released memoryview object"
    assert out.splitlines() == [
        "mapped: [True, True, True] new fds: 0",
        f"plain {released}", f"held {released}", f"kept {released}",
        "mapped: [False, True, True]",
        "numpy still reads: 7 slice: 5 ctypes: 5",
        "after numpy: [False, False, True]",
        "after all: [False, False, False] fds: 0 seen: True",
        f"standalone {released} [False]", "closed: ClosedError", "fds: 0"]


def test_lock_flag(obj) -> None:
    m = obj.maps["locked"]
    m.set(1, bytes(8), flags=UpdateFlags.LOCK)
    m.set(1, struct.pack("=II", 0, 7), flags=UpdateFlags.LOCK)
    assert bytes(m[1])[4:] == struct.pack("=I", 7)


def test_pop_lookup_and_delete_and_fallback(obj) -> None:
    m = obj.maps["signed_vals"]
    m[1] = 10
    assert m.pop(1) == 10 and 1 not in m
    with pytest.raises(KeyError):
        m.pop(1)
    arr = obj.maps["small_array"]
    arr[1] = 5
    with pytest.raises(TypeError, match="ARRAY: its elements can't be deleted"):
        arr.pop(1)  # lookup-and-delete unsupported, and arrays can't delete
    assert arr[1] == 5


def test_batch_ops_large_hash() -> None:
    n = 5000
    with u32_u64(max_entries=n) as m:
        m.update((k, k * 3) for k in range(n))  # one batch update
        assert len(m) == n
        items = dict(m.items())
        assert items == {k: k * 3 for k in range(n)}
        assert sorted(m.values()) == [k * 3 for k in range(n)]
        assert sorted(m) == list(range(n))
        assert m._batch is True  # the kernel's batch calls were used
        m.clear()
        assert len(m) == 0 and dict(m.items()) == {}


def test_pop_all() -> None:
    with u32_u64(max_entries=300) as m:
        m.update({k: k + 1 for k in range(300)})
        assert m.pop_all() == {k: k + 1 for k in range(300)}  # lookup_and_delete_batch
        assert len(m) == 0 and m.pop_all() == {}
    with Map.create(MapType.PERCPU_HASH, key_type=ctypes.c_uint32,
                    value_type=ctypes.c_uint32, max_entries=4) as pc:
        pc[1] = [3] * NCPU
        assert pc.pop_all() == {1: [3] * NCPU} and len(pc) == 0
    with Map.create(MapType.LPM_TRIE, key_size=5, value_type=ctypes.c_uint8, max_entries=4,
                    flags=MapFlags.NO_PREALLOC) as t:  # no lookup_and_delete: pop per key
        t[(8, b"\x01")] = 1
        t[(4, b"\x10")] = 2
        assert t.pop_all() == {(8, b"\x01"): 1, (4, b"\x10"): 2} and len(t) == 0


def test_batch_update_error_names_key() -> None:
    with u32_u64(max_entries=4) as m:
        with pytest.raises(BpfError, match=r"batch update \(4 of 5 done\) in map") as e:
            m.update({k: k for k in range(5)})
        assert e.value.errno == errno.E2BIG
        with pytest.raises(OverflowError):
            m.update({1: -1})
        with pytest.raises(ValueError, match="sequence element #0"):
            m.update([1])


def test_fallback_without_batch() -> None:
    with Map.create(MapType.DEVMAP_HASH, key_size=4, max_entries=8) as t:
        t.update({5: 1, 9: 1})
        assert dict(t.items()) == {5: 1, 9: 1}
        assert t._batch is False  # the kernel has no batch ops here: get_next_key walk
        t.clear()
        assert len(t) == 0


def test_items_view_is_live_and_consistent() -> None:
    with u32_u64() as m:
        m[1] = 1
        view = m.items()
        assert len(view) == 1
        m[2] = 2  # a write after len(): the view does not reuse its snapshot
        assert list(view) == [(1, 1), (2, 2)] or sorted(view) == [(1, 1), (2, 2)]
        assert (2, 2) in view and (2, 3) not in view
        assert list(m.keys()) in ([1, 2], [2, 1])


def test_numpy_dump() -> None:
    np = pytest.importorskip("numpy")
    with u32_u64(max_entries=100) as m:
        m.update({k: k * k for k in range(100)})
        keys, values = m.to_numpy()
        assert keys.dtype == np.uint32 and values.dtype == np.uint64
        order = np.argsort(keys)
        assert keys[order].tolist() == list(range(100))
        assert values[order].tolist() == [k * k for k in range(100)]
        k2, v2 = m.items(numpy=True)
        assert sorted(zip(k2.tolist(), v2.tolist())) == [(k, k * k) for k in range(100)]
        assert sorted(m.values(numpy=True).tolist()) == [k * k for k in range(100)]
    with Map.create(MapType.PERCPU_ARRAY, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=3) as pc:
        pc[1] = list(range(NCPU))
        keys, values = pc.to_numpy()
        assert keys.tolist() == [0, 1, 2] and values.shape == (3, NCPU)
        assert values[1].tolist() == list(range(NCPU))
    with Map.create(MapType.HASH, key_type=Pair, value_size=3, max_entries=2) as raw:
        raw[(1, 2)] = b"abc"
        keys, values = raw.to_numpy()
        assert values.dtype.itemsize == 3 and bytes(values[0]) == b"abc"
        assert keys.dtype.names == ("a", "b") and keys[0]["b"] == 2  # structured dtype


def test_standalone_setters_refused() -> None:
    with u32_u64() as m:
        with pytest.raises(BpfError, match="a standalone map is created already"):
            m.max_entries = 3


def test_threads_do_not_share_value_buffers() -> None:
    import threading

    with u32_u64(max_entries=4) as m:
        m.update({1: 111, 2: 222})
        wrong: list[tuple[int, int]] = []

        def reader(key: int, expect: int) -> None:
            # Between a lookup and its decoding another thread may run (the eval loop switches
            # threads after calls), and map types other than plain data maps release the GIL
            # during the syscall.
            for _ in range(3000):
                got = m[key]
                if got != expect:
                    wrong.append((key, got))

        threads = [threading.Thread(target=reader, args=(k, k * 111)) for k in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wrong == []


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.ARRAY])
@pytest.mark.parametrize("ctype", [ctypes.c_int8, ctypes.c_uint8, ctypes.c_int16, ctypes.c_uint16,
                                   ctypes.c_int32, ctypes.c_uint32, ctypes.c_int64,
                                   ctypes.c_uint64])
def test_int_values_of_every_size_and_sign_roundtrip(map_type: MapType, ctype: type) -> None:
    """The element hot paths read int values back through a per-thread array of the value's C
    type: every size and sign, both ends of the range, single and batched reads agree."""
    bits = ctypes.sizeof(ctype) * 8
    signed = ctype(-1).value == -1
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    with Map.create(map_type, key_type=ctypes.c_uint32, value_type=ctype, max_entries=3) as m:
        m[0], m[1], m[2] = lo, hi, 0
        assert [m[0], m[1], m[2]] == [lo, hi, 0]
        assert 1 in m and (map_type == MapType.ARRAY or 3 not in m)
        assert dict(m.items()) == {0: lo, 1: hi, 2: 0}
        with pytest.raises(OverflowError, match=f"value {hi + 1} does not fit"):
            m[1] = hi + 1
        assert m[1] == hi


def test_element_calls_keep_the_gil_for_plain_data_maps_only() -> None:
    """Lookups and updates of hash, array, LRU and LPM maps keep the GIL (ctypes.PyDLL: they
    never sleep); every other type's release it (a map-of-maps update waits for an RCU grace
    period, a sockmap's for socket locks)."""
    from libbpf_py._ffi import lib
    from libbpf_py.maps._common import GIL_HELD_TYPES, element_calls

    pyapi = ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]
    assert {MapType(t).name for t in GIL_HELD_TYPES} == {
        "HASH", "ARRAY", "PERCPU_HASH", "PERCPU_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH",
        "LPM_TRIE"}
    for t in MapType:
        lookup, update = element_calls(t)
        held = t in GIL_HELD_TYPES
        assert bool(lookup._flags_ & pyapi) == bool(update._flags_ & pyapi) == held, t
        if not held:
            assert (lookup, update) == (lib.bpf_map_lookup_elem, lib.bpf_map_update_elem)
    with u32_u64() as m:
        m[1] = 2
        assert m._lk._flags_ & pyapi and m._upd._flags_ & pyapi


@pytest.mark.parametrize("fill", [3, 60])
def test_items_snapshot_is_not_changed_by_later_writes(fill: int) -> None:
    """items() reads the whole map at its first ``next()`` and hands out ints as they are read
    from that snapshot (a copy of the used part for a sparse map, 3 of 64; a view of the batch
    buffer for a full one, 60 of 64): writes made meanwhile do not show."""
    with u32_u64(max_entries=64) as m:
        m.update({k: k * 5 for k in range(fill)})
        items, values = iter(m.items()), iter(m.values())
        first, first_value = next(items), next(values)
        m.clear()
        m.update({k: 1 for k in range(fill, 2 * fill if fill < 32 else 64)})
        assert dict([first, *items]) == {k: k * 5 for k in range(fill)}
        assert sorted([first_value, *values]) == [k * 5 for k in range(fill)]
        assert sorted(m.pop_all().items()) == [
            (k, 1) for k in range(fill, 2 * fill if fill < 32 else 64)]


def test_one_field_key_records_hash_like_a_one_tuple() -> None:
    """Key records (``_types.key_type``) hash as the tuple of their field values, one field
    included, so that a key and the tuple it equals are the same dict key."""
    from libbpf_py._types import key_type

    class One(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint32)]
        _names_ = ["a"]

    class Two(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint16)]
        _names_ = ["a", "b"]

    one = key_type(One).from_buffer_copy(bytes(One(7)))
    two = key_type(Two).from_buffer_copy(bytes(Two(7, 9)))
    assert hash(one) == hash((7,)) and hash(two) == hash((7, 9))


def test_user_ctypes_record_keys_and_values_decode_in_dumps() -> None:
    """A standalone map typed with ctypes records: dumps give the value record and a read-only,
    hashable key variant of the key record, equal by bytes to the record it was written as."""
    with Map.create(MapType.HASH, key_type=Pair, value_type=Pair, max_entries=8) as m:
        m[Pair(1, 2)] = Pair(3, 4)
        m[Pair(5, 6)] = Pair(7, 8)
        d = dict(m.items())
        assert {(k.a, k.b): (v.a, v.b) for k, v in d.items()} == {(1, 2): (3, 4), (5, 6): (7, 8)}
        key = next(k for k in m if k.a == 1)
        assert isinstance(key, Pair) and key == Pair(1, 2) and key != Pair(2, 1)
        assert d[key].b == 4 and hash(key) == hash(bytes(Pair(1, 2)))
        assert type(d[key]) is Pair and m[key].a == 3
        with pytest.raises(TypeError, match="read-only"):
            key.a = 9
        assert {(k.a, v.a) for k, v in m.pop_all().items()} == {(1, 3), (5, 7)}
