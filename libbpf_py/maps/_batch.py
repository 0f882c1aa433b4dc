"""Whole-map operations of ``Map``: batch lookup/update/delete, with a per-key fallback.

The kernel's batch calls (``bpf_map_lookup_batch``, ``bpf_map_update_batch``,
``bpf_map_delete_batch``, ``bpf_map_lookup_and_delete_batch``; Linux 5.6+) move many elements per
syscall for hash, LRU, per-CPU and array maps. Other map types answer ENOTSUPP/EINVAL: then the
``bpf_map_get_next_key`` walk is used, and the answer is remembered per map. Int keys and values
are read through memoryviews of the batch buffers (``_int_view``): no per-element Python call,
and each int is made as it is read.
"""

from __future__ import annotations

import ctypes
import errno
import struct

from .._ffi import consts as c
from .._ffi import lib
from .._ffi.maps import bpf_map_batch_opts
from .._ffi.core import make_opts
from .._codecs import IntCodec
from ..errors import BpfError, closed_instead
from ._common import _INT_FORMATS, ARRAY_TYPES, NO_DELETE_TYPES, UNSUPPORTED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ._map import Map

_lookup_batch = lib.bpf_map_lookup_batch
_lookup_and_delete_batch = lib.bpf_map_lookup_and_delete_batch
_update_batch = lib.bpf_map_update_batch
_delete_batch = lib.bpf_map_delete_batch

_OPTS = make_opts(bpf_map_batch_opts)  # read-only for libbpf: shared


def _int_format(codec: Any) -> Optional[str]:
    if type(codec) is IntCodec:
        return _INT_FORMATS[codec.size, codec.signed]
    return None


def read_batch(m: Map, fn: Any = _lookup_batch) -> Optional[tuple[Any, Any, int]]:
    """(keys buffer, values buffer, count) of the whole map, or None if the kernel can't batch
    this map type. ``fn``: lookup_batch, or lookup_and_delete_batch."""
    if m._batch is False:
        return None
    fd = m._setup()
    ks, vsz = m._ks, m._vsize
    # One more than fits: the kernel then ends with ENOENT in one call. Huge, mostly empty maps
    # start smaller and grow.
    cap = min(m.max_entries + 1, 1 << 21)
    keys = ctypes.create_string_buffer(ks * cap)
    values = ctypes.create_string_buffer(vsz * cap)
    # LIFETIME: one cursor buffer serves as in_batch and out_batch (the kernel reads it first).
    # Hash maps use a u32 bucket cursor, arrays a key.
    cursor = ctypes.create_string_buffer(max(ks, 8))
    in_b = None
    count = ctypes.c_uint32()
    total = 0
    kaddr, vaddr = ctypes.addressof(keys), ctypes.addressof(values)
    opts = ctypes.byref(_OPTS)
    while True:
        count.value = cap - total
        rc = fn(fd, in_b, cursor, kaddr + total * ks, vaddr + total * vsz, ctypes.byref(count),
                opts)
        if rc and rc != -errno.ENOENT:
            if total == 0 and -rc in UNSUPPORTED and m._batch is None:
                m._batch = False
                return None
            if rc != -errno.ENOSPC:  # ENOSPC: a bucket larger than the room left: grow
                raise closed_instead(BpfError(-rc, None, f"batch lookup in map '{m.name}'"),
                                     m._state, f"batch lookup in map '{m.name}'")
        else:
            total += count.value
            if rc == -errno.ENOENT:
                break
            in_b = cursor
        if cap - total < 64 or rc:  # grow: the map grew under us, or a big bucket
            cap = cap * 2 + 64
            k2 = ctypes.create_string_buffer(ks * cap)
            v2 = ctypes.create_string_buffer(vsz * cap)
            ctypes.memmove(k2, keys, ks * total)
            ctypes.memmove(v2, values, vsz * total)
            keys, values = k2, v2
            kaddr, vaddr = ctypes.addressof(keys), ctypes.addressof(values)
    m._batch = True
    return keys, values, total


def _int_view(buf: Any, n: int, fmt: str) -> Any:
    """The first ``n`` ints of ``buf`` as a memoryview of format ``fmt``: a sequence whose
    items become Python ints one at a time, as they are read. Decoding 1M ints up front (one
    ``struct.unpack_from``) costs ~2.5x as much: 1M live int objects are ~30 MB of fresh
    memory, where one at a time reuses the same few blocks."""
    size = struct.calcsize(fmt)
    nbytes = n * size
    if nbytes * 2 < ctypes.sizeof(buf):  # mostly empty (a sparse map): keep only what is used
        return memoryview(ctypes.string_at(buf, nbytes)).cast(fmt)  # type: ignore[call-overload]
    return memoryview(buf).cast("B")[:nbytes].cast(fmt)  # type: ignore[call-overload]


def _decode_keys(m: Map, keys: Any, n: int) -> Any:
    """The keys of a batch buffer: a sequence (``_int_view`` for int keys, else a list)."""
    fmt = _int_format(m._kc)
    if fmt is not None and m._plain:
        return _int_view(keys, n, fmt)
    ks = m._ks
    if m._plain:
        return m._kc.decode_array(keys, n, ks)  # type: ignore[union-attr]
    raw = keys.raw
    decode = m._decode_key
    return [decode(raw[i:i + ks]) for i in range(0, n * ks, ks)]


def _decode_values(m: Map, values: Any, n: int) -> Any:
    """The values of a batch buffer: a sequence (``_int_view`` for int values, else a list)."""
    vsz = m._vsize
    if not m._plain:  # a kind decodes values itself (maps of maps, stack traces ...)
        raw = values.raw
        return [m._decode_value(raw[i:i + vsz]) for i in range(0, n * vsz, vsz)]
    if not m._ncpu:
        fmt = _int_format(m._vc)
        if fmt is not None:
            return _int_view(values, n, fmt)
    if m._ncpu:
        raw = values.raw
        vc = m._vc
        fmt = _int_format(vc)
        stride = (vc.size + 7) & ~7  # type: ignore[union-attr]
        ncpu = m._ncpu
        if fmt is not None:
            pad = f"{stride - vc.size}x" if stride != vc.size else ""  # type: ignore[union-attr]
            flat = struct.unpack_from(f"={n * ncpu}{fmt}" if not pad else
                                      "=" + (fmt + pad) * (n * ncpu), raw)
            return [list(flat[i:i + ncpu]) for i in range(0, n * ncpu, ncpu)]
        return [m._decode_value(raw[i:i + vsz]) for i in range(0, n * vsz, vsz)]
    return m._vc.decode_array(values, n, vsz)  # type: ignore[union-attr]


def snapshot(m: Map, values: bool) -> tuple[Any, Any]:
    """(keys, values) of the whole map, two sequences of the same length (values empty when
    not asked for); int keys and values are decoded as they are read (``_int_view``)."""
    got = read_batch(m)
    if got is not None:
        keys, vals, n = got
        return _decode_keys(m, keys, n), (_decode_values(m, vals, n) if values else [])
    # fallback: one get_next_key (and lookup) per element
    decode = m._decode_key
    raw_keys = list(m._raw_keys())
    if not values:
        return [decode(k) for k in raw_keys], []
    ks_out, vs_out = [], []
    buf = ctypes.create_string_buffer(m._vsize)
    lookup = lib.bpf_map_lookup_elem
    fd = m._efd
    for raw in raw_keys:
        rc = lookup(fd, raw, buf)
        if rc == -errno.ENOENT:
            continue  # deleted since the walk saw it
        if rc:
            raise m._error(rc, "lookup", raw)
        ks_out.append(decode(raw))
        vs_out.append(m._decode_value(buf))
    return ks_out, vs_out


def pop_all(m: Map) -> dict[Any, Any]:
    """Read and delete the whole map (lookup_and_delete_batch, else pop per key). Nothing is
    deleted that is not returned: keys are checked hashable before the first delete, and if
    decoding fails after a batch delete, the elements are put back before the error."""
    m._setup()
    _check_hashable_keys(m)
    if m._type in _BATCH_UPDATE and m._type not in NO_DELETE_TYPES:  # hash and LRU maps
        state = m._batch
        got = read_batch(m, _lookup_and_delete_batch)
        if got is not None:
            keys, vals, n = got
            try:
                return dict(zip(_decode_keys(m, keys, n), _decode_values(m, vals, n)))
            except BaseException:
                _put_back(m, keys, vals, n)
                raise
        m._batch = state  # lookup batch may still work
    out = {}
    for raw in list(m._raw_keys()):
        key = m._decode_key(raw)
        hash(key)  # before its element is deleted
        try:
            out[key] = m.pop(raw)
        except KeyError:
            continue
    return out


def _check_hashable_keys(m: Map) -> None:
    try:
        hash(m._decode_key(bytes(m._ks)))
    except TypeError as e:
        raise TypeError(f"pop_all(): the keys of map '{m.name}' are not hashable ({e}), so they "
                        "can't be dict keys; nothing was deleted (give Map.create a hashable "
                        "key_type, or read items() and delete keys one by one)") from None


def _put_back(m: Map, keys: Any, vals: Any, n: int) -> None:
    """Re-insert the raw elements a failed pop_all() had deleted (NOEXIST: never over a value
    the program wrote since)."""
    ks, vsz = m._ks, m._vsize
    for i in range(n):
        lib.bpf_map_update_elem(m._efd, ctypes.byref(keys, i * ks), ctypes.byref(vals, i * vsz),
                                1)  # BPF_NOEXIST


def clear(m: Map) -> None:
    """Delete every element: keys read in batches then one ``bpf_map_delete_batch``."""
    got = read_batch(m)
    fd = m._efd
    if got is not None:
        keys, _values, n = got
        ks = m._ks
        done = 0
        count = ctypes.c_uint32()
        base = ctypes.addressof(keys)
        while done < n:
            count.value = n - done
            rc = _delete_batch(fd, base + done * ks, ctypes.byref(count), ctypes.byref(_OPTS))
            if rc == 0:
                return
            if rc == -errno.ENOENT:  # deleted meanwhile (by BPF): skip that key
                done += count.value + 1
                continue
            if -rc in UNSUPPORTED and done == 0:
                break
            raise m._error(rc, "batch delete", None)
        else:
            return
        raw_keys = [keys.raw[i:i + ks] for i in range(0, n * ks, ks)]
    else:
        raw_keys = list(m._raw_keys())
    delete = lib.bpf_map_delete_elem
    for raw in raw_keys:
        rc = delete(fd, raw)
        if rc and rc != -errno.ENOENT:
            raise m._error(rc, "delete", m._decode_key(raw))


def update(m: Map, other: Any, kwds: dict[str, Any]) -> None:
    """``dict.update`` semantics; one ``bpf_map_update_batch`` for all pairs where possible."""
    if hasattr(other, "keys"):
        pairs = [(k, other[k]) for k in other.keys()]
    else:
        pairs = []
        for i, item in enumerate(other):
            try:
                k, v = item
            except (TypeError, ValueError):
                raise ValueError(f"dictionary update sequence element #{i} is not a "
                                 "(key, value) pair") from None
            pairs.append((k, v))
    pairs.extend(kwds.items())
    if not pairs:
        return
    fd = m._setup()
    if len(pairs) == 1 or m._batch is False or m._type not in _BATCH_UPDATE:
        for k, v in pairs:
            m[k] = v
        return
    kraw = vraw = None
    kfmt, vfmt = _int_format(m._kc), _int_format(m._vc)
    n = len(pairs)
    if kfmt is not None and vfmt is not None and m._plain and not m._ncpu:
        # ints: one pack for all keys, one for all values
        ks, vs = zip(*pairs)
        try:
            kraw = struct.pack(f"={n}{kfmt}", *ks)
            vraw = struct.pack(f"={n}{vfmt}", *vs)
        except struct.error:
            kraw = vraw = None  # a bad one: the per-element path below names it
    if kraw is None or vraw is None:
        kenc, venc = m._kenc, m._encode_value
        # everything is encoded (and checked) before the first syscall
        kraw = b"".join([kenc(k) for k, _ in pairs])
        vraw = b"".join([_pad_value(venc(v), m._vsize) for _, v in pairs])
    count = ctypes.c_uint32(len(pairs))
    rc = _update_batch(fd, kraw, vraw, ctypes.byref(count), ctypes.byref(_OPTS))
    if rc == 0:
        return
    if -rc in UNSUPPORTED and -rc != errno.EINVAL:
        # The kernel refuses an unsupported batch op before touching an element, and leaves
        # count as we passed it (5.10's PERCPU_ARRAY: no map_update_batch). One by one instead;
        # re-writing pairs a partial batch already wrote stores the same values.
        m._batch = False
        for k, v in pairs:
            m[k] = v
        return
    failed = pairs[min(count.value, len(pairs) - 1)][0]
    raise m._error(rc, f"batch update ({count.value} of {len(pairs)} done)", failed)


def _pad_value(v: bytes, size: int) -> bytes:
    return v if len(v) == size else v + bytes(size - len(v))


# the kernel's update_batch (5.6+)
_BATCH_UPDATE = frozenset({c.BPF_MAP_TYPE_HASH, c.BPF_MAP_TYPE_ARRAY, c.BPF_MAP_TYPE_PERCPU_HASH,
                           c.BPF_MAP_TYPE_PERCPU_ARRAY, c.BPF_MAP_TYPE_LRU_HASH,
                           c.BPF_MAP_TYPE_LRU_PERCPU_HASH})


def to_numpy(m: Map) -> tuple[Any, Any]:
    """(keys, values) numpy arrays of the whole map (batched when possible)."""
    import numpy as np

    m._setup()
    kdt = _dtype(np, m._kc)
    vdt = _dtype(np, m._vc)
    got = read_batch(m)
    if got is None:
        keys_l, vals_l = snapshot(m, values=True)
        n = len(keys_l)
        kbuf = b"".join(m._kenc(k) for k in keys_l)
        vbuf = b"".join(_pad_value(m._encode_value(v), m._vsize) for v in vals_l)
    else:
        kbuf, vbuf, n = got
    keys = np.frombuffer(kbuf, dtype=kdt, count=n).copy()
    if m._ncpu:
        vc = m._vc
        assert vc is not None  # set up by the snapshot above
        stride = (vc.size + 7) & ~7
        raw = np.frombuffer(vbuf, dtype=np.uint8, count=n * m._vsize)
        raw = raw.reshape(n, m._ncpu, stride)[:, :, :vc.size]
        values = np.ascontiguousarray(raw).view(vdt).reshape(n, m._ncpu)
    else:
        values = np.frombuffer(vbuf, dtype=vdt, count=n).copy()
    return keys, values


def _dtype(np: Any, codec: Any) -> Any:
    fmt = _int_format(codec)
    if fmt is not None:
        return np.dtype("=" + fmt)
    from .. import _types

    ctype = getattr(codec, "ctype", None)
    fn: Optional[Callable[[Any], Any]] = getattr(_types, "numpy_dtype", None)
    if ctype is not None and fn is not None:
        try:
            dt = fn(ctype)
            if dt.itemsize == codec.size:
                return dt
        except (TypeError, ValueError):
            pass
    return np.dtype((np.void, codec.size))


del ARRAY_TYPES
