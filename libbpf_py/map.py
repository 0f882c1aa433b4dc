"""BPF maps: ``Map`` is a ``MutableMapping`` over a kernel map, typed from the object's BTF.

Element operations use libbpf's fd-based ``bpf_map_*_elem`` calls (``bpf.h``) directly: they are
the thinnest path to the ``bpf(2)`` syscall. Keys and values are converted by codecs
(``_types.py``): ints for BTF int/enum types, and raw ``bytes`` of the exact size everywhere
(also accepted on the way in for int types). Per-CPU maps read and write one value per possible
CPU, as a list.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Iterator, MutableMapping

from . import _ffi
from ._ffi import lib
from ._types import Codec, codec_for
from .errors import BpfError, ClosedError

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional

    from .enums import MapType, UpdateFlags
    from .object import _ObjectState

__all__ = ["Map"]

_lookup = lib.bpf_map_lookup_elem
_update = lib.bpf_map_update_elem
_delete = lib.bpf_map_delete_elem
_next_key = lib.bpf_map_get_next_key

# enum bpf_map_type numbers this module branches on, as plain ints so that importing the enums
# (slow to build) waits until someone asks for a MapType. tests/test_map.py checks them.
PERCPU_TYPES = frozenset({5, 6, 10, 21})  # PERCPU_HASH/ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE
ARRAY_TYPES = frozenset({2, 6, 3, 4, 8, 12})  # (PERCPU_)ARRAY, PROG/PERF_EVENT/CGROUP_ARRAY, ARRAY_OF_MAPS
RINGBUF, USER_RINGBUF = 27, 31
_NO_ELEMENTS = frozenset({RINGBUF, USER_RINGBUF})


class Map(MutableMapping):  # type: ignore[type-arg]
    """A BPF map of a loaded (or opened) object.

    Wraps ``struct bpf_map``. Before load only the definition can be read and changed
    (``max_entries``...); element access needs the object loaded (``bpf_map_*_elem``, root or
    CAP_BPF). The ``Object`` owns the map: the map keeps it alive, and raises ``ClosedError``
    once it is closed.
    """

    __slots__ = ("_state", "_ptr", "name", "_fd", "_kc", "_vc", "_vsize", "_ncpu", "_type")

    def __init__(self, state: _ObjectState, ptr: Any) -> None:
        # LIFETIME: ptr is owned by the bpf_object in state; valid until state.close().
        self._state = state
        self._ptr = ptr
        self.name: str = lib.bpf_map__name(ptr).decode()
        self._fd = -1
        self._kc: Optional[Codec] = None
        self._vc: Optional[Codec] = None
        self._type: int = lib.bpf_map__type(ptr)

    # --- definition (valid in both phases)

    def _handle(self) -> Any:
        if self._state.closed:
            raise ClosedError(f"map '{self.name}': its object is closed")
        return self._ptr

    @property
    def type(self) -> MapType:
        """The map type (``bpf_map__type``)."""
        from .enums import MapType

        return MapType(self._type)

    @property
    def key_size(self) -> int:
        """Key size in bytes (``bpf_map__key_size``)."""
        return lib.bpf_map__key_size(self._handle())

    @property
    def value_size(self) -> int:
        """Value size in bytes, per CPU for per-CPU maps (``bpf_map__value_size``)."""
        return lib.bpf_map__value_size(self._handle())

    @property
    def max_entries(self) -> int:
        """Capacity (``bpf_map__max_entries``); settable before load only."""
        return lib.bpf_map__max_entries(self._handle())

    @max_entries.setter
    def max_entries(self, n: int) -> None:
        self._state.require_open(f"set max_entries of map '{self.name}'")
        lib.bpf_map__set_max_entries(self._handle(), n)

    @property
    def flags(self) -> int:
        """``map_flags`` (``bpf_map__map_flags``)."""
        return lib.bpf_map__map_flags(self._handle())

    @property
    def fd(self) -> int:
        """The map's file descriptor (after load). Owned by the object: don't close it."""
        if self._fd < 0:
            self._state.require_loaded(f"map '{self.name}' has no fd")
            self._fd = _ffi.check(lib.bpf_map__fd(self._handle()), f"map '{self.name}' fd")
        elif self._state.closed:
            self._handle()
        return self._fd

    def __repr__(self) -> str:
        state = "closed" if self._state.closed else ("loaded" if self._state.loaded else "open")
        return f"<Map '{self.name}' {self.type.name} ({state})>"

    # --- codecs

    def _setup(self) -> int:
        fd = self.fd
        if self._type in _NO_ELEMENTS:
            raise TypeError(f"map '{self.name}' is a {self.type.name}: use RingBuffer, not "
                            "element access")
        ptr = self._ptr
        btf = lib.bpf_object__btf(self._state.ptr)
        ks, vs = lib.bpf_map__key_size(ptr), lib.bpf_map__value_size(ptr)
        self._kc = codec_for(btf, lib.bpf_map__btf_key_type_id(ptr), ks, "key")
        self._vc = codec_for(btf, lib.bpf_map__btf_value_type_id(ptr), vs, "value")
        self._ncpu = _ffi.lib.libbpf_num_possible_cpus() if self._type in PERCPU_TYPES else 0
        self._vsize = ((vs + 7) & ~7) * self._ncpu if self._ncpu else vs
        return fd

    def _encode_value(self, value: Any) -> bytes:
        vc = self._vc
        assert vc is not None
        if not self._ncpu:
            return vc.encode(value)
        values = list(value)
        if len(values) != self._ncpu:
            raise ValueError(f"map '{self.name}' is per-CPU: give {self._ncpu} values (one per "
                             f"possible CPU), not {len(values)}")
        stride = (vc.size + 7) & ~7
        pad = bytes(stride - vc.size)
        return b"".join(vc.encode(v) + pad for v in values)

    def _decode_value(self, raw: bytes) -> Any:
        vc = self._vc
        assert vc is not None
        if not self._ncpu:
            return vc.decode(raw)
        stride = (vc.size + 7) & ~7
        return [vc.decode(raw[i * stride: i * stride + vc.size]) for i in range(self._ncpu)]

    def _error(self, rc: int, op: str, key: Any) -> Exception:
        if rc == -errno.ENOENT:
            return KeyError(key)
        return BpfError(-rc, _ffi.strerror(-rc), f"{op} in map '{self.name}'")

    # --- element access

    def __getitem__(self, key: Any) -> Any:
        fd = self._fd if (self._fd >= 0 and not self._state.closed) else self._setup()
        k = self._kc.encode(key)  # type: ignore[union-attr]
        buf = ctypes.create_string_buffer(self._vsize)
        rc = _lookup(fd, k, buf)
        if rc:
            raise self._error(rc, "lookup", key)
        return self._decode_value(buf.raw)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value for ``key``, or ``default`` when the key is absent."""
        try:
            return self[key]
        except KeyError:
            return default

    def set(self, key: Any, value: Any, *, flags: UpdateFlags | int = 0) -> None:
        """Create or update an element with explicit flags (``bpf_map_update_elem``).

        ``UpdateFlags.NOEXIST`` fails with ``FileExistsError``-like ``BpfError(EEXIST)`` when the
        key exists; ``UpdateFlags.EXIST`` with ``KeyError`` when it does not.
        """
        fd = self._fd if (self._fd >= 0 and not self._state.closed) else self._setup()
        k = self._kc.encode(key)  # type: ignore[union-attr]
        rc = _update(fd, k, self._encode_value(value), int(flags))
        if rc:
            raise self._error(rc, "update", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: Any) -> None:
        fd = self._fd if (self._fd >= 0 and not self._state.closed) else self._setup()
        rc = _delete(fd, self._kc.encode(key))  # type: ignore[union-attr]
        if rc:
            raise self._error(rc, "delete", key)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def _raw_keys(self) -> Iterator[bytes]:
        fd = self._fd if (self._fd >= 0 and not self._state.closed) else self._setup()
        ks = self._kc.size  # type: ignore[union-attr]
        cur: Optional[ctypes.Array[ctypes.c_char]] = None
        nxt = ctypes.create_string_buffer(ks)
        while True:
            rc = _next_key(fd, cur, nxt)
            if rc == -errno.ENOENT:
                return
            if rc:
                raise self._error(rc, "iterate", None)
            yield nxt.raw
            cur, nxt = nxt, (cur if cur is not None else ctypes.create_string_buffer(ks))
            if self._state.closed:
                self._handle()

    def __iter__(self) -> Iterator[Any]:
        decode = None
        for raw in self._raw_keys():
            if decode is None:
                decode = self._kc.decode  # type: ignore[union-attr]
            yield decode(raw)

    def __len__(self) -> int:
        if self._type in ARRAY_TYPES:
            return self.max_entries
        return sum(1 for _ in self._raw_keys())

    def clear(self) -> None:
        """Delete every element (arrays can't delete: their elements always exist)."""
        if self._type in ARRAY_TYPES:
            raise TypeError(f"map '{self.name}' is a {self.type.name}: its elements can't be "
                            "deleted")
        for raw in list(self._raw_keys()):
            rc = _delete(self._fd, raw)
            if rc and rc != -errno.ENOENT:
                raise self._error(rc, "delete", raw)
