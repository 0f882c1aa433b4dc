"""BPF maps: ``Map`` (a dict over a key/value kernel map) and the classes of the other map kinds.

``obj.maps["x"]`` (and ``Map.create``/``from_pinned``/``from_fd``/``from_id``) return the class
that fits the map type. The package's modules are private: ``_map`` (``Map``: definition,
element access), ``_kinds`` (the classes by map type), ``_batch`` (whole-map operations over the
kernel's batch calls), ``_admin`` (creation, pinning, ``info()``, mmap).
"""

from __future__ import annotations

from ._map import Map
from ._admin import MapFlags, MapInfo
from ._kinds import (BloomFilter, CgroupStorageMap, CpuMap, DevMap, EventMap, LocalStorageMap,
                     LpmTrie, MapOfMaps, ProgArray, QueueMap, StackMap, StackTraceMap,
                     StructOpsMap)

__all__ = ["Map", "MapFlags", "MapInfo", "BloomFilter", "CgroupStorageMap", "CpuMap", "DevMap",
           "EventMap", "LocalStorageMap", "LpmTrie", "MapOfMaps", "ProgArray", "QueueMap",
           "StackMap", "StackTraceMap", "StructOpsMap"]
