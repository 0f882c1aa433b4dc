"""``MapBase``: what every BPF map is, whatever its kind: a definition, an fd, a pin, codecs.

Wraps ``struct bpf_map`` (object maps) or a map fd (standalone maps, owned by ``_admin._FdState``).
The definition (type, sizes, flags, pin path ...) is readable in both phases and settable before
load; ``create``/``from_fd``/``from_pinned``/``from_id`` make standalone maps, of the class their
type asks for (``_common.class_for``). The codecs (from the object's BTF, or the ctypes types a
standalone map is given) convert keys and values; the kinds' element operations (``Map``'s dict
methods in ``_map``, ``QueueMap.push`` ... in ``_kinds``) use them. Creation, pinning, ``info()``
and mmap are in ``_admin``.
"""

from __future__ import annotations

import ctypes
import errno
from _thread import _local

from .. import _ffi
from .._ffi import lib, text
from .. import _args
from .._codecs import Codec, IntCodec, codec_for
from ..errors import BpfError, ClosedError, closed_instead
from ._common import (_INT_FORMATS, ENOTSUPP, INDEX_KEY_TYPES, PERCPU_TYPES, _type_name,
                      class_for, element_calls)

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator
    from typing import Any, Optional, TypeVar

    from ..enums import MapType
    from ._admin import MapInfo

    _M = TypeVar("_M", bound="MapBase")

__all__ = ["MapBase"]

_INT_CTYPES = {(1, True): ctypes.c_int8, (2, True): ctypes.c_int16, (4, True): ctypes.c_int32,
               (8, True): ctypes.c_int64, (1, False): ctypes.c_uint8, (2, False): ctypes.c_uint16,
               (4, False): ctypes.c_uint32, (8, False): ctypes.c_uint64}


class MapBase:
    """A BPF map of any kind: of a loaded (or opened) object, or standalone (``Map.create`` ...).

    Wraps ``struct bpf_map`` (object maps) or a map fd (standalone maps). Before load only the
    definition can be read and changed (``max_entries``, ``value_size``, ``flags``, ``pin_path``,
    ``inner_map``, ``initial_value``, ``reuse_fd`` ...); element access needs the object loaded
    (``bpf_map_*_elem``, root or CAP_BPF). The ``Object`` owns its maps: a map keeps it alive and
    raises ``ClosedError`` once it is closed. A standalone map owns its fd: ``close()`` or
    ``with``. Key/value maps are ``Map`` (a ``MutableMapping``); queues, stacks, bloom filters,
    ring/perf buffers and struct_ops maps are ``MapBase`` kinds with their own methods.
    """

    # Every kind has this layout (their __slots__ = ()): a map keeps its identity when its type
    # changes before load (the ``type`` setter moves it to the class of the new type).
    __slots__ = ("_state", "_ptr", "name", "_fd", "_efd", "_kc", "_vc", "_vsize", "_ncpu",
                 "_type", "_tls", "_kenc", "_vunpack", "_vdec", "_batch", "_gen", "_ks",
                 "_kpack", "_vpack", "_btf_ids", "_lk", "_upd",
                 "_key_type", "_value_type", "__weakref__")

    #: Keys and values are what the codecs give (False: a kind converts them itself, so the
    #: bulk int fast paths are off).
    _plain = True
    # Encoders the element paths call (set with the codecs; kinds may replace _kenc).
    _kenc: Callable[[Any], bytes]
    _kpack: Callable[..., bytes]
    _vpack: Callable[..., bytes]
    # bpf_map_lookup_elem / bpf_map_update_elem for this map type (_common.element_calls).
    _lk: Callable[..., int]
    _upd: Callable[..., int]

    def __init__(self, state: Any, ptr: Any, *, key_type: Any = None,
                 value_type: Any = None) -> None:
        """``state``: the owner, an object's ``_ObjectState`` (``ptr``: its ``struct bpf_map``)
        or a standalone map's ``_FdState`` (``ptr`` None; ``key_type``/``value_type``: ctypes
        types for the codecs). Made by ``_common.wrap``, which picks the class."""
        # LIFETIME: ptr is owned by the bpf_object in state; valid until state.close().
        self._state = state
        self._ptr = ptr
        self._fd = -1
        self._efd = -1  # the fd once the codecs are set up: the hot paths test only this
        self._kc: Optional[Codec] = None
        self._vc: Optional[Codec] = None
        self._tls = _local()  # per-thread value buffers: the GIL is released during syscalls
        self._batch: Optional[bool] = None  # does the kernel batch this map type? (cached)
        self._gen = 0  # bumped by Python-side writes: invalidates view snapshots
        self._key_type: Any = key_type
        self._value_type: Any = value_type
        if ptr is None:  # standalone: the definition is the kernel's (bpf_map_info)
            info = state.info
            self.name: str = info.name
            self._type: int = int(info.type)
            self._btf_ids = (info.btf_key_type_id, info.btf_value_type_id)
            self._fd = state.fd
            if key_type is not None or value_type is not None:
                self._setup()  # size mismatches show up now
            return
        self.name = text(lib.bpf_map__name(ptr))
        self._type = lib.bpf_map__type(ptr)
        # The BTF key/value type ids as the object declares them: libbpf zeroes them at load for
        # map types whose kernel side takes no BTF (queue, stack, sockmap, devmap ...), but the
        # declared types still say how to convert values. A Map made after load gets the ids
        # the object recorded before it (OpenObject.load).
        self._btf_ids = state.declared_btf_ids.get(self.name) or (
            lib.bpf_map__btf_key_type_id(ptr), lib.bpf_map__btf_value_type_id(ptr))

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
        # Every kind has MapBase's layout: the object keeps its identity.
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

    def set_inner_map(self, inner: MapBase) -> None:
        """Use ``inner`` (a created map) as the template of a map-of-maps'
        values (``bpf_map__set_inner_map_fd``); before load only."""
        lib.bpf_map__set_inner_map_fd(self._open_handle("inner_map"), inner.fd)

    def reuse_fd(self, other: MapBase | int) -> None:
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
               inner_map: Optional[MapBase] = None, map_extra: int = 0,
               numa_node: Optional[int] = None) -> Any:
        """Create a standalone map (``bpf_map_create``) and return it, owning its fd.

        ``key_type``/``value_type`` are ctypes types (``ctypes.c_uint32``, a Structure...) that
        type the keys and values; otherwise give ``key_size``/``value_size`` and use bytes.
        Sizes a map type fixes (queue/stack/bloom keys, prog/map/dev/cpu array values) default
        to them. ``inner_map`` is the template of a map-of-maps; ``map_extra`` is the bloom
        filter's number of hash functions. Needs root (CAP_BPF). ``close()`` or ``with``.
        Returns the class the type asks for, whichever class it is called on: ``Map`` for
        key/value maps, ``QueueMap``, ``BloomFilter`` ... (``_common.class_for``); so do the
        ``from_*`` constructors.
        """
        from ._admin import create

        return create(cls, map_type, key_size=key_size, value_size=value_size,
                      key_type=key_type, value_type=value_type, max_entries=max_entries,
                      flags=flags, name=name, inner_map=inner_map, map_extra=map_extra,
                      numa_node=numa_node)

    @classmethod
    def from_fd(cls, fd: int, *, key_type: Any = None, value_type: Any = None) -> Any:
        """Wrap a map fd; the Map takes ownership of ``fd`` (closes it on ``close()``)."""
        from ._admin import from_fd

        return from_fd(fd, key_type=key_type, value_type=value_type)

    @classmethod
    def from_pinned(cls, path: str | os.PathLike[str], *, key_type: Any = None,
                    value_type: Any = None) -> Any:
        """Open a map pinned in bpffs (``bpf_obj_get``); the returned Map owns the new fd."""
        from ._admin import from_pinned

        return from_pinned(path, key_type=key_type, value_type=value_type)

    @classmethod
    def from_id(cls, map_id: int, *, key_type: Any = None, value_type: Any = None) -> Any:
        """Open a map by kernel id (``bpf_map_get_fd_by_id``; root); the Map owns the new fd.

        Keys and values are decoded through the map's BTF when it has one, else bytes;
        ``key_type``/``value_type`` override it (a ctypes type, or ``bytes``: raw, no decoding;
        an array's index keys stay ints). The same holds for ``from_fd`` and ``from_pinned``."""
        from ._admin import from_id

        return from_id(map_id, key_type=key_type, value_type=value_type)

    @staticmethod
    def ids() -> Iterator[int]:
        """Ids of every map in the kernel (``bpf_map_get_next_id``), for ``Map.from_id``;
        needs root."""
        from .._ids import kernel_ids

        return kernel_ids("map")

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

    def mmap(self, *, writable: bool = True) -> memoryview:
        """Map a ``BPF_F_MMAPABLE`` array's values into memory (``mmap(2)`` on the map fd).

        Returns a byte ``memoryview`` (format ``"B"``; ``.cast("Q")``, slicing,
        ``numpy.frombuffer``, ctypes ``from_buffer``) of ``max_entries`` values, each
        ``value_size`` rounded up to 8 bytes: the same memory the kernel sees. Read-only with
        ``writable=False`` (frozen maps need it). Valid while the map's owner (its object, or
        this standalone map) is open: it is a lease (``_lease.Lease``), so closing the owner
        releases it and using it then raises ``ValueError``; what was derived from it before
        (a slice, a numpy array, a ctypes instance) keeps the mapping alive until dropped.
        ``release()`` it (or ``with m.mmap() as view:``) to unmap early; the mapping goes with
        the last view. Phase: loaded (or created). Privileges: those of the map's fd.
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

    def __enter__(self: _M) -> _M:
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
                and type(self)._encode_value is MapBase._encode_value):
            self._vpack = struct.Struct("=" + _INT_FORMATS[vc.size, vc.signed]).pack

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
        self._lk, self._upd = element_calls(self._type)

    def _vbuf(self) -> tuple[int, Any]:
        """This thread's value buffer for the element calls, with its address (ctypes converts
        an int argument faster than a buffer object). Per thread: the GIL may be released
        during a call. An int value (``_vunpack`` set) gets a one-element array of its C type,
        read back with ``buf[0]``; other values a char buffer for ``_decode_value``."""
        vc = self._vc
        if self._vunpack is not None and vc is not None:
            buf: Any = (_INT_CTYPES[vc.size, getattr(vc, "signed", False)] * 1)()
        else:
            buf = ctypes.create_string_buffer(self._vsize)
        # LIFETIME: the tuple keeps buf alive as long as its address is used: this thread's
        # entry of self._tls, until the thread ends or the Map is freed.
        pair = self._tls.b = (ctypes.addressof(buf), buf)
        return pair

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
