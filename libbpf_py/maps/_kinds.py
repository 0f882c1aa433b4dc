"""Map classes by map type: what a kernel map of each family can do, Pythonically.

Registered in ``_common.CLASSES`` on import: ``obj.maps[...]``, ``Map.create``,
``Map.from_pinned`` and ``Map.from_id`` pick the class from it, so users get e.g. a ``QueueMap``
without asking. Key/value kinds (``ProgArray``, ``LpmTrie`` ...) are ``Map`` subclasses; queues,
stacks, bloom filters, ring/perf buffers and struct_ops maps are not mappings (``MapBase``
only): subscripting them raises ``TypeError`` and the dict methods ``AttributeError``, naming the
map type and what to use instead.
"""

from __future__ import annotations

import ctypes
import errno
import struct

from .. import _args
from .._ffi import lib
from .._codecs import Codec, IntCodec
from ._base import MapBase
from ._common import _INT_FORMATS, CLASSES, KEY_VALUE, _type_name
from ._map import Map

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["QueueMap", "StackMap", "BloomFilter", "ProgArray", "MapOfMaps",
           "StackTraceMap", "LocalStorageMap", "CgroupStorageMap", "LpmTrie", "EventMap",
           "DevMap", "CpuMap", "StructOpsMap"]

_update = lib.bpf_map_update_elem
_lookup = lib.bpf_map_lookup_elem
_lookup_and_delete = lib.bpf_map_lookup_and_delete_elem


def _fd_of(obj: Any, what: str) -> int:
    """An fd from an int, an object with ``fd`` (Program, Map) or ``fileno()`` (files...)."""
    if isinstance(obj, int):
        return _args.fd(obj, what)
    fd = getattr(obj, "fd", None)
    if isinstance(fd, int):
        return fd
    fileno = getattr(obj, "fileno", None)
    if fileno is not None:
        return _args.fd(fileno(), what)
    raise TypeError(f"{what} must be an fd (int) or have .fd or .fileno(), not "
                    f"{type(obj).__name__}")


#: The dict methods of ``Map``: a map that is not a key/value map names what to use instead.
_MAPPING_METHODS = frozenset({"keys", "items", "values", "get", "pop", "popitem", "pop_all",
                              "clear", "update", "setdefault", "set", "to_numpy"})


class _NotKeyValue(MapBase):
    """Maps that are not key/value dicts (not a ``MutableMapping``): subscripting raises
    ``TypeError`` and the dict methods ``AttributeError``, both naming what to use instead."""

    __slots__ = ()
    _use = "its own methods"

    def _not_key_value(self) -> str:
        return (f"map '{self.name}' is a {_type_name(self._type)} map, not a key/value map: use "
                f"{self._use}")

    def __getitem__(self, key: Any) -> Any:
        raise TypeError(self._not_key_value())

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError(self._not_key_value())

    def __delitem__(self, key: Any) -> None:
        raise TypeError(self._not_key_value())

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: no cost to the attributes that exist.
        if name in _MAPPING_METHODS:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}': "
                                 f"{self._not_key_value()}", name=name, obj=self)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'",
                             name=name, obj=self)


class EventMap(_NotKeyValue):
    """Ring buffers and perf event arrays: streams, not dicts (use RingBuffer / PerfBuffer)."""

    __slots__ = ()

    def _not_key_value(self) -> str:
        use = "PerfBuffer" if self._type == 4 else (
            "UserRingBuffer" if self._type == 31 else "RingBuffer")
        return f"map '{self.name}' is a {_type_name(self._type)}: use {use}, not element access"


class StructOpsMap(_NotKeyValue):
    """A struct_ops map: the kernel struct it implements is registered by ``attach()``
    (``bpf_map__attach_struct_ops``), not by element access."""

    __slots__ = ()
    _use = "StructOpsMap.attach() (bpf_map__attach_struct_ops) to register it"

    def attach(self) -> Any:
        """Register the struct with the kernel (``bpf_map__attach_struct_ops``) and return the
        ``Link`` that unregisters it, owned by the map's object (detached by ``close()`` or
        when the object closes). After load; needs root. See ``link.attach_struct_ops``."""
        from ..link import attach_struct_ops

        return attach_struct_ops(self)


class QueueMap(_NotKeyValue):
    """``BPF_MAP_TYPE_QUEUE`` (FIFO): ``push(v)``, ``pop()``, ``peek()``; no keys."""

    __slots__ = ()
    _use = "push(), pop() and peek()"

    def push(self, value: Any, *, overwrite: bool = False) -> None:
        """Add a value (``bpf_map_update_elem`` with a NULL key). A full map raises
        ``BpfError(E2BIG)``, unless ``overwrite`` (``BPF_EXIST``) drops the oldest value."""
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        rc = _update(fd, None, self._encode_value(value), 2 if overwrite else 0)
        if rc:
            raise self._error(rc, "push", None)

    def _take(self, fn: Any, op: str) -> Any:
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        buf = ctypes.create_string_buffer(self._vsize)
        rc = fn(fd, None, buf)
        if rc == -errno.ENOENT:
            raise IndexError(f"{op} from an empty {_type_name(self._type)} map '{self.name}'")
        if rc:
            raise self._error(rc, op, None)
        return self._decode_value(buf)

    def pop(self) -> Any:
        """Remove and return the next value (``bpf_map_lookup_and_delete_elem``); IndexError
        when empty."""
        return self._take(_lookup_and_delete, "pop")

    def peek(self) -> Any:
        """The next value without removing it (``bpf_map_lookup_elem``); IndexError when
        empty."""
        return self._take(_lookup, "peek")

    def __bool__(self) -> bool:
        try:
            self.peek()
        except IndexError:
            return False
        return True

    def drain(self) -> Iterator[Any]:
        """Pop values until the map is empty."""
        while True:
            try:
                yield self.pop()
            except IndexError:
                return


class StackMap(QueueMap):
    """``BPF_MAP_TYPE_STACK`` (LIFO): ``push(v)``, ``pop()``, ``peek()``; no keys."""

    __slots__ = ()


class BloomFilter(_NotKeyValue):
    """``BPF_MAP_TYPE_BLOOM_FILTER``: ``add(v)`` and ``v in bf`` (false positives possible,
    false negatives not); elements can't be listed or removed."""

    __slots__ = ()
    _use = "add() and `in`"

    def add(self, value: Any) -> None:
        """Add a value (``bpf_map_update_elem`` with a NULL key)."""
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        rc = _update(fd, None, self._encode_value(value), 0)
        if rc:
            raise self._error(rc, "add", None)

    def __contains__(self, value: object) -> bool:
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        # LIFETIME: the kernel reads the value from this buffer during the call.
        buf = ctypes.create_string_buffer(self._encode_value(value), self._vsize)
        rc = _lookup(fd, None, buf)
        if rc == -errno.ENOENT:
            return False
        if rc:
            raise self._error(rc, "lookup", None)
        return True


class _FdValues(Map):
    """Maps whose values are written as fds and read back as kernel ids."""

    __slots__ = ()

    def _set_codecs(self, kc: Codec, vc: Codec, vs: int) -> None:
        if vs == 4 and type(vc) is not IntCodec:
            vc = IntCodec(4, False, "value")
        if kc.size == 4 and type(kc) is Codec:  # untyped u32 index: an int
            kc = IntCodec(4, False, "key")
        super()._set_codecs(kc, vc, vs)

    def _encode_value(self, value: Any) -> bytes:
        if not isinstance(value, (int, bytes, bytearray, memoryview)):
            value = _fd_of(value, "value")
        return super()._encode_value(value)

    __setitem__ = Map.set  # type: ignore[assignment]


class ProgArray(_FdValues):
    """``BPF_MAP_TYPE_PROG_ARRAY`` (tail calls): ``pa[i] = program`` (a Program or a program
    fd); reading gives the program's kernel id; ``del pa[i]`` empties the slot. Iteration
    lists the filled slots."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        return iter([k for k in range(self.max_entries) if k in self])

    def __len__(self) -> int:
        return sum(1 for k in range(self.max_entries) if k in self)


class MapOfMaps(_FdValues):
    """``ARRAY_OF_MAPS`` / ``HASH_OF_MAPS``: ``m[k] = inner_map`` (a Map or a map fd); reading
    gives a new ``Map`` (``Map.from_id`` of the inner map) that the caller owns and closes."""

    __slots__ = ()
    _plain = False

    def _decode_value(self, raw: Any) -> Any:
        map_id = struct.unpack_from("=I", raw)[0]
        return Map.from_id(map_id)

    def __iter__(self) -> Iterator[Any]:
        if self._type == 12:  # array of maps: the filled slots
            return iter([k for k in range(self.max_entries) if k in self])
        return super().__iter__()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def items(self, *, numpy: bool = False) -> Any:
        """(key, Map) pairs: each Map is new and owned by the caller."""
        if numpy:
            raise TypeError(f"map '{self.name}' holds maps: no numpy view")
        return [(k, self[k]) for k in self]

    def values(self, *, numpy: bool = False) -> Any:
        """The inner maps (each new and owned by the caller)."""
        return [v for _, v in self.items(numpy=numpy)]

    def to_numpy(self) -> tuple[Any, Any]:
        raise TypeError(f"map '{self.name}' holds maps: no numpy view")


class StackTraceMap(Map):
    """``BPF_MAP_TYPE_STACK_TRACE``: stack id -> tuple of instruction addresses (innermost
    first; the unused tail of the slot is cut off). Filled by ``bpf_get_stackid()``."""

    __slots__ = ()
    _plain = False

    def _decode_value(self, raw: Any) -> Any:
        n = self._vc.size // 8  # type: ignore[union-attr]
        addrs = struct.unpack_from(f"={n}Q", raw)
        try:
            return addrs[:addrs.index(0)]
        except ValueError:
            return addrs

    def _decode_key(self, raw: bytes) -> Any:
        return struct.unpack("=I", raw)[0]

    # bpf_get_stackid() returns a negative errno when it fails (-EFAULT: no stack, -EEXIST:
    # hash collision, -ENOMEM ...): tools look such ids up as they come. They are absent.

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int) and key < 0:
            name = errno.errorcode.get(-key, str(-key))
            raise KeyError(f"stack id {key} is an error of bpf_get_stackid ({name}), not a "
                           f"stack of map '{self.name}'")
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(key, int) and key < 0:
            return default
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, int) and key < 0:
            return False
        return super().__contains__(key)


class LocalStorageMap(Map):
    """Task, socket, inode and cgroup local storage: keyed by an fd (a pidfd, a socket, an
    open file, a cgroup directory), or anything with ``fileno()``. Storage can't be listed:
    iteration raises TypeError."""

    __slots__ = ()
    _KEYS = {24: "socket", 28: "open file (inode)", 29: "pidfd (os.pidfd_open)",
             32: "cgroup directory fd"}

    def _set_codecs(self, kc: Codec, vc: Codec, vs: int) -> None:
        super()._set_codecs(kc, vc, vs)
        pack = struct.Struct("=i").pack

        def kenc(key: Any) -> bytes:
            return pack(_fd_of(key, f"key of {_type_name(self._type)} map '{self.name}'"))

        self._kenc = kenc

    def _refuse_listing(self) -> Any:
        raise TypeError(f"map '{self.name}' is a {_type_name(self._type)} map: its storage is "
                        f"reached by key (a {self._KEYS.get(self._type, 'fd')}), not listed")

    def __iter__(self) -> Iterator[Any]:
        return self._refuse_listing()

    def __len__(self) -> int:
        return self._refuse_listing()

    def clear(self) -> None:
        self._refuse_listing()

    def items(self, *, numpy: bool = False) -> Any:
        return self._refuse_listing()

    def values(self, *, numpy: bool = False) -> Any:
        return self._refuse_listing()


class CgroupStorageMap(Map):
    """``CGROUP_STORAGE`` / ``PERCPU_CGROUP_STORAGE``: one value per (cgroup id, attach type)
    where a program using the map is attached. Keys are ``(cgroup_inode_id, attach_type)``
    tuples (``struct bpf_cgroup_storage_key``), or the cgroup id for 8-byte keys."""

    __slots__ = ()
    _plain = False
    _KEY16 = struct.Struct("=QI4x")

    def _set_codecs(self, kc: Codec, vc: Codec, vs: int) -> None:
        super()._set_codecs(kc, vc, vs)
        k16, ks, enc = self._KEY16, kc.size, kc.encode

        def kenc(key: Any) -> bytes:
            if ks == 16 and isinstance(key, tuple):
                if len(key) != 2:
                    raise TypeError(f"key of map '{self.name}' is (cgroup_inode_id, "
                                    f"attach_type), not a {len(key)}-tuple")
                return k16.pack(_args.u64(key[0], "cgroup_inode_id"),
                                _args.u32(key[1], "attach_type"))
            if ks == 8 and isinstance(key, int):
                return struct.pack("=Q", _args.u64(key, "cgroup_inode_id"))
            return enc(key)

        self._kenc = kenc
        if type(vc) is IntCodec and not self._ncpu:
            self._vunpack = struct.Struct("=" + _INT_FORMATS[vc.size, vc.signed]).unpack_from

    def _decode_key(self, raw: bytes) -> Any:
        if len(raw) == 16:
            return self._KEY16.unpack(raw)
        return struct.unpack("=Q", raw)[0]


class LpmTrie(Map):
    """``BPF_MAP_TYPE_LPM_TRIE``: keys are ``(prefixlen, data)`` (``struct bpf_lpm_trie_key``:
    a u32 prefix length then the data bytes) or ``ipaddress`` networks/addresses; lookups find
    the longest matching prefix. Keys read back as ``(prefixlen, bytes)``."""

    __slots__ = ()
    _plain = False

    def _set_codecs(self, kc: Codec, vc: Codec, vs: int) -> None:
        super()._set_codecs(kc, vc, vs)
        dlen = kc.size - 4
        enc = kc.encode
        name = self.name

        def kenc(key: Any) -> bytes:
            if isinstance(key, tuple) and len(key) == 2:
                plen, data = key
                data = bytes(data)
                if len(data) != dlen:
                    raise ValueError(f"LPM key data has size {len(data)} but map '{name}' "
                                     f"holds {dlen}-byte data")
                return struct.pack("=I", plen) + data
            packed = getattr(key, "packed", None)
            if packed is None and hasattr(key, "network_address"):
                packed = key.network_address.packed
                return kenc((key.prefixlen, packed))
            if packed is not None:
                return kenc((len(packed) * 8, packed))
            return enc(key)

        self._kenc = kenc
        if type(vc) is IntCodec and not self._ncpu:
            self._vunpack = struct.Struct("=" + _INT_FORMATS[vc.size, vc.signed]).unpack_from

    def _decode_key(self, raw: bytes) -> Any:
        return struct.unpack_from("=I", raw)[0], bytes(raw[4:])


class DevMap(Map):
    """``DEVMAP`` / ``DEVMAP_HASH``: values are ifindexes (4-byte values) or
    ``(ifindex, program)`` pairs (``struct bpf_devmap_val``; reads give the program id)."""

    __slots__ = ()
    _plain = False  # values may be (ifindex, prog id) pairs

    def _set_codecs(self, kc: Codec, vc: Codec, vs: int) -> None:
        if vs == 4 and type(vc) is not IntCodec:
            vc = IntCodec(4, False, "value")
        if kc.size == 4 and type(kc) is not IntCodec:
            kc = IntCodec(4, False, "key")
        super()._set_codecs(kc, vc, vs)

    def _encode_value(self, value: Any) -> bytes:
        if isinstance(value, tuple) and self._vc.size == 8:  # type: ignore[union-attr]
            first, prog = value
            return struct.pack("=Ii", first, -1 if prog is None else _fd_of(prog, "program"))
        return super()._encode_value(value)

    def _decode_value(self, raw: Any) -> Any:
        if self._vc.size == 8:  # type: ignore[union-attr]
            return struct.unpack_from("=II", raw)
        return super()._decode_value(raw)

    __setitem__ = Map.set  # type: ignore[assignment]


class CpuMap(DevMap):
    """``CPUMAP``: key = CPU number, value = queue size (4-byte values) or
    ``(qsize, program)`` (``struct bpf_cpumap_val``)."""

    __slots__ = ()


CLASSES.update({
    KEY_VALUE: Map, 3: ProgArray, 4: EventMap, 7: StackTraceMap, 11: LpmTrie, 12: MapOfMaps,
    13: MapOfMaps, 14: DevMap, 16: CpuMap, 19: CgroupStorageMap, 21: CgroupStorageMap,
    22: QueueMap, 23: StackMap, 24: LocalStorageMap, 25: DevMap, 26: StructOpsMap, 27: EventMap,
    28: LocalStorageMap, 29: LocalStorageMap, 30: BloomFilter, 31: EventMap, 32: LocalStorageMap,
})
