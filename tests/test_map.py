"""Map element access against the kernel: MutableMapping semantics, ints from BTF, raw bytes."""

from __future__ import annotations

import errno
import struct

import pytest

import libbpf_py
from libbpf_py import BpfError, ClosedError, UpdateFlags

pytestmark = pytest.mark.root


@pytest.fixture
def obj(bpf_path):
    with libbpf_py.load(bpf_path("maps")) as o:
        yield o


def test_int_keys_and_values_roundtrip(obj) -> None:
    m = obj.maps["signed_vals"]
    m[1] = -5
    m[2] = 2**63 - 1
    assert m[1] == -5
    assert m[2] == 2**63 - 1
    assert sorted(m.keys()) == [1, 2]
    assert dict(m.items()) == {1: -5, 2: 2**63 - 1}
    assert (1, -5) in m.items() and (1, 5) not in m.items() and (3, 0) not in m.items()
    assert 1 not in m.items() and (1, -5, 0) not in m.items()  # not pairs: False, as dict's
    assert len(m) == 2
    assert 1 in m and 3 not in m
    assert m.get(3) is None and m.get(3, 7) == 7


def test_missing_key_is_keyerror(obj) -> None:
    m = obj.maps["signed_vals"]
    with pytest.raises(KeyError) as e:
        m[42]
    assert e.value.args == (42,)
    with pytest.raises(KeyError):
        del m[42]


def test_delete_pop_clear_update(obj) -> None:
    m = obj.maps["signed_vals"]
    m.update({1: 10, 2: 20, 3: 30})
    del m[2]
    assert dict(m) == {1: 10, 3: 30}
    assert m.pop(1) == 10
    assert m.pop(1, "gone") == "gone"
    assert m.popitem() == (3, 30)
    assert m.setdefault(4, 40) == 40 and m.setdefault(4, 0) == 40
    m.clear()
    assert len(m) == 0 and list(m) == []
    with pytest.raises(KeyError, match="empty"):
        m.popitem()
    m.update([(5, 50)], **{})
    assert m == {5: 50} and m != {5: 51}


def test_flags(obj) -> None:
    m = obj.maps["signed_vals"]
    m.set(1, 1, flags=UpdateFlags.NOEXIST)
    with pytest.raises(BpfError) as e:
        m.set(1, 2, flags=UpdateFlags.NOEXIST)
    assert e.value.errno == errno.EEXIST
    assert "update in map 'signed_vals'" in str(e.value)
    with pytest.raises(KeyError):
        m.set(9, 2, flags=UpdateFlags.EXIST)
    m.set(1, 3, flags=UpdateFlags.EXIST)
    assert m[1] == 3


def test_bytes_accepted_for_int_types(obj) -> None:
    m = obj.maps["signed_vals"]
    m[struct.pack("=I", 7)] = struct.pack("=q", -1)
    assert m[7] == -1


def test_struct_key_accepts_raw_bytes(obj) -> None:
    m = obj.maps["struct_keys"]
    key = struct.pack("=II", 1, 2)
    m[key] = 99
    assert m[key] == 99
    assert [bytes(k) for k in m] == [key]  # typed or not, the key's bytes come back


def test_struct_keys_are_hashable_and_equal_by_value(obj) -> None:
    """Issue 11, friction 2: decoded struct keys work as dict keys, in sets, with ``in``."""
    m = obj.maps["struct_keys"]
    m.update({(1, 2): 10, (3, 4): 30, (5, 6): 50})
    d = dict(m.items())  # TypeError (unhashable ctypes structure) before
    assert d == {(1, 2): 10, (3, 4): 30, (5, 6): 50}  # equal to tuples, and hash alike
    assert len(set(m.keys())) == 3 and (3, 4) in set(m.keys())
    key = next(k for k in m if k.a == 3)
    assert key in d and d[key] == 30 and key in m and m[key] == 30  # round trip as a key
    assert key == {"a": 3, "b": 4} and key == (3, 4) and key != (4, 3)
    pair = type(key).__mro__[2]  # the record class the key variant derives from
    assert isinstance(key, pair) and key == pair(3, 4) and hash(key) == hash((3, 4))
    with pytest.raises(TypeError, match=r"struct pair: a key read from a map is read-only"):
        key.a = 7
    assert key.a == 3


def test_pop_all_with_struct_keys_returns_every_element(obj) -> None:
    """Issue 11, bug 1: pop_all() deleted every element, then raised TypeError: data gone."""
    m = obj.maps["struct_keys"]
    m.update({(i, i + 1): i for i in range(10)})
    got = m.pop_all()
    assert got == {(i, i + 1): i for i in range(10)}
    assert len(m) == 0
    m[(1, 2)] = 1
    assert m.popitem() == ((1, 2), 1)


def test_int128_keys_and_values_are_lossless_ints(obj) -> None:
    """Issue 11, bug 2: ``unsigned __int128`` read as ``c_char * 16`` stopped at a zero byte."""
    import ipaddress
    import sys

    m = obj.maps["ip_keys"]
    addr = ipaddress.IPv6Address("2001:db8::1")  # zero bytes in the middle
    saddr = int.from_bytes(addr.packed, sys.byteorder)  # the address's memory, as the C int
    key = {"saddr": saddr, "daddr": 2**128 - 1, "pid": 7, "ports": [80, 443],
           "inner": (1, 2), "comm": b"curl"}
    m[key] = -(2**127)
    (k, v), = m.items()
    assert v == -(2**127) and isinstance(v, int)
    assert (k.saddr, k.daddr, k.pid, k.ports, k.inner, k.comm) == (
        saddr, 2**128 - 1, 7, (80, 443), (1, 2), b"curl")
    assert ipaddress.IPv6Address(k.saddr.to_bytes(16, sys.byteorder)) == addr
    assert m[k] == -(2**127) and {k: 1}[k] == 1
    m[k] = 2**127 - 1
    assert m[key] == 2**127 - 1
    with pytest.raises(OverflowError, match=r"does not fit a unsigned 128-bit integer"):
        m[dict(key, saddr=2**128)] = 0
    with pytest.raises(OverflowError, match=r"does not fit a signed 128-bit integer"):
        m[key] = 2**127
    assert m.pop_all() == {k: 2**127 - 1}


def test_wrong_sizes_name_both_sizes(obj) -> None:
    m = obj.maps["struct_keys"]
    with pytest.raises(ValueError, match="key has size 3 but the map's key size is 8"):
        m[b"abc"] = 1
    with pytest.raises(ValueError, match="value has size 2 but the map's value size is 8"):
        m[bytes(8)] = b"ab"
    with pytest.raises(TypeError, match="key.*str"):
        m["x"]


def test_int_overflow_rejected_before_syscall(obj) -> None:
    arr = obj.maps["small_array"]
    with pytest.raises(OverflowError, match="value 70000 does not fit a unsigned 16-bit integer"):
        arr[0] = 70000
    with pytest.raises(OverflowError, match="key -1 does not fit a unsigned 32-bit integer"):
        arr[-1] = 1


def test_array_semantics(obj) -> None:
    arr = obj.maps["small_array"]
    assert len(arr) == 4
    assert dict(arr) == {0: 0, 1: 0, 2: 0, 3: 0}
    arr[3] = 65535
    assert arr[3] == 65535
    with pytest.raises(KeyError):
        arr[4]  # out of range: ENOENT from the kernel
    with pytest.raises(TypeError, match="can't be deleted"):
        arr.clear()


def test_percpu_values_one_per_cpu(obj) -> None:
    m = obj.maps["percpu"]
    ncpu = libbpf_py._ffi.lib.libbpf_num_possible_cpus()
    assert m[0] == [0] * ncpu
    m[1] = list(range(10, 10 + ncpu))
    assert m[1] == list(range(10, 10 + ncpu))
    with pytest.raises(ValueError, match=f"give {ncpu} values"):
        m[1] = [1]


def test_bpf_program_sees_python_writes(obj) -> None:
    import os

    m = obj.maps["signed_vals"]
    m[0] = 100
    m[1] = os.getpid()
    with obj.programs["touch"].attach():
        for _ in range(3):
            os.getppid()
    os.getppid()  # detached: not counted
    assert m[0] == 97


def test_ringbuf_map_has_no_elements(bpf_path) -> None:
    with libbpf_py.load(bpf_path("getppid")) as o:
        with pytest.raises(TypeError, match="use RingBuffer"):
            o.maps["events"][0]


def test_use_after_close(bpf_path) -> None:
    o = libbpf_py.load(bpf_path("maps"))
    m = o.maps["signed_vals"]
    m[1] = 1
    o.close()
    with pytest.raises(ClosedError, match="closed"):
        m[1]
    with pytest.raises(ClosedError, match="closed"):
        m[1] = 2
    with pytest.raises(ClosedError, match="closed"):
        list(m)


def test_before_load_no_elements(bpf_path) -> None:
    with libbpf_py.Object.open(bpf_path("maps")) as o:
        with pytest.raises(BpfError, match="not loaded yet"):
            o.maps["signed_vals"][1]
