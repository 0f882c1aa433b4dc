"""BPF maps: ``Map`` is a ``MutableMapping`` over a kernel map, typed from the object's BTF.

Element operations use libbpf's fd-based ``bpf_map_*_elem`` calls (``bpf.h``) directly: they are
the thinnest path to the ``bpf(2)`` syscall. Keys and values are converted by codecs
(``_types.py``, or ctypes types the user gives to ``Map.create``); raw ``bytes`` of the exact size
are accepted everywhere. Per-CPU maps read and write one value per possible CPU, as a list.

``obj.maps["x"]`` (and ``Map.create``/``from_pinned``/``from_id``) return the class that fits the
map type: ``Map`` for key/value maps, ``QueueMap``/``StackMap`` (push/pop/peek), ``BloomFilter``
(add/in), ``ProgArray``, ``MapOfMaps``, ``StackTraceMap``, ``LocalStorageMap`` (keyed by fd),
``LpmTrie``, ``EventMap`` (ring/perf buffers: no elements) ... (``_kinds.py``). Whole-map
operations (``items()``, ``values()``, ``clear()``, bulk ``update()``, numpy) use the kernel's
batch calls where the map type has them (``_batch.py``); creation, pinning and ``info()`` are
in ``_admin.py``.
"""

from __future__ import annotations

import ctypes
import errno
from _thread import _local
from itertools import chain, repeat
# collections.abc's classes without importing the collections package (cold start).
from _collections_abc import ItemsView, MutableMapping, ValuesView

from .. import _ffi
from .._ffi import lib
from .. import _args
from .._args import text
from .._codecs import Codec, IntCodec, codec_for
from ..errors import BpfError, ClosedError, closed_instead

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    import mmap as mmap_module
    import os
    from collections.abc import Callable, Iterator
    from typing import Any, Optional

    from ..enums import MapType, UpdateFlags
    from ._admin import MapInfo

__all__ = ["Map"]

_lookup = lib.bpf_map_lookup_elem
_update = lib.bpf_map_update_elem
_delete = lib.bpf_map_delete_elem
_next_key = lib.bpf_map_get_next_key
_lookup_and_delete = lib.bpf_map_lookup_and_delete_elem

ENOTSUPP = 524  # the kernel's internal "operation not supported" (no userspace name)
UNSUPPORTED = frozenset({ENOTSUPP, errno.EOPNOTSUPP, errno.EINVAL})

# enum bpf_map_type numbers this module branches on, as plain ints so that importing the enums
# (slow to build) waits until someone asks for a MapType. tests/test_map.py checks them.
# PERCPU_HASH/ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE
PERCPU_TYPES = frozenset({5, 6, 10, 21})
# (PERCPU_)ARRAY, PROG/PERF_EVENT/CGROUP_ARRAY, ARRAY_OF_MAPS
ARRAY_TYPES = frozenset({2, 6, 3, 4, 8, 12})
# ARRAY, PROG/PERF_EVENT/CGROUP_ARRAY, PERCPU_ARRAY, STACK_TRACE, ARRAY_OF_MAPS, DEVMAP, CPUMAP
INDEX_KEY_TYPES = frozenset({2, 3, 4, 6, 7, 8, 12, 14, 16})
NO_DELETE_TYPES = frozenset({2, 6})  # ARRAY, PERCPU_ARRAY: elements always exist
_INT_FORMATS = {(1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q",
                (1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q"}


def _type_name(map_type: int) -> str:
    from ..enums import MapType

    try:
        return MapType(map_type).name
    except ValueError:
        return f"map type {map_type}"


class Map(MutableMapping):  # type: ignore[type-arg]
    """A BPF map: of a loaded (or opened) object, or standalone (``Map.create`` ...).

    Wraps ``struct bpf_map`` (object maps) or a map fd (standalone maps). Before load only the
    definition can be read and changed (``max_entries``, ``value_size``, ``flags``, ``pin_path``,
    ``inner_map``, ``initial_value``, ``reuse_fd`` ...); element access needs the object loaded
    (``bpf_map_*_elem``, root or CAP_BPF). The ``Object`` owns its maps: a map keeps it alive and
    raises ``ClosedError`` once it is closed. A standalone map owns its fd: ``close()`` or
    ``with``.
    """

    __slots__ = ("_state", "_ptr", "name", "_fd", "_efd", "_kc", "_vc", "_vsize", "_ncpu",
                 "_type", "_tls", "_kenc", "_vunpack", "_vdec", "_batch", "_gen", "_ks",
                 "_kpack", "_vpack", "_btf_ids",
                 "_key_type", "_value_type", "__weakref__")

    #: Keys and values are what the codecs give (False: a kind converts them itself, so the
    #: bulk int fast paths are off).
    _plain = True
    # Encoders the element paths call (set with the codecs; kinds may replace _kenc).
    _kenc: Callable[[Any], bytes]
    _kpack: Callable[..., bytes]
    _vpack: Callable[..., bytes]

    def __new__(cls, state: Any = None, ptr: Any = None) -> Map:
        if cls is Map and ptr is not None:
            from ._kinds import class_for

            cls = class_for(lib.bpf_map__type(ptr))
        return object.__new__(cls)

    def __init__(self, state: Any, ptr: Any) -> None:
        # LIFETIME: ptr is owned by the bpf_object in state; valid until state.close().
        self._state = state
        self._ptr = ptr
        self.name: str = text(lib.bpf_map__name(ptr))
        self._type: int = lib.bpf_map__type(ptr)
        # The BTF key/value type ids as the object declares them: libbpf zeroes them at load for
        # map types whose kernel side takes no BTF (queue, stack, sockmap, devmap ...), but the
        # declared types still say how to convert values. A Map made after load gets the ids
        # the object recorded before it (OpenObject.load).
        self._btf_ids = state.declared_btf_ids.get(self.name) or (
            lib.bpf_map__btf_key_type_id(ptr), lib.bpf_map__btf_value_type_id(ptr))
        self._init_common()

    def _init_common(self) -> None:
        self._fd = -1
        self._efd = -1  # the fd once the codecs are set up: the hot paths test only this
        self._kc: Optional[Codec] = None
        self._vc: Optional[Codec] = None
        self._tls = _local()  # per-thread value buffers: the GIL is released during syscalls
        self._batch: Optional[bool] = None  # does the kernel batch this map type? (cached)
        self._gen = 0  # bumped by Python-side writes: invalidates view snapshots
        self._key_type: Any = None
        self._value_type: Any = None

    # --- definition (valid in both phases)

    def _handle(self) -> Any:
        if self._state.ptr is None:
            raise ClosedError(f"map '{self.name}': {self._closed_what()} is closed")
        return self._ptr

    def _closed_what(self) -> str:
        return "its object" if self._ptr is not None else "the map"

    def _def(self, getter: Any, field: str) -> Any:
        """A definition field: from ``struct bpf_map`` or, standalone, from ``info()``."""
        ptr = self._handle()
        if ptr is not None:
            return getter(ptr)
        return getattr(self._state.info, field)

    @property
    def type(self) -> MapType:
        """The map type (``bpf_map__type``); settable before load (``bpf_map__set_type``: e.g.
        a RINGBUF map becomes a PERF_EVENT_ARRAY where ring buffers are missing; set
        ``key_size``/``value_size`` to what the new type needs). The Map's class follows the
        type (``QueueMap``, ``EventMap`` ...)."""
        from ..enums import MapType

        return MapType(self._type)

    @type.setter
    def type(self, map_type: MapType | int) -> None:
        t = int(map_type)
        lib.bpf_map__set_type(self._open_handle("type"), t)
        self._type = t
        from ._kinds import class_for

        # Every kind has the same layout (__slots__ = ()): the object keeps its identity.
        self.__class__ = class_for(t)

    @property
    def key_size(self) -> int:
        """Key size in bytes (``bpf_map__key_size``); settable before load
        (``bpf_map__set_key_size``)."""
        return self._def(lib.bpf_map__key_size, "key_size")

    @key_size.setter
    def key_size(self, n: int) -> None:
        lib.bpf_map__set_key_size(self._open_handle("key_size"), n)

    @property
    def autocreate(self) -> bool:
        """Whether ``load()`` creates the map (``bpf_map__autocreate``); settable before load
        (``bpf_map__set_autocreate``). A map that is not created has no fd; programs that use
        it must not be loaded, or must not reach the use (libbpf poisons it: a rodata knob
        the verifier sees as constant does)."""
        ptr = self._handle()
        return True if ptr is None else bool(lib.bpf_map__autocreate(ptr))

    @autocreate.setter
    def autocreate(self, value: bool) -> None:
        lib.bpf_map__set_autocreate(self._open_handle("autocreate"), bool(value))

    @property
    def value_size(self) -> int:
        """Value size in bytes, per CPU for per-CPU maps (``bpf_map__value_size``); settable
        before load (``bpf_map__set_value_size``)."""
        return self._def(lib.bpf_map__value_size, "value_size")

    @value_size.setter
    def value_size(self, n: int) -> None:
        lib.bpf_map__set_value_size(self._open_handle("value_size"), _args.u32(n, "value_size"))

    @property
    def max_entries(self) -> int:
        """Capacity (``bpf_map__max_entries``); settable before load only."""
        return self._def(lib.bpf_map__max_entries, "max_entries")

    @max_entries.setter
    def max_entries(self, n: int) -> None:
        lib.bpf_map__set_max_entries(self._open_handle("max_entries"),
                                     _args.u32(n, "max_entries"))

    @property
    def flags(self) -> int:
        """``map_flags`` (``bpf_map__map_flags``, see ``MapFlags``); settable before
        load (``bpf_map__set_map_flags``)."""
        return self._def(lib.bpf_map__map_flags, "map_flags")

    @flags.setter
    def flags(self, flags: int) -> None:
        lib.bpf_map__set_map_flags(self._open_handle("flags"), _args.u32(flags, "flags"))

    def _open_handle(self, what: str) -> Any:
        ptr = self._handle()
        if ptr is None:
            raise BpfError(errno.EBUSY, "a standalone map is created already",
                           f"set {what} of map '{self.name}'")
        self._state.require_open(f"set {what} of map '{self.name}'")
        return ptr

    @property
    def fd(self) -> int:
        """The map's file descriptor (after load). Owned by the object (or by this standalone
        Map): don't close it."""
        if self._fd < 0:
            with self._state.lock:  # no close() from another thread between check and read
                self._state.require_loaded(f"map '{self.name}' has no fd")
                ptr = self._handle()
                if not lib.bpf_map__autocreate(ptr):  # libbpf left a placeholder (a memfd)
                    raise BpfError(errno.ENOENT, "it was not created (autocreate was turned "
                                   "off before load)", f"map '{self.name}' has no fd")
                self._fd = _ffi.check(lib.bpf_map__fd(ptr), f"map '{self.name}' fd")
        elif self._state.ptr is None:
            self._handle()
        return self._fd

    def __repr__(self) -> str:
        if self._state.ptr is None:
            state = "closed"
        elif self._ptr is None:
            state = f"fd {self._fd}"
        else:
            state = "loaded" if self._state.loaded else "open"
        return f"<{type(self).__name__} '{self.name}' {_type_name(self._type)} ({state})>"

    # --- before load (object maps only): see _admin for the implementations

    @property
    def numa_node(self) -> int:
        """NUMA node of the map's memory (``bpf_map__numa_node``); settable before load
        (``bpf_map__set_numa_node``, also sets ``BPF_F_NUMA_NODE``)."""
        return lib.bpf_map__numa_node(self._handle()) if self._ptr is not None else 0

    @numa_node.setter
    def numa_node(self, node: int) -> None:
        lib.bpf_map__set_numa_node(self._open_handle("numa_node"), _args.u32(node, "numa_node"))

    @property
    def map_extra(self) -> int:
        """``map_extra`` (bloom filter: number of hash functions); settable before load."""
        return self._def(lib.bpf_map__map_extra, "map_extra")

    @map_extra.setter
    def map_extra(self, value: int) -> None:
        lib.bpf_map__set_map_extra(self._open_handle("map_extra"), _args.u64(value, "map_extra"))

    @property
    def pin_path(self) -> Optional[str]:
        """Where the map is (or will be, at load) pinned (``bpf_map__pin_path``); settable
        before load (``bpf_map__set_pin_path``): libbpf then reuses a map pinned there."""
        if self._ptr is None:
            self._handle()
            return self._state.pin_path
        p = lib.bpf_map__pin_path(self._handle())
        return text(p) if p else None

    @pin_path.setter
    def pin_path(self, path: Optional[str | os.PathLike[str]]) -> None:
        lib.bpf_map__set_pin_path(self._open_handle("pin_path"),
                                  None if path is None else _args.bpffs_path(path))

    @property
    def initial_value(self) -> bytes:
        """Initial contents of a global-data map (``bpf_map__initial_value``), or of a
        struct_ops map's struct (its data fields, e.g. a ``tcp_congestion_ops``' name);
        settable before load."""
        from ._admin import initial_value

        return initial_value(self)

    @initial_value.setter
    def initial_value(self, data: bytes) -> None:
        from ._admin import set_initial_value

        set_initial_value(self, data)

    def set_inner_map(self, inner: Map) -> None:
        """Use ``inner`` (a created map) as the template of a map-of-maps'
        values (``bpf_map__set_inner_map_fd``); before load only."""
        lib.bpf_map__set_inner_map_fd(self._open_handle("inner_map"), inner.fd)

    def reuse_fd(self, other: Map | int) -> None:
        """Make this object map use an existing map instead of creating one
        (``bpf_map__reuse_fd``; the definition must be compatible); before load only. libbpf
        dups the fd: the caller keeps owning ``other``."""
        fd = _args.bpf_fd(other, "map", "fd") if isinstance(other, int) else other.fd
        lib.bpf_map__reuse_fd(self._open_handle("reuse_fd"), fd)

    # --- kernel object management: see _admin

    @classmethod
    def create(cls, map_type: MapType | int, *, key_size: Optional[int] = None,
               value_size: Optional[int] = None, key_type: Any = None, value_type: Any = None,
               max_entries: int, flags: int = 0, name: Optional[str] = None,
               inner_map: Optional[Map] = None, map_extra: int = 0,
               numa_node: Optional[int] = None) -> Map:
        """Create a standalone map (``bpf_map_create``) and return it, owning its fd.

        ``key_type``/``value_type`` are ctypes types (``ctypes.c_uint32``, a Structure...) that
        type the keys and values; otherwise give ``key_size``/``value_size`` and use bytes.
        Sizes a map type fixes (queue/stack/bloom keys, prog/map/dev/cpu array values) default
        to them. ``inner_map`` is the template of a map-of-maps; ``map_extra`` is the bloom
        filter's number of hash functions. Needs root (CAP_BPF). ``close()`` or ``with``.
        """
        from ._admin import create

        return create(cls, map_type, key_size=key_size, value_size=value_size,
                      key_type=key_type, value_type=value_type, max_entries=max_entries,
                      flags=flags, name=name, inner_map=inner_map, map_extra=map_extra,
                      numa_node=numa_node)

    @classmethod
    def from_fd(cls, fd: int, *, key_type: Any = None, value_type: Any = None) -> Map:
        """Wrap a map fd; the Map takes ownership of ``fd`` (closes it on ``close()``)."""
        from ._admin import from_fd

        return from_fd(fd, key_type=key_type, value_type=value_type)

    @classmethod
    def from_pinned(cls, path: str | os.PathLike[str], *, key_type: Any = None,
                    value_type: Any = None) -> Map:
        """Open a map pinned in bpffs (``bpf_obj_get``); the returned Map owns the new fd."""
        from ._admin import from_pinned

        return from_pinned(path, key_type=key_type, value_type=value_type)

    @classmethod
    def from_id(cls, map_id: int, *, key_type: Any = None, value_type: Any = None) -> Map:
        """Open a map by kernel id (``bpf_map_get_fd_by_id``; root); the Map owns the new fd."""
        from ._admin import from_id

        return from_id(map_id, key_type=key_type, value_type=value_type)

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the map in bpffs (``bpf_map__pin`` / ``bpf_obj_pin``); after load."""
        from ._admin import pin

        pin(self, path)

    def unpin(self, path: Optional[str | os.PathLike[str]] = None) -> None:
        """Remove the pin made by ``pin()`` (or ``path``) (``bpf_map__unpin`` / unlink)."""
        from ._admin import unpin

        unpin(self, path)

    def info(self) -> MapInfo:
        """The kernel's view of the map (``bpf_obj_get_info_by_fd``): id, name, type, sizes,
        flags, BTF ids. After load; root."""
        from ._admin import map_info

        try:
            return map_info(self.fd, self.name)
        except BpfError as e:
            raise closed_instead(e, self._state, f"info of map '{self.name}'") from None

    def freeze(self) -> None:
        """Make the map read-only for user space (``bpf_map_freeze``); irreversible."""
        try:
            lib.bpf_map_freeze(self.fd)
        except BpfError as e:
            e.context = f"freeze map '{self.name}'"
            raise

    def mmap(self, *, writable: bool = True) -> mmap_module.mmap:
        """Map a ``BPF_F_MMAPABLE`` array's values into memory (``mmap(2)`` on the map fd).

        The returned ``mmap.mmap`` is a writable buffer (``memoryview(m)``, slicing,
        ``numpy.frombuffer``) of ``max_entries`` values, each ``value_size`` rounded up to 8
        bytes; the caller owns it (``close()``). Frozen maps need ``writable=False``. It is a
        lease of the map's owner: closing the object (or standalone map) closes it, after
        which using it raises ``ValueError``; a numpy array or memoryview made from it keeps
        the mapping (and the kernel map) alive until it is released.
        """
        from ._admin import map_mmap

        return map_mmap(self, writable)

    @property
    def closed(self) -> bool:
        """True once the owning object (or this standalone map) is closed."""
        return self._state.ptr is None

    def close(self) -> None:
        """Close a standalone map's fd (an object's maps close with the object). Idempotent."""
        if self._ptr is None:
            self._state.close()

    def __enter__(self) -> Map:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- codecs

    def _setup(self) -> int:
        """Set up the codecs on first element access; returns the fd for the hot paths. Under
        the owner's lock: a close() from another thread waits (the codecs read its BTF)."""
        with self._state.lock:
            return self._setup_codecs()

    def _setup_codecs(self) -> int:
        fd = self.fd
        if self._kc is None:
            self._check_elements()
            ptr = self._ptr
            if ptr is not None:
                btf = lib.bpf_object__btf(self._state.ptr)
                ks, vs = lib.bpf_map__key_size(ptr), lib.bpf_map__value_size(ptr)
                key_id = lib.bpf_map__btf_key_type_id(ptr) or self._btf_ids[0]
                value_id = lib.bpf_map__btf_value_type_id(ptr) or self._btf_ids[1]
                kc = codec_for(btf, key_id, ks, "key")
                vc = codec_for(btf, value_id, vs, "value")
            else:
                from ._admin import ctypes_codec

                info = self._state.info
                ks, vs = info.key_size, info.value_size
                btf = self._state.btf
                if self._key_type is None and btf:
                    kc = codec_for(btf, info.btf_key_type_id, ks, "key")
                else:
                    kc = ctypes_codec(self._key_type, ks, "key")
                if self._value_type is None and btf:
                    vc = codec_for(btf, info.btf_value_type_id, vs, "value")
                else:
                    vc = ctypes_codec(self._value_type, vs, "value")
            self._set_codecs(kc, vc, vs)
            self._fast_paths()
        self._efd = fd
        return fd

    def _fast_paths(self) -> None:
        """C-level packers for int keys/values (``struct.Struct.pack``): the hot paths try them
        first and fall back to the codec (which raises the precise error) when they fail."""
        import struct

        kc, vc = self._kc, self._vc
        assert kc is not None and vc is not None
        self._kpack = self._kenc
        if type(kc) is IntCodec and self._kenc == kc.encode:
            self._kpack = struct.Struct("=" + _INT_FORMATS[kc.size, kc.signed]).pack
        self._vpack = self._encode_value
        if (type(vc) is IntCodec and not self._ncpu
                and type(self)._encode_value is Map._encode_value):
            self._vpack = struct.Struct("=" + _INT_FORMATS[vc.size, vc.signed]).pack

    def _check_elements(self) -> None:
        """Refuse element access for map types without elements (overridden by kinds)."""

    def _set_codecs(self, kc: Codec, vc: Codec, vs: int) -> None:
        import struct

        if kc.size == 4 and type(kc) is Codec and self._type in INDEX_KEY_TYPES:
            kc = IntCodec(4, False, "key")  # untyped index (array slot, stack id, CPU): an int
        self._kc, self._vc, self._ks = kc, vc, kc.size
        self._ncpu = lib.libbpf_num_possible_cpus() if self._type in PERCPU_TYPES else 0
        self._vsize = ((vs + 7) & ~7) * self._ncpu if self._ncpu else max(vs, 1)
        self._kenc = kc.encode
        self._vdec = vc.decode
        self._vunpack = None
        if not self._ncpu and type(vc) is IntCodec and self._plain:
            self._vunpack = struct.Struct("=" + _INT_FORMATS[vc.size, vc.signed]).unpack_from

    def _vbuf(self) -> Any:
        buf = self._tls.v = ctypes.create_string_buffer(self._vsize)
        return buf

    def _encode_value(self, value: Any) -> bytes:
        vc = self._vc
        assert vc is not None
        if not self._ncpu:
            return vc.encode(value)
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == self._vsize:
            return bytes(value)
        try:
            values = list(value)
        except TypeError:
            raise TypeError(f"map '{self.name}' is per-CPU: give {self._ncpu} values (one per "
                            f"possible CPU) or {self._vsize} bytes, not "
                            f"{type(value).__name__}") from None
        if len(values) != self._ncpu:
            raise ValueError(f"map '{self.name}' is per-CPU: give {self._ncpu} values (one per "
                             f"possible CPU), not {len(values)}")
        stride = (vc.size + 7) & ~7
        pad = bytes(stride - vc.size)
        return b"".join(vc.encode(v) + pad for v in values)

    def _decode_value(self, raw: Any) -> Any:
        """One value from a buffer (bytes, or a ctypes buffer of at least value size)."""
        if self._vunpack is not None:
            return self._vunpack(raw)[0]
        vc = self._vc
        assert vc is not None
        if not self._ncpu:
            return self._vdec(bytes(raw[:vc.size]))
        stride = (vc.size + 7) & ~7
        raw = bytes(raw[:stride * self._ncpu])
        return [vc.decode(raw[i * stride: i * stride + vc.size]) for i in range(self._ncpu)]

    def _decode_key(self, raw: bytes) -> Any:
        """One key from its bytes (kinds with their own key shapes override this)."""
        return self._kc.decode(raw)  # type: ignore[union-attr]

    def _error(self, rc: int, op: str, key: Any) -> Exception:
        if rc == -errno.ENOENT:
            return KeyError(key)
        if -rc in (errno.EBADF, errno.EBADFD) and self._state.ptr is None:
            return ClosedError(f"{op} in map '{self.name}': {self._closed_what()} was closed "
                               "(by another thread) during the call")
        if -rc in (ENOTSUPP, errno.EOPNOTSUPP):
            return TypeError(f"map '{self.name}' ({_type_name(self._type)}) does not support "
                             f"{op} from user space")
        return BpfError(-rc, _ffi.strerror(-rc), f"{op} in map '{self.name}'")

    # --- element access (hot paths: keep them short)

    def __getitem__(self, key: Any) -> Any:
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        try:
            k = self._kpack(key)
        except Exception:  # the codec names the problem
            k = self._kenc(key)
        try:
            buf = self._tls.v
        except AttributeError:
            buf = self._vbuf()
        rc = _lookup(fd, k, buf)
        if rc:
            raise self._error(rc, "lookup", key)
        unpack = self._vunpack
        if unpack is not None:
            return unpack(buf)[0]
        return self._decode_value(buf)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value for ``key``, or ``default`` when the key is absent."""
        try:
            return self[key]
        except KeyError:
            return default

    def set(self, key: Any, value: Any, *, flags: UpdateFlags | int = 0) -> None:
        """Create or update an element with explicit flags (``bpf_map_update_elem``).

        ``UpdateFlags.NOEXIST`` fails with ``BpfError(EEXIST)`` when the key exists;
        ``UpdateFlags.EXIST`` with ``KeyError`` when it does not; ``UpdateFlags.LOCK`` updates
        a value holding a ``struct bpf_spin_lock`` under that lock.
        """
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        if flags:
            flags = _args.u64(flags, "flags")
        self._gen += 1
        try:
            k = self._kpack(key)
        except Exception:  # the codec names the problem
            k = self._kenc(key)
        rc = _update(fd, k, self._encode_value(value), flags)
        if rc:
            raise self._error(rc, "update", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        self._gen += 1
        try:
            k = self._kpack(key)
        except Exception:  # the codec names the problem
            k = self._kenc(key)
        try:
            v = self._vpack(value)
        except Exception:
            v = self._encode_value(value)
        rc = _update(fd, k, v, 0)
        if rc:
            raise self._error(rc, "update", key)

    def __delitem__(self, key: Any) -> None:
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        self._gen += 1
        rc = _delete(fd, self._kenc(key))
        if rc:
            if -rc == errno.EINVAL and self._type in NO_DELETE_TYPES:
                raise TypeError(f"map '{self.name}' is a {_type_name(self._type)}: its "
                                "elements can't be deleted")
            raise self._error(rc, "delete", key)

    def __contains__(self, key: object) -> bool:
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        k = self._kenc(key)
        try:
            buf = self._tls.v
        except AttributeError:
            buf = self._vbuf()
        rc = _lookup(fd, k, buf)
        if rc == -errno.ENOENT:
            return False
        if rc:
            raise self._error(rc, "lookup", key)
        return True

    _MISSING = object()

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value, like ``dict.pop``.

        One ``bpf_map_lookup_and_delete_elem`` where the kernel has it (hash and LRU maps since
        Linux 5.14), else a lookup then a delete.
        """
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        self._gen += 1
        k = self._kenc(key)
        buf = ctypes.create_string_buffer(self._vsize)
        rc = _lookup_and_delete(fd, k, buf)
        if rc == 0:
            return self._decode_value(buf)
        if rc == -errno.ENOENT:
            if default is self._MISSING:
                raise KeyError(key)
            return default
        if -rc not in UNSUPPORTED:
            raise self._error(rc, "lookup and delete", key)
        try:
            value = self[key]
        except KeyError:
            if default is self._MISSING:
                raise
            return default
        del self[key]
        return value

    # --- iteration and whole-map operations (batched: _batch)

    def _raw_keys(self) -> Iterator[bytes]:
        """Keys as bytes, one ``bpf_map_get_next_key`` per key (lazy)."""
        fd = self._efd
        if fd < 0 or self._state.ptr is None:
            fd = self._setup()
        ks = self._ks
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
            if self._state.ptr is None:
                self._handle()

    def __iter__(self) -> Iterator[Any]:
        from ._batch import snapshot

        return iter(snapshot(self, values=False)[0])

    def __len__(self) -> int:
        if self._type in ARRAY_TYPES:
            return self.max_entries
        from ._batch import snapshot

        return len(snapshot(self, values=False)[0])

    def keys(self, *, numpy: bool = False) -> Any:
        """A view of the keys; ``numpy=True``: a numpy array of them, read in batches."""
        if numpy:
            return self.to_numpy()[0]
        return super().keys()

    def items(self, *, numpy: bool = False) -> Any:
        """A view of (key, value) pairs read with batch lookups where the kernel has them;
        ``numpy=True``: ``(keys, values)`` numpy arrays (see ``to_numpy``)."""
        if numpy:
            return self.to_numpy()
        return _ItemsView(self)

    def values(self, *, numpy: bool = False) -> Any:
        """A view of the values (batched like ``items()``); ``numpy=True``: a numpy array."""
        if numpy:
            return self.to_numpy()[1]
        return _ValuesView(self)

    def to_numpy(self) -> tuple[Any, Any]:
        """All keys and values as two numpy arrays, read with batch lookups.

        Int keys/values become numpy ints, other types ``V<size>`` (raw bytes) or the dtype
        ``_types.numpy_dtype`` gives; per-CPU values have shape ``(n, ncpu)``. numpy is
        imported here only.
        """
        from ._batch import to_numpy

        return to_numpy(self)

    def clear(self) -> None:
        """Delete every element (``bpf_map_delete_batch`` where the kernel has it).

        Arrays can't delete: their elements always exist (TypeError).
        """
        if self._type in NO_DELETE_TYPES:
            raise TypeError(f"map '{self.name}' is a {_type_name(self._type)}: its elements "
                            "can't be deleted")
        from ._batch import clear

        self._gen += 1
        clear(self)

    def popitem(self) -> tuple[Any, Any]:
        """Remove and return some (key, value) pair (the first ``bpf_map_get_next_key`` gives);
        KeyError when empty."""
        for raw in self._raw_keys():
            try:
                return self._decode_key(raw), self.pop(raw)
            except KeyError:
                continue  # deleted meanwhile
        raise KeyError(f"popitem(): map '{self.name}' is empty")

    def pop_all(self) -> dict[Any, Any]:
        """Remove every element and return them as a dict: ``bpf_map_lookup_and_delete_batch``
        where the kernel has it (hash and LRU maps: each element is read and deleted
        atomically, none is lost to a concurrent BPF update), else ``pop`` per key."""
        from ._batch import pop_all

        self._gen += 1
        return pop_all(self)

    def update(self, other: Any = (), /, **kwds: Any) -> None:
        """Like ``dict.update``; many elements go in one ``bpf_map_update_batch`` call where the
        kernel has it (an error names the first key that failed)."""
        from ._batch import update

        self._gen += 1
        update(self, other, kwds)


class _ItemsView(ItemsView):  # type: ignore[type-arg]
    """``Map.items()``: iterating reads the whole map in batches (a snapshot)."""

    __slots__ = ("_snap",)
    _mapping: Map

    def __init__(self, mapping: Map) -> None:
        super().__init__(mapping)
        self._snap: Any = None

    def _take(self) -> tuple[list[Any], list[Any]]:
        from ._batch import snapshot

        m = self._mapping
        snap, self._snap = self._snap, None
        if snap is not None and snap[0] == m._gen:
            return snap[1]
        return snapshot(m, values=True)

    def __len__(self) -> int:
        # list(view) asks len() first: keep that snapshot for the iteration that follows
        # (dropped if this Map object writes to the map in between).
        data = self._take()
        self._snap = (self._mapping._gen, data)
        return len(data[0])

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        # Lazy: list(view) calls iter() before len(), and both must share one snapshot. chain()
        # calls _take on the first next() and then hands out zip's pairs at C speed.
        return chain.from_iterable(map(_zip_all, repeat(self, 1)))

    def __contains__(self, item: object) -> bool:
        if not (isinstance(item, tuple) and len(item) == 2):
            return False  # as dict.items(): only (key, value) pairs can be in it
        key, value = item
        try:
            return self._mapping[key] == value
        except KeyError:
            return False


class _ValuesView(ValuesView):  # type: ignore[type-arg]
    """``Map.values()``: iterating reads the whole map in batches (a snapshot)."""

    __slots__ = ("_snap",)

    def __init__(self, mapping: Map) -> None:
        super().__init__(mapping)
        self._snap: Any = None

    __len__ = _ItemsView.__len__
    _take = _ItemsView._take

    def __iter__(self) -> Iterator[Any]:
        return chain.from_iterable(map(_values_of, repeat(self, 1)))


def _zip_all(view: Any) -> Iterator[tuple[Any, Any]]:
    keys, values = view._take()
    return zip(keys, values)


def _values_of(view: Any) -> Any:
    return view._take()[1]
