"""``Map``: a ``MutableMapping`` over a key/value kernel map, typed from the object's BTF.

Element operations use libbpf's fd-based ``bpf_map_*_elem`` calls (``bpf.h``) directly: they are
the thinnest path to the ``bpf(2)`` syscall. Keys and values are converted by the codecs of
``MapBase`` (``_base.py``); raw ``bytes`` of the exact size are accepted everywhere. Per-CPU maps
read and write one value per possible CPU, as a list. Whole-map operations (``items()``,
``values()``, ``clear()``, bulk ``update()``, numpy) use the kernel's batch calls where the map
type has them (``_batch.py``). The key/value kinds (``ProgArray``, ``LpmTrie`` ...) derive from
``Map`` (``_kinds.py``).
"""

from __future__ import annotations

import ctypes
import errno
from itertools import chain, repeat
# collections.abc's classes without importing the collections package (cold start).
from _collections_abc import ItemsView, MutableMapping, ValuesView

from .. import _args
from .._ffi import lib
from ._base import MapBase
from ._common import ARRAY_TYPES, NO_DELETE_TYPES, UNSUPPORTED, _type_name

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional

    from ..enums import UpdateFlags

__all__ = ["Map"]

_delete = lib.bpf_map_delete_elem
_next_key = lib.bpf_map_get_next_key
_lookup_and_delete = lib.bpf_map_lookup_and_delete_elem


class Map(MapBase, MutableMapping):  # type: ignore[type-arg]
    """A key/value BPF map as a ``MutableMapping``: ``m[k]``, ``m[k] = v``, ``del m[k]``, ``in``,
    ``get``, ``pop``, ``keys/values/items``, ``clear``, ``update``, ``pop_all``, ``to_numpy()``;
    the whole-map operations use the kernel's batch calls. Also the name of the constructors
    of every kind: ``Map.create(MapType.QUEUE, ...)`` gives a ``QueueMap`` (see ``MapBase``).
    """

    __slots__ = ()

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
            addr, buf = self._tls.b
        except AttributeError:
            addr, buf = self._vbuf()
        rc = self._lk(fd, k, addr)
        if rc:
            raise self._error(rc, "lookup", key)
        if self._vunpack is not None:
            return buf[0]  # an int value: buf is an array of its C type
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
        rc = self._upd(fd, k, self._encode_value(value), flags)
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
        rc = self._upd(fd, k, v, 0)
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
            addr, _buf = self._tls.b
        except AttributeError:
            addr, _buf = self._vbuf()
        rc = self._lk(fd, k, addr)
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

    def _take(self) -> tuple[Any, Any]:
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
