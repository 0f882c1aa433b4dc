"""BPF maps: ``Map`` (a dict over a key/value kernel map) and the classes of the other map kinds.

``obj.maps["x"]`` (and ``Map.create``/``from_pinned``/``from_fd``/``from_id``) return the class
that fits the map type: ``Map`` (a ``MutableMapping``) and its key/value kinds, or a kind that
is not a mapping (``QueueMap``, ``BloomFilter``, ``EventMap`` ...); all derive from ``MapBase``.
The package's modules are private: ``_common`` (map type numbers, the class registry, the
``wrap`` factory), ``_base`` (``MapBase``: definition, fd, pin, info, codecs, constructors),
``_map`` (``Map``: element access), ``_kinds`` (the classes by map type; registers them),
``_batch`` (whole-map operations over the kernel's batch calls), ``_admin`` (creation, pinning,
``info()``, mmap).
"""

from __future__ import annotations

from ._base import MapBase
from ._common import wrap
from ._map import Map
from ._admin import MapFlags, MapInfo
from ._kinds import (BloomFilter, CgroupStorageMap, CpuMap, DevMap, EventMap, LocalStorageMap,
                     LpmTrie, MapOfMaps, ProgArray, QueueMap, StackMap, StackTraceMap,
                     StructOpsMap)

__all__ = ["Map", "MapBase", "wrap", "MapFlags", "MapInfo", "BloomFilter", "CgroupStorageMap",
           "CpuMap", "DevMap", "EventMap", "LocalStorageMap", "LpmTrie", "MapOfMaps", "ProgArray",
           "QueueMap", "StackMap", "StackTraceMap", "StructOpsMap"]
