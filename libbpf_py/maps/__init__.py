"""BPF maps: ``Map`` (a dict over a key/value kernel map) and the classes of the other map kinds.

``obj.maps["x"]`` (and ``Map.create``/``from_pinned``/``from_fd``/``from_id``) return the class
that fits the map type: ``Map`` (a ``MutableMapping``) and its key/value kinds, or a kind that
is not a mapping (``QueueMap``, ``BloomFilter``, ``EventMap`` ...); all derive from ``MapBase``.
The package's modules are private: ``_common`` (map type numbers, the class registry, the
``wrap`` factory), ``_base`` (``MapBase``: definition, fd, pin, info, codecs, constructors),
``_map`` (``Map``: element access), ``_kinds`` (the classes by map type; registers them),
``_batch`` (whole-map operations over the kernel's batch calls), ``_admin`` (creation, pinning,
``info()``, mmap). ``MapFlags`` lives in ``libbpf_py.enums`` beside the other enums (it is
re-exported here, imported on first use).
"""

from __future__ import annotations

from ._base import MapBase
from ._common import wrap
from ._map import Map
from ._admin import MapInfo
from ._kinds import (BloomFilter, CgroupStorageMap, CpuMap, DevMap, EventMap, LocalStorageMap,
                     LpmTrie, MapOfMaps, ProgArray, QueueMap, StackMap, StackTraceMap,
                     StructOpsMap)

__all__ = ["Map", "MapBase", "wrap", "MapFlags", "MapInfo", "BloomFilter", "CgroupStorageMap",
           "CpuMap", "DevMap", "EventMap", "LocalStorageMap", "LpmTrie", "MapOfMaps", "ProgArray",
           "QueueMap", "StackMap", "StackTraceMap", "StructOpsMap"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..enums import MapFlags


def __getattr__(name: str) -> object:
    # MapFlags on first use: importing maps builds no enum class (cold start)
    if name == "MapFlags":
        from ..enums import MapFlags

        return MapFlags
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
