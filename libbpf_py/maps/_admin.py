"""Standalone maps and map management: create, open pinned or by id, pin, info, mmap.

A standalone ``Map`` (from ``Map.create``, ``Map.from_pinned``, ``Map.from_id``,
``Map.from_fd``) has no ``struct bpf_map``: it owns one fd, through ``_FdState`` (closed by
``close()``/``with``, or as a safety net when collected). Its definition (sizes, type, flags)
comes from the kernel's ``bpf_map_info``.
"""

from __future__ import annotations

import ctypes
import errno
import os
from _thread import RLock
import weakref
from itertools import repeat


from .. import _args
from .._ffi import lib
from .._ffi.consts import BPF_MAP_TYPE_ARRAY
from .._ffi.maps import bpf_map_info
from .._ffi.maps import bpf_map_create_opts
from .._ffi.core import make_opts
from .._codecs import Codec, IntCodec, _is_record
from .._types import key_type
from ._common import _type_name, wrap
from ..errors import BpfError, Closeable, ClosedError, error_context, with_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..enums import MapFlags, MapType
    from ._base import MapBase

__all__ = ["MapInfo"]

MAP_NAME_MAX = 15  # BPF_OBJ_NAME_LEN - 1


class MapInfo:
    """The kernel's view of a map (``struct bpf_map_info``)."""

    __slots__ = ("type", "id", "name", "key_size", "value_size", "max_entries", "map_flags",
                 "ifindex", "btf_id", "btf_key_type_id", "btf_value_type_id",
                 "btf_vmlinux_value_type_id", "map_extra")

    def __init__(self, raw: bpf_map_info) -> None:
        from ..enums import MapType

        try:
            self.type: Any = MapType(raw.type)
        except ValueError:
            self.type = raw.type
        self.id: int = raw.id
        self.name: str = raw.name.decode(errors="replace")
        self.key_size: int = raw.key_size
        self.value_size: int = raw.value_size
        self.max_entries: int = raw.max_entries
        self.map_flags: int = raw.map_flags
        self.ifindex: int = raw.ifindex
        self.btf_id: int = raw.btf_id
        self.btf_key_type_id: int = raw.btf_key_type_id
        self.btf_value_type_id: int = raw.btf_value_type_id
        self.btf_vmlinux_value_type_id: int = raw.btf_vmlinux_value_type_id
        self.map_extra: int = raw.map_extra

    @property
    def flags(self) -> MapFlags:
        """``map_flags`` as ``MapFlags``."""
        from ..enums import MapFlags

        return MapFlags(self.map_flags)

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"MapInfo({fields})"


def map_info(fd: int, name: str = "") -> MapInfo:
    """``bpf_obj_get_info_by_fd`` on a map fd."""
    raw = bpf_map_info()
    size = ctypes.c_uint32(ctypes.sizeof(raw))
    with error_context(f"info of map '{name}'" if name else "map info"):
        lib.bpf_obj_get_info_by_fd(fd, ctypes.byref(raw), ctypes.byref(size))
    return MapInfo(raw)


class _FdState(Closeable):
    """Owner of a standalone map's fd; stands where an object's ``_ObjectState`` would."""

    __slots__ = ("lock", "fd", "ptr", "info", "pin_path", "loaded", "label", "btf",
                 "__weakref__")

    def __init__(self, fd: int, info: MapInfo) -> None:
        self.lock = RLock()  # held by close() and by the codec setup (which reads self.btf)
        self.fd = fd
        self.ptr: Any = True  # None once closed (the hot paths test this)
        self.info = info
        self.pin_path: Optional[str] = None
        self.loaded = True
        self.label = info.name
        # LIFETIME: the map's BTF (loaded from the kernel by id) types its codecs; owned here,
        # freed on close.
        self.btf: Any = None
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            try:
                self.btf = lib.btf__load_from_kernel_by_id(info.btf_id)
            except BpfError:
                self.btf = None  # untyped: bytes

    @property
    def closed(self) -> bool:
        return self.ptr is None

    def require_open(self, what: str) -> None:
        if self.ptr is None:
            raise ClosedError(f"{what}: the map is closed")
        raise BpfError(errno.EBUSY, "a standalone map is created already", what)

    def require_loaded(self, what: str) -> None:
        if self.ptr is None:
            raise ClosedError(f"{what}: the map is closed")

    def close(self) -> None:
        with self.lock:  # the codec setup of another thread reads self.btf: it finishes first
            if self.ptr is None:
                return
            self.ptr = None
            release_mmaps(self)
            os.close(self.fd)
            btf, self.btf = self.btf, None
            if btf:
                from .. import _types

                forget = getattr(_types, "forget", None)
                if forget is not None:
                    forget(ctypes.cast(btf, ctypes.c_void_p).value or 0)
                lib.btf__free(btf)

    # Closeable's finalizer
    def _left_open(self) -> bool:
        return self.ptr is not None

    def _unclosed(self) -> str:
        return f"standalone map '{self.label}'"


def ctypes_codec(ctype: Any, size: int, what: str) -> Codec:
    """A codec for a user-given ctypes type (ints: ``IntCodec``), or bytes when None or
    ``bytes`` (raw: no decoding, even where the map has BTF)."""
    if ctype is None or ctype is bytes:
        return Codec(size, what)
    csize = ctypes.sizeof(ctype)
    if csize != size:
        raise ValueError(f"{what}_type {ctype.__name__} has size {csize} but the map's {what} "
                         f"size is {size}")
    if issubclass(ctype, ctypes._SimpleCData) and ctype._type_ in "bBhHiIlLqQ":  # type: ignore[attr-defined]
        return IntCodec(size, ctype(-1).value < 0, what)
    return _CtypesCodec(ctype, what)


class _CtypesCodec(Codec):
    """Values of a ctypes type (Structure, Union, Array, c_char...): decoded to that type."""

    def __init__(self, ctype: Any, what: str) -> None:
        super().__init__(ctypes.sizeof(ctype), what)
        self.ctype = ctype
        if _is_record(ctype):  # as decode() gives it, made at C speed (a dump's hot path)
            self.decode = (key_type(ctype) if what == "key"  # type: ignore[method-assign]
                           else ctype).from_buffer_copy
            self.decode_array = self._records  # type: ignore[method-assign]

    def _records(self, buf: Any, n: int, stride: int) -> list[Any]:
        records: Any = self.decode  # from_buffer_copy(buffer, offset): no slice per element
        return list(map(records, repeat(buf, n), range(0, n * stride, stride)))

    def encode(self, obj: Any) -> bytes:
        ct = self.ctype
        if isinstance(obj, ct):
            return bytes(obj)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return super().encode(obj)
        try:
            if isinstance(obj, dict):
                return bytes(ct(**obj))
            if isinstance(obj, (tuple, list)) and not issubclass(ct, ctypes.Array):
                return bytes(ct(*obj))
            if issubclass(ct, ctypes.Array):
                return bytes(ct(*obj))
            return bytes(ct(obj))
        except (TypeError, ValueError, AttributeError, RuntimeError) as e:
            raise TypeError(f"{self.what} {obj!r} does not convert to {ct.__name__}: {e}") from None

    def decode(self, data: bytes) -> Any:
        value = self.ctype.from_buffer_copy(data)
        if self.what == "key":  # hashable: a read-only variant of records, arrays as tuples
            from .._types import freeze

            return freeze(value)
        return value.value if isinstance(value, ctypes._SimpleCData) else value


# Sizes a map type fixes: key (queue, stack, bloom) and value (fd maps, dev/cpu maps).
_KEY_SIZES = {22: 0, 23: 0, 30: 0, 2: 4, 3: 4, 4: 4, 6: 4, 12: 4, 14: 4, 16: 4, 8: 4}
_VALUE_SIZES = {3: 4, 4: 4, 12: 4, 13: 4, 14: 4, 16: 4, 25: 4, 8: 4}


def _wrap(fd: int, key_type: Any = None, value_type: Any = None,
          pin_path: Optional[str] = None) -> MapBase:
    """A standalone map owning ``fd`` (closed here if anything fails), of its type's class."""
    try:
        state = _FdState(fd, map_info(fd))
    except BaseException:
        os.close(fd)
        raise
    state.pin_path = pin_path
    return wrap(state, None, key_type=key_type, value_type=value_type)


def create(cls: Any, map_type: MapType | int, *, key_size: Optional[int], value_size: Optional[int],
           key_type: Any, value_type: Any, max_entries: int, flags: int, name: Optional[str],
           inner_map: Optional[MapBase], map_extra: int,
           numa_node: Optional[int]) -> MapBase:
    t = _args.u32(map_type, "map_type")
    if inner_map is not None and not hasattr(inner_map, "_efd"):
        raise TypeError(f"inner_map must be a Map, not {type(inner_map).__name__}")
    if key_size is None:
        key_size = ctypes.sizeof(key_type) if key_type not in (None, bytes) else _KEY_SIZES.get(t)
    if value_size is None:
        value_size = (ctypes.sizeof(value_type) if value_type not in (None, bytes)
                      else _VALUE_SIZES.get(t))
    if key_size is None or value_size is None:
        missing = "key_size/key_type" if key_size is None else "value_size/value_type"
        raise TypeError(f"Map.create({_type_name(t)}): give {missing}")
    key_size, value_size = _args.u32(key_size, "key_size"), _args.u32(value_size, "value_size")
    max_entries, flags = _args.u32(max_entries, "max_entries"), _args.u32(flags, "flags")
    if numa_node is not None:
        from ..enums import MapFlags

        numa_node = _args.u32(numa_node, "numa_node")
        flags |= MapFlags.NUMA_NODE
    raw_name = None
    if name is not None:
        raw_name = _args.c_string(name, "name")
        if len(raw_name) > MAP_NAME_MAX:  # the kernel keeps 15 bytes: libbpf cuts the rest
            raise ValueError(f"name {name!r} is longer than {MAP_NAME_MAX} bytes (BPF object "
                             "names are cut there)")
    opts = make_opts(bpf_map_create_opts, map_flags=flags,
                     map_extra=_args.u64(map_extra, "map_extra"), numa_node=numa_node or 0,
                     inner_map_fd=inner_map.fd if inner_map is not None else 0)
    try:
        with error_context(f"create map '{name}'" if name else "create map"):
            fd = lib.bpf_map_create(t, raw_name or None, key_size, value_size, max_entries,
                                    ctypes.byref(opts))
    except BpfError as e:
        from .. import features  # only on failure
        from .._privileges import capabilities_needed, explain_permission

        explain_permission(e, capabilities_needed(maps=[t]))
        features.explain_memlock(e)
        raise e from None
    return _wrap(fd, key_type, value_type)


def from_fd(fd: int, *, key_type: Any = None, value_type: Any = None) -> MapBase:
    return _wrap(_args.bpf_fd(fd, "map", "fd"), key_type, value_type)


def from_pinned(path: Any, *, key_type: Any = None, value_type: Any = None) -> MapBase:
    raw = _args.path(path)
    p = os.fsdecode(raw)
    with error_context(f"open pinned map '{p}'"):
        fd = lib.bpf_obj_get(raw)
    m = _wrap(fd, key_type, value_type, pin_path=p)
    return m


def from_id(map_id: int, *, key_type: Any = None, value_type: Any = None) -> MapBase:
    map_id = _args.u32(map_id, "map_id")
    try:
        with error_context(f"open map id {map_id}"):
            fd = lib.bpf_map_get_fd_by_id(map_id)
    except BpfError as e:
        from .._privileges import explain_permission  # only on failure

        raise explain_permission(e, ["CAP_SYS_ADMIN"]) from None
    return _wrap(fd, key_type, value_type)


def pin(m: MapBase, path: Any) -> None:
    raw = _args.bpffs_path(path)
    p = os.fsdecode(raw)
    with error_context(f"pin map '{m.name}' at '{p}'"):
        if m._ptr is not None:
            m._state.require_loaded(f"pin map '{m.name}'")
            lib.bpf_map__pin(m._handle(), raw)
        else:
            lib.bpf_obj_pin(m.fd, raw)
            m._state.pin_path = p


def unpin(m: MapBase, path: Any) -> None:
    p = None if path is None else os.fsdecode(_args.path(path))
    if m._ptr is not None:
        with error_context(f"unpin map '{m.name}'"):
            lib.bpf_map__unpin(m._handle(), None if p is None else os.fsencode(p))
        return
    m._handle()
    p = p or m._state.pin_path
    if p is None:
        raise BpfError(errno.ENOENT, "the map is not pinned", f"unpin map '{m.name}'")
    os.unlink(p)
    if p == m._state.pin_path:
        m._state.pin_path = None


def map_mmap(m: MapBase, writable: bool) -> memoryview:
    from .._ffi.libc import mmap_shared, munmap
    from .._lease import Lease

    from ..enums import MapFlags

    if m._type != BPF_MAP_TYPE_ARRAY:  # (arena maps have their own API)
        raise TypeError(f"map '{m.name}' is a {_type_name(m._type)}: only ARRAY maps created "
                        "with MapFlags.MMAPABLE can be mmapped")
    if not m.flags & MapFlags.MMAPABLE:
        raise ValueError(f"map '{m.name}' was not created with MapFlags.MMAPABLE "
                         "(BPF_F_MMAPABLE): it can't be mmapped")
    size = max(((m.value_size + 7) & ~7) * m.max_entries, 1)
    state = m._state
    with state.lock:  # no close() between the fd and the registration (release_mmaps)
        fd = m.fd  # ClosedError once the owner closed
        try:
            addr = mmap_shared(fd, size, writable)
        except OSError as e:
            raise BpfError(e.errno or errno.EINVAL, e.strerror,
                           f"mmap map '{m.name}'"
                           f"{' (frozen? use writable=False)' if writable else ''}") from None
        # LIFETIME: the lease unmaps when its last view is gone; the mapping itself holds the
        # kernel map (no fd needed). The owner keeps it weakly: close() closes it (release_mmaps).
        lease = Lease(f"mmap of map '{m.name}'")
        lease.add(munmap, addr, size)
        view = lease.view(addr, size, readonly=not writable)
        _mmaps.setdefault(state, []).append(weakref.ref(lease))
        return view


STRUCT_OPS = 26  # BPF_MAP_TYPE_STRUCT_OPS


#: owner state (an Object's, a standalone map's) -> weak references to the leases of its maps'
#: mmaps (a lease nobody views any more is unmapped at once, and drops out)
_mmaps: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def release_mmaps(state: Any) -> None:
    """Close the leases of the ``Map.mmap()`` views of maps owned by ``state`` (it is closing):
    each root view is released (using it raises ``ValueError``), and the memory is unmapped
    once nothing derived from it is left. What was derived while the owner was open (a slice,
    a numpy array, a ctypes instance) keeps the mapping, and with it the kernel map, until it
    is dropped: nothing reads unmapped memory."""
    for ref in _mmaps.pop(state, ()):
        lease = ref()
        if lease is not None:
            lease.close()


def initial_value(m: MapBase) -> bytes:
    ptr = m._handle()
    if ptr is None:
        raise TypeError(f"map '{m.name}' is standalone: it has no initial value")
    size = ctypes.c_size_t()
    addr = lib.bpf_map__initial_value(ptr, ctypes.byref(size))
    if not addr:
        raise TypeError(f"map '{m.name}' has no initial value (only global data maps and "
                        "maps with an initial value set before load)")
    return ctypes.string_at(addr, size.value)


def set_initial_value(m: MapBase, data: Any) -> None:
    ptr = m._open_handle("initial_value")
    data = bytes(data)
    if m._type == STRUCT_OPS:
        # libbpf keeps a struct_ops map's struct (its non-function fields: a
        # tcp_congestion_ops' name ...) in memory the caller may write before load, as
        # skeletons do; bpf_map__set_initial_value refuses these maps.
        size = ctypes.c_size_t()
        addr = lib.bpf_map__initial_value(ptr, ctypes.byref(size))
        if addr is None:
            raise ValueError(f"struct_ops map '{m.name}' has no initial value to set")
        if len(data) != size.value:
            raise ValueError(f"initial value of struct_ops map '{m.name}' is {size.value} "
                             f"bytes, not {len(data)}")
        ctypes.memmove(addr, data, len(data))
        return
    # libbpf copies the data: a temporary buffer is enough.
    buf = ctypes.create_string_buffer(data, len(data))
    try:
        lib.bpf_map__set_initial_value(ptr, buf, len(data))
    except BpfError as e:
        raise with_context(e, f"set initial value of map '{m.name}' ({len(data)} bytes, "
                           f"value size {lib.bpf_map__value_size(ptr)})") from None



