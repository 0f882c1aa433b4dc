"""What the map classes share: the map type numbers they branch on, and the class registry.

``CLASSES`` maps a map type number to the class of its maps (``QueueMap`` for
``BPF_MAP_TYPE_QUEUE`` ...); ``_kinds`` fills it on import (the package imports ``_kinds``, so it
is full before any map is made), and a type without an entry gets the key/value ``Map``
(registered under ``KEY_VALUE``). ``wrap(state, ptr)`` is the one factory: the object calls it
for its maps, ``Map.create``/``from_*`` for standalone ones.
"""

from __future__ import annotations

import errno

from .._ffi import consts as c
from .._ffi import lib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._base import MapBase

ENOTSUPP = 524  # the kernel's internal "operation not supported" (no userspace name)
UNSUPPORTED = frozenset({ENOTSUPP, errno.EOPNOTSUPP, errno.EINVAL})

# enum bpf_map_type numbers the map classes branch on, as plain ints (_ffi.consts) so that
# importing the enums (slow to build) waits until someone asks for a MapType.
PERCPU_TYPES = frozenset({c.BPF_MAP_TYPE_PERCPU_HASH, c.BPF_MAP_TYPE_PERCPU_ARRAY,
                          c.BPF_MAP_TYPE_LRU_PERCPU_HASH, c.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE})
ARRAY_TYPES = frozenset({c.BPF_MAP_TYPE_ARRAY, c.BPF_MAP_TYPE_PERCPU_ARRAY,
                         c.BPF_MAP_TYPE_PROG_ARRAY, c.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
                         c.BPF_MAP_TYPE_CGROUP_ARRAY, c.BPF_MAP_TYPE_ARRAY_OF_MAPS})
#: keys are u32 indexes: the arrays, the stack trace map, devmap and cpumap
INDEX_KEY_TYPES = ARRAY_TYPES | {c.BPF_MAP_TYPE_STACK_TRACE, c.BPF_MAP_TYPE_DEVMAP,
                                 c.BPF_MAP_TYPE_CPUMAP}
#: elements always exist
NO_DELETE_TYPES = frozenset({c.BPF_MAP_TYPE_ARRAY, c.BPF_MAP_TYPE_PERCPU_ARRAY})
# HASH, ARRAY, PERCPU_HASH/ARRAY, LRU(_PERCPU)_HASH, LPM_TRIE: plain data maps, whose element
# calls never sleep (a bucket's spinlock at most): their lookups and updates keep the GIL
# (element_calls). Others (map-of-maps updates wait for an RCU grace period, sockmaps for socket
# locks ...) release it, as every other call does.
GIL_HELD_TYPES = frozenset({c.BPF_MAP_TYPE_HASH, c.BPF_MAP_TYPE_ARRAY, c.BPF_MAP_TYPE_PERCPU_HASH,
                            c.BPF_MAP_TYPE_PERCPU_ARRAY, c.BPF_MAP_TYPE_LRU_HASH,
                            c.BPF_MAP_TYPE_LRU_PERCPU_HASH, c.BPF_MAP_TYPE_LPM_TRIE})
_INT_FORMATS = {(1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q",
                (1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q"}


def element_calls(map_type: int) -> tuple[Any, Any]:
    """(bpf_map_lookup_elem, bpf_map_update_elem) for a map type's element hot paths: bound
    holding the GIL for GIL_HELD_TYPES (``_ffi.holding_gil``), else ``lib``'s."""
    if map_type in GIL_HELD_TYPES:
        from .._ffi import holding_gil

        return holding_gil("bpf_map_lookup_elem"), holding_gil("bpf_map_update_elem")
    return lib.bpf_map_lookup_elem, lib.bpf_map_update_elem


def _type_name(map_type: int) -> str:
    from ..enums import MapType

    try:
        return MapType(map_type).name
    except ValueError:
        return f"map type {map_type}"


#: The key under which CLASSES holds the class of key/value maps (``Map``): every map type
#: without an entry of its own.
KEY_VALUE = -1

#: map type number -> the class of its maps. A new kind: a ``MapBase`` subclass (a ``Map``
#: subclass if it is a key/value dict) entered here by the module defining it.
CLASSES: dict[int, type[MapBase]] = {}


def class_for(map_type: int) -> type[MapBase]:
    """The class for a map type number (``Map`` for plain key/value maps)."""
    return CLASSES.get(map_type) or CLASSES[KEY_VALUE]


def wrap(state: Any, ptr: Any, *, key_type: Any = None, value_type: Any = None) -> MapBase:
    """A map of the class its type asks for: of an object (``state`` its ``_ObjectState``,
    ``ptr`` its ``struct bpf_map *``) or standalone (``state`` an ``_FdState`` owning the fd,
    ``ptr`` None)."""
    map_type = lib.bpf_map__type(ptr) if ptr is not None else int(state.info.type)
    return class_for(map_type)(state, ptr, key_type=key_type, value_type=value_type)
