"""``MapMetric``: one BPF map as one Prometheus metric (a prometheus_client collector).

At construction the map's key and value types are read from BTF and every label, value field,
bucket field and decoder is checked against them (``ValueError``/``TypeError`` naming the
problem). At each scrape (``collect()``) the map is read whole with ``Map.items()`` (the batch
syscalls: a few syscalls for the whole map, not one per key), labels are decoded from the keys
(cached per key: a decoder runs once per distinct key, not once per scrape), values are summed
per label set (per-CPU values across CPUs, keys that differ only in fields that are not labels
into one series) and handed to prometheus_client as a counter, gauge or histogram family.
"""

from __future__ import annotations

import operator
import sys

from ._decoders import FieldInfo, make_decoder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, Callable, Optional, Union

    from ..btf import Btf, Type
    from ..maps import Map
    from ._decoders import Decoder

__all__ = ["MapMetric", "Label", "Log2Buckets", "LinearBuckets", "KINDS"]

KINDS = ("counter", "gauge", "histogram")
# map types whose elements are (key, value) pairs of fixed types: HASH, ARRAY, PERCPU_HASH,
# PERCPU_ARRAY, LRU_HASH, LRU_PERCPU_HASH
_METRIC_MAP_TYPES = {1: "hash", 2: "array", 5: "percpu_hash", 6: "percpu_array", 9: "lru_hash",
                     10: "lru_percpu_hash"}
_PERCPU = frozenset({5, 6, 10})
_ARRAYS = frozenset({2, 6})
_CACHE_MAX = 1 << 20  # decoded label sets kept per metric (dropped all at once beyond)


def require(module: str) -> Any:
    """Import an optional dependency of the exporter, or say which extra brings it."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as e:
        raise ImportError(f"libbpf_py.exporter needs {module.split('.')[0]} (not installed): "
                          "pip install 'libbpf_py[exporter]'") from e


class MetricError(TypeError, ValueError):
    """A metric that does not fit its map (a ``TypeError`` and a ``ValueError``); ``key``:
    the argument at fault ("labels[1]", "value_field", "map" ...), for config errors."""

    def __init__(self, message: str, key: Optional[str] = None) -> None:
        super().__init__(message)
        self.key = key


class Label:
    """A label of a metric: its ``name``, the key ``field`` it comes from (a dotted path for
    nested structs; None when the key is a plain int), and a ``decode``r (a name from
    ``DECODERS``, ``{"static": {0: "read"}}``, or None for the field's default: ints as
    numbers, enums by name, char arrays as strings)."""

    __slots__ = ("name", "field", "decode")

    def __init__(self, name: str, field: Optional[str] = None, decode: Any = None) -> None:
        self.name = name
        self.field = field
        self.decode = decode

    @classmethod
    def of(cls, spec: Union[Label, dict[str, Any], str]) -> Label:
        """A Label from a Label, a dict of its arguments, or a bare name."""
        if isinstance(spec, Label):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        if isinstance(spec, dict):
            unknown = set(spec) - {"name", "field", "decode"}
            if unknown or "name" not in spec:
                raise ValueError(f"a label is {{name, field, decode}}, not {spec!r}")
            return cls(spec["name"], spec.get("field"), spec.get("decode"))
        raise TypeError(f"a label is a Label, a dict or a name, not {type(spec).__name__}")

    def __repr__(self) -> str:
        return f"Label({self.name!r}, field={self.field!r}, decode={self.decode!r})"


class _Buckets:
    """A bucket scheme: ``count`` buckets; ``le(i)``: the largest value bucket ``i`` holds
    (times ``multiplier``); ``overflow``: the last bucket also holds everything above (its
    ``le`` is then +Inf)."""

    kind = ""

    def __init__(self, count: int, *, multiplier: float = 1.0, overflow: bool = False) -> None:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"buckets: count must be a positive int, not {count!r}")
        if not isinstance(multiplier, (int, float)) or isinstance(multiplier, bool) \
                or multiplier <= 0:
            raise ValueError(f"buckets: multiplier must be a positive number, not {multiplier!r}")
        self.count = count
        self.multiplier = multiplier
        self.overflow = bool(overflow)

    def high(self, i: int) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def low(self, i: int) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def le(self, i: int) -> float:
        """Bucket ``i``'s upper bound, rounded to 15 digits: 15 * 1e-6 is 1.5e-05, not
        1.4999999999999999e-05 (``le`` is a label: its text must be what people write)."""
        return float(f"{self.high(i) * self.multiplier:.15g}")

    def mid(self, i: int) -> float:
        return (self.low(i) + self.high(i)) / 2 * self.multiplier

    @staticmethod
    def of(spec: Union[_Buckets, dict[str, Any]]) -> _Buckets:
        """A bucket scheme from an instance or ``{"type": "log2"|"linear", ...}``."""
        if isinstance(spec, _Buckets):
            return spec
        if not isinstance(spec, dict):
            raise TypeError(f"buckets: a Log2Buckets/LinearBuckets or a dict, not {spec!r}")
        args = dict(spec)
        kind = args.pop("type", None)
        cls = {"log2": Log2Buckets, "linear": LinearBuckets}.get(kind)  # type: ignore[arg-type]
        if cls is None:
            raise ValueError(f"buckets: type is log2 or linear, not {kind!r}")
        known = {"count", "multiplier", "overflow"} | ({"min", "width"} if cls is LinearBuckets
                                                       else set())
        unknown = set(args) - known
        if unknown:
            raise ValueError(f"buckets ({kind}): unknown option {sorted(unknown)[0]!r} "
                             f"(options: type, {', '.join(sorted(known))})")
        if "count" not in args:
            raise ValueError(f"buckets ({kind}): count is required")
        return cls(**args)


class Log2Buckets(_Buckets):
    """log2 slots as libbpf-tools and :mod:`libbpf_py.utils.histogram` count them: slot ``i`` holds
    the integers ``2**i .. 2**(i+1) - 1`` (slot 0 also 0), so its ``le`` is ``2**(i+1) - 1``."""

    kind = "log2"

    def low(self, i: int) -> int:
        return 0 if i == 0 else 1 << i

    def high(self, i: int) -> int:
        return (1 << (i + 1)) - 1


class LinearBuckets(_Buckets):
    """Buckets of ``width`` integers from ``min``: bucket ``i`` holds ``min + i*width`` ..
    ``min + (i+1)*width - 1`` (width 1: the value itself, like bcc's linear histograms)."""

    kind = "linear"

    def __init__(self, count: int, *, min: int = 0, width: int = 1, multiplier: float = 1.0,
                 overflow: bool = False) -> None:
        super().__init__(count, multiplier=multiplier, overflow=overflow)
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"buckets: width must be a positive int, not {width!r}")
        if not isinstance(min, int) or isinstance(min, bool):
            raise ValueError(f"buckets: min must be an int, not {min!r}")
        self.min = min
        self.width = width

    def low(self, i: int) -> int:
        return self.min + i * self.width

    def high(self, i: int) -> int:
        return self.min + (i + 1) * self.width - 1


# --- BTF -> FieldInfo

def field_info(name: str, t: Optional[Type]) -> FieldInfo:
    """The shape of BTF type ``t`` (through typedefs and modifiers)."""
    from ..btf import Kind

    if t is None:
        return FieldInfo(name, "other", 0, "<no BTF>")
    r = t.resolve()
    c_name = t.c_name
    k = r.kind
    if k == Kind.INT:
        return FieldInfo(name, "int", r.size, c_name, signed=r.signed)
    if k == Kind.PTR:
        return FieldInfo(name, "int", 8, c_name)
    if k in (Kind.ENUM, Kind.ENUM64):
        return FieldInfo(name, "enum", r.size, c_name, signed=r.signed)
    if k == Kind.ARRAY:
        e = r.element.resolve()
        if e.kind == Kind.INT and e.size == 1 and (e.is_char or e.name == "char"):
            return FieldInfo(name, "chars", r.size, c_name, elem_size=1)
        if e.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64):
            return FieldInfo(name, "array", r.size, c_name, elem_size=e.size)
        return FieldInfo(name, "other", r.size, c_name)
    if k in (Kind.STRUCT, Kind.UNION):
        return FieldInfo(name, "struct", r.size, c_name)
    return FieldInfo(name, "other", r.size if k == Kind.FLOAT else 0, c_name)


def member_path(t: Type, path: str) -> tuple[Type, str]:
    """The type of member ``path`` ("a.b") of struct ``t``; ``KeyError`` naming the members."""
    from ..btf import Kind

    cur = t
    for part in path.split("."):
        r = cur.resolve()
        if r.kind not in (Kind.STRUCT, Kind.UNION):
            raise KeyError(f"{cur.c_name} is not a struct: it has no field {part!r}")
        found = _find_member(r, part)
        if found is None:
            names = ", ".join(_member_names(r))
            raise KeyError(f"{r.c_name} has no field {part!r} (fields: {names})")
        if found.bitfield_size:
            raise KeyError(f"{r.c_name}.{part} is a bitfield: labels read whole fields")
        cur = found.type
    return cur, path


def _member_names(r: Type) -> list[str]:
    from ..btf import Kind

    out = []
    for m in r.members:
        if m.name:
            out.append(m.name)
        elif m.type.resolve().kind in (Kind.STRUCT, Kind.UNION):  # anonymous: reached directly
            out.extend(_member_names(m.type.resolve()))
    return out


def _find_member(r: Type, name: str) -> Any:
    from ..btf import Kind

    for m in r.members:
        if m.name == name:
            return m
        if not m.name and m.type.resolve().kind in (Kind.STRUCT, Kind.UNION):
            inner = _find_member(m.type.resolve(), name)
            if inner is not None:
                return inner
    return None


def declared_types(m: Map, btf: Optional[Btf]) -> tuple[Optional[Type], Optional[Type], Any]:
    """(key type, value type, Btf to close or None) of map ``m``: from the object's BTF map
    definition (``btf``: valid before load) or from the kernel's (``Map.info()``: after load,
    root). None for a side whose type the BTF does not give."""
    from ..btf import Btf as _Btf
    from ..btf import Kind

    if btf is not None:
        sec = btf.get(".maps", Kind.DATASEC)
        for var, _off, _size in (sec.variables if sec is not None else ()):
            if var.name != m.name:
                continue
            found: dict[str, Type] = {}
            t = var.target.resolve()
            if t.kind == Kind.STRUCT:
                for mem in t.members:
                    mt = mem.type.resolve()
                    if mem.name in ("key", "value") and mt.kind == Kind.PTR:
                        found[mem.name] = mt.target
            return found.get("key"), found.get("value"), None
        return None, None, None
    info = m.info()
    if not info.btf_id:
        return None, None, None
    owned = _Btf.from_id(info.btf_id)
    key = owned[info.btf_key_type_id] if info.btf_key_type_id else None
    value = owned[info.btf_value_type_id] if info.btf_value_type_id else None
    return key, value, owned


class MapMetric:
    """One map as one Prometheus metric; register it on a ``prometheus_client`` registry.

    ``map``: a loaded ``Map`` of type hash, array, LRU hash or their per-CPU kinds. ``name``:
    the metric's name (counters get ``_total`` appended by prometheus_client if missing);
    ``kind``: "counter", "gauge" or "histogram"; ``help``: its description. ``labels``: Labels
    (or dicts/names) decoded from the key; keys that differ only in fields that are not labels
    add up into one series. ``value_field``: the field of a struct value to read (per-CPU values
    are summed over CPUs). Histograms: ``buckets`` (``Log2Buckets``/``LinearBuckets`` or a dict
    ``{"type": "log2", "count": 27, "multiplier": 1e-6}``); the bucket index is the key itself
    (an array of slots), the key field ``bucket_field``, or, when the value (field) is an array,
    the index in it (libbpf-tools' ``struct hist { __u32 slots[N]; }``). ``sum_map``: a map
    holding the exact sum of the observed values per label set (the same label fields in its
    key); without one, ``_sum`` is estimated from the bucket midpoints.

    ``btf``: the object's BTF, to read the map's declared types (default: the kernel's, via
    ``Map.info()``). Checks everything against BTF here: ``ValueError``/``TypeError`` name the
    problem. Reads the map at each ``collect()`` with ``Map.items()`` (batch syscalls), never
    one syscall per key. Needs what reading the map needs (root or CAP_BPF). The map's object
    must stay open while the metric is registered (``ClosedError`` at scrape otherwise).
    """

    def __init__(self, map: Map, name: str, *, kind: str = "counter", help: str = "",
                 labels: Iterable[Union[Label, dict[str, Any], str]] = (),
                 value_field: Optional[str] = None, buckets: Any = None,
                 bucket_field: Optional[str] = None, sum_map: Optional[Map] = None,
                 btf: Optional[Btf] = None) -> None:
        if not isinstance(name, str) or not _valid_name(name, colon=True):
            raise MetricError(f"a metric's name is letters, digits, _ and : (not first a "
                              f"digit), not {name!r}", "name")
        if kind not in KINDS:
            raise MetricError(f"metric {name!r}: type is one of {', '.join(KINDS)}, not "
                              f"{kind!r}", "type")
        self.map = map
        self.name = name
        self.kind = kind
        self.help = help or f"BPF map {map.name}"
        try:
            self.labels = [Label.of(x) for x in labels]
        except (TypeError, ValueError) as e:
            raise MetricError(f"metric {name!r}: {e}", "labels") from None
        names = [x.name for x in self.labels]
        for i, n in enumerate(names):
            if not isinstance(n, str) or not _valid_name(n) or n.startswith("__") or n == "le":
                raise MetricError(f"metric {name!r}: a label's name is letters, digits and _ "
                                  f"(not first a digit, not __..., not le), not {n!r}",
                                  f"labels[{i}].name")
            if n in names[:i]:
                raise MetricError(f"metric {name!r}: label {n!r} is given twice",
                                  f"labels[{i}]")
        self._what = what = f"metric {name!r} (map '{map.name}')"
        mtype = int(map.type)
        if mtype not in _METRIC_MAP_TYPES:
            raise MetricError(f"{what}: a {map.type.name.lower()} map can't be a metric "
                              f"(metrics read {', '.join(_METRIC_MAP_TYPES.values())} maps)",
                              "map")
        self._percpu = mtype in _PERCPU
        try:
            self._buckets = _Buckets.of(buckets) if buckets is not None else None
        except (TypeError, ValueError) as e:
            raise MetricError(f"{what}: {e}", "buckets") from None
        if kind == "histogram" and self._buckets is None:
            raise MetricError(f"{what}: a histogram needs buckets", "buckets")
        if kind != "histogram":
            for arg, given in (("buckets", buckets is not None), ("bucket_field", bucket_field),
                               ("sum_map", sum_map is not None)):
                if given:
                    raise MetricError(f"{what}: {arg} is for histograms, not a {kind}", arg)
        key_t, value_t, owned = declared_types(map, btf)
        try:
            self._setup_key(key_t, mtype, bucket_field)
            self._setup_value(value_t, value_field)
        finally:
            if owned is not None:
                owned.close()
        self._sum_metric: Optional[MapMetric] = None
        if sum_map is not None:
            # the sum map is keyed by the label set: a struct with the label fields, or (one
            # label) the label's value itself
            sum_key, _, owned = declared_types(sum_map, btf)
            plain = field_info("", sum_key).shape != "struct"
            if owned is not None:
                owned.close()
            labels = [Label(x.name, None if plain else x.field, x.decode) for x in self.labels]
            try:
                self._sum_metric = MapMetric(sum_map, name + "_sum", kind="gauge",
                                             labels=labels, btf=btf)
            except MetricError as e:
                raise MetricError(f"{what}: sum_map '{sum_map.name}': {e}", "sum_map") from None
        self._cache: dict[Any, tuple[str, ...]] = {}  # map key -> label values
        self._dicts: dict[tuple[str, ...], dict[str, str]] = {}  # label values -> sample labels
        self._prefixes: dict[tuple[str, ...], str] = {}  # label values -> 'name{...} '
        self._cache_key: Optional[Callable[[Any], Any]] = None

    # --- checks against BTF

    def _setup_key(self, key_t: Optional[Type], mtype: int,
                   bucket_field: Optional[str]) -> None:
        what = self._what
        key = field_info("", key_t)
        to_int: Callable[[Any], Any] = _identity
        if key_t is None and self.map.key_size in (1, 2, 4, 8):
            # no BTF (a standalone map, an object built without -g): an unsigned int, whether
            # Map hands it over as an int (arrays, ctypes key_type) or as bytes
            key = FieldInfo("", "int", self.map.key_size, f"{self.map.key_size}-byte key")
            to_int = _int_of
        self._getters: list[Callable[[Any], Any]] = []
        self._decoders: list[Decoder] = []
        self._bucket_of: Optional[Callable[[Any], Any]] = None
        self._bucket_field = bucket_field
        if key.shape == "struct":
            assert key_t is not None
            for i, label in enumerate(self.labels):
                where = f"labels[{i}]"
                if not label.field:
                    raise MetricError(f"{what}: the key is {key_t.c_name}: label "
                                      f"{label.name!r} must name a field of it (fields: "
                                      f"{', '.join(_member_names(key_t.resolve()))})", where)
                if label.field == bucket_field:
                    raise MetricError(f"{what}: label {label.name!r}: field {label.field!r} is "
                                      "the bucket field", where)
                try:
                    ft, _ = member_path(key_t, label.field)
                except KeyError as e:
                    raise MetricError(f"{what}: label {label.name!r}: {e.args[0]}",
                                      where + ".field") from None
                self._getters.append(operator.attrgetter(label.field))
                self._decoders.append(self._decoder(label, field_info(label.field, ft), where))
            if bucket_field:
                try:
                    bt, _ = member_path(key_t, bucket_field)
                except KeyError as e:
                    raise MetricError(f"{what}: bucket_field: {e.args[0]}",
                                      "bucket_field") from None
                if field_info(bucket_field, bt).shape not in ("int", "enum"):
                    raise MetricError(f"{what}: bucket_field {bucket_field!r} is {bt.c_name}, "
                                      "not an integer", "bucket_field")
                self._bucket_of = operator.attrgetter(bucket_field)
            return
        if key.shape not in ("int", "enum"):
            why = ("its key has no BTF type (compile with -g and declare __type(key, ...))"
                   if key_t is None else f"its key type {key.c_name} can't be decoded")
            raise MetricError(f"{what}: {why}: labels come from int, enum or struct keys", "map")
        if bucket_field:
            raise MetricError(f"{what}: bucket_field {bucket_field!r} names a field, but the "
                              f"key is {key.c_name}, not a struct", "bucket_field")
        if self.kind == "histogram" and not self.labels:
            self._bucket_of = to_int  # the key is the bucket (an array of slots)
        for i, label in enumerate(self.labels):
            where = f"labels[{i}]"
            if label.field:
                raise MetricError(f"{what}: the key is {key.c_name}, not a struct: label "
                                  f"{label.name!r} can't name a field ({label.field!r})", where)
            if i:
                raise MetricError(f"{what}: an int key gives one label, not "
                                  f"{len(self.labels)}", where)
            self._getters.append(to_int)
            self._decoders.append(self._decoder(label, key, where))

    def _decoder(self, label: Label, info: FieldInfo, where: str) -> Decoder:
        try:
            return make_decoder(label.decode, info)
        except ValueError as e:
            raise MetricError(f"{self._what}: label {label.name!r}: {e}",
                              where + ".decode") from None

    def _setup_value(self, value_t: Optional[Type], value_field: Optional[str]) -> None:
        what = self._what
        info = field_info("", value_t)
        if value_t is None:  # no BTF: an int of the value's size reads as an int
            size = self.map.value_size
            if size not in (1, 2, 4, 8):
                raise MetricError(f"{what}: the value has no BTF type and {size} bytes: "
                                  "declare __type(value, ...) and compile with -g", "map")
            info = FieldInfo("", "int", size, f"{size}-byte value")
        getter: Optional[Callable[[Any], Any]] = _int_of if value_t is None else None
        if value_field:
            if info.shape != "struct" or value_t is None:
                raise MetricError(f"{what}: value_field {value_field!r}: the value is "
                                  f"{info.c_name}, not a struct", "value_field")
            try:
                ft, _ = member_path(value_t, value_field)
            except KeyError as e:
                raise MetricError(f"{what}: value_field: {e.args[0]}", "value_field") from None
            info = field_info(value_field, ft)
            getter = operator.attrgetter(value_field)
        elif info.shape == "struct":
            assert value_t is not None
            names = ", ".join(_member_names(value_t.resolve()))
            raise MetricError(f"{what}: the value is {value_t.c_name}: name the field to read "
                              f"with value_field (fields: {names})", "map")
        slots = info.shape == "array"
        where = "value_field" if value_field else "map"
        if slots and self.kind != "histogram":
            raise MetricError(f"{what}: the value is {info.c_name}, an array: only a histogram "
                              "reads an array of slots", where)
        if not slots and info.shape not in ("int", "enum"):
            raise MetricError(f"{what}: the value is {info.c_name}: metrics read integers",
                              where)
        if self.kind == "histogram":
            if slots:
                if self._bucket_field:
                    raise MetricError(f"{what}: the slots are in the value ({info.c_name}): "
                                      "no bucket_field", "bucket_field")
                self._bucket_of = None
            elif self._bucket_of is None:
                raise MetricError(f"{what}: where is the bucket? name the key field holding "
                                  "it (bucket_field), key the map by bucket, or put the slots "
                                  "in an array value", "bucket_field")
        self._slots = slots
        self._value_of = _value_reader(getter, self._percpu, slots)

    # --- prometheus_client's collector protocol

    def describe(self) -> list[Any]:
        """The metric family without samples (lets the registry check names, no map read)."""
        return [self._family()]

    def _family(self) -> Any:
        core = require("prometheus_client.core")
        names = [x.name for x in self.labels]
        if self.kind == "counter":
            return core.CounterMetricFamily(self.name, self.help, labels=names)
        if self.kind == "gauge":
            return core.GaugeMetricFamily(self.name, self.help, labels=names)
        return core.HistogramMetricFamily(self.name, self.help, labels=names)

    def collect(self) -> Iterator[Any]:
        """Read the map (batch) and yield the metric family."""
        family = self._family()
        if self.kind == "histogram":
            self._collect_histogram(family)
        else:
            # family.add_metric() builds each sample's label dict anew: with 100k series that
            # is most of the time; the dicts are kept per label set instead (read-only use)
            Sample = require("prometheus_client.samples").Sample
            sample_name = family.name + ("_total" if self.kind == "counter" else "")
            dicts = self._dicts
            names = [x.name for x in self.labels]
            samples = family.samples
            for labels, value in self.totals().items():
                d = dicts.get(labels)
                if d is None:
                    if len(dicts) >= _CACHE_MAX:
                        dicts.clear()
                    d = dicts[labels] = dict(zip(names, labels))
                samples.append(Sample(sample_name, d, value, None, None))
        yield family

    def exposition(self) -> str:
        """The metric in Prometheus's text format (0.0.4), written directly: the same lines as
        ``prometheus_client.generate_latest`` gives for ``collect()``, without building a
        sample object per series (the text of each label set is kept between scrapes).
        Histograms go through prometheus_client."""
        if self.kind == "histogram":
            exposition = require("prometheus_client.exposition")
            return exposition.generate_latest(_One(self)).decode()
        name = self.name
        if self.kind == "counter":
            name = (name[:-6] if name.endswith("_total") else name) + "_total"
        help_text = self.help.replace("\\", "\\\\").replace("\n", "\\n")
        parts = [f"# HELP {name} {help_text}\n# TYPE {name} {self.kind}\n"]
        prefixes = self._prefixes
        names = [x.name for x in self.labels]
        for labels, value in self.totals().items():
            prefix = prefixes.get(labels)
            if prefix is None:
                if len(prefixes) >= _CACHE_MAX:
                    prefixes.clear()
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(zip(names, labels)))
                prefix = prefixes[labels] = f"{name}{{{inner}}} " if inner else f"{name} "
            parts.append(f"{prefix}{value}\n")
        return "".join(parts)

    def _labels_of(self, key: Any) -> tuple[str, ...]:
        cache_key = self._cache_key
        if cache_key is None:
            cache_key = self._cache_key = _cache_key_of(key)
        ck = cache_key(key)
        got = self._cache.get(ck)
        if got is not None:
            return got
        out = []
        cacheable = True
        for get, decode in zip(self._getters, self._decoders):
            raw = get(key)
            text = decode(raw)
            if text is None:
                cacheable = False
                text = str(int(raw)) if isinstance(raw, int) else repr(raw)
            out.append(text)
        labels = tuple(out)
        if cacheable:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[ck] = labels
        return labels

    def totals(self) -> dict[tuple[str, ...], int]:
        """Label values -> the summed value, from one batch read of the map."""
        value_of = self._value_of
        out: dict[tuple[str, ...], int] = {}
        items = self.map.items()
        if not self.labels:
            out[()] = sum(value_of(v) for v in self.map.values())
            return out
        labels_of = self._labels_of
        get = out.get
        for k, v in items:
            labels = labels_of(k)
            out[labels] = get(labels, 0) + value_of(v)
        return out

    def _collect_histogram(self, family: Any) -> None:
        b = self._buckets
        assert b is not None
        counts: dict[tuple[str, ...], dict[int, int]] = {}
        value_of, bucket_of = self._value_of, self._bucket_of
        labels_of = self._labels_of if self.labels else (lambda _k: ())
        for k, v in self.map.items():
            labels = labels_of(k)
            hist = counts.get(labels)
            if hist is None:
                hist = counts[labels] = {}
            if self._slots:
                for i, n in enumerate(value_of(v)):
                    if n:
                        hist[i] = hist.get(i, 0) + n
            else:
                i = int(bucket_of(k))  # type: ignore[misc]
                n = value_of(v)
                if n:
                    hist[i] = hist.get(i, 0) + n
        sums = self._sum_metric.totals() if self._sum_metric is not None else None
        from prometheus_client.utils import floatToGoString

        last = b.count - 1 if b.overflow else b.count
        les = [floatToGoString(b.le(i)) for i in range(last)]
        for labels, hist in counts.items():
            buckets = []
            cum = 0
            for i in range(last):
                cum += hist.get(i, 0)
                buckets.append((les[i], cum))
            total = sum(hist.values())
            buckets.append(("+Inf", total))
            if sums is not None:
                sum_value = float(sums.get(labels, 0))
            else:
                sum_value = sum(n * b.mid(i) for i, n in hist.items())
            family.add_metric(labels, buckets, sum_value)

    def __repr__(self) -> str:
        return f"<MapMetric {self.name} {self.kind} of map '{self.map.name}'>"


def _identity(x: Any) -> Any:
    return x


class _One:
    """One collector as a registry (``generate_latest`` only calls ``collect()``)."""

    def __init__(self, collector: Any) -> None:
        self._collector = collector

    def collect(self) -> Any:
        return self._collector.collect()


def _valid_name(name: str, colon: bool = False) -> bool:
    """A metric (``colon``) or label name of Prometheus's classic charset."""
    if not name or name[0].isdigit():
        return False
    extra = "_:" if colon else "_"
    return all(c.isascii() and (c.isalnum() or c in extra) for c in name)


def _escape(value: str) -> str:
    """A label value in the text format: backslash, double quote and newline escaped."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _int_of(x: Any) -> int:
    """An unsigned int from what Map gives for a key or value without BTF: an int or bytes."""
    return int.from_bytes(x, sys.byteorder) if isinstance(x, bytes) else x


def _cache_key_of(key: Any) -> Callable[[Any], Any]:
    """How to key the label cache by a map key: itself when hashable, else its bytes."""
    try:
        hash(key)
        return _identity
    except TypeError:
        return bytes


def _value_reader(getter: Optional[Callable[[Any], Any]], percpu: bool,
                  slots: bool) -> Callable[[Any], Any]:
    """A function from a map value (as ``Map`` decodes it) to the number (or, for slots, the
    list of counts) the metric reads: the field, summed over CPUs."""
    if slots:
        def one(v: Any) -> list[int]:
            arr = getter(v) if getter is not None else v
            return [int(x) for x in arr]
        if not percpu:
            return one

        def slots_sum(v: Any) -> list[int]:
            rows = [one(x) for x in v]
            return [sum(col) for col in zip(*rows)] if rows else []
        return slots_sum
    if getter is None:
        return sum if percpu else _identity  # type: ignore[return-value]
    g = getter
    if percpu:
        return lambda v: sum(g(x) for x in v)
    return g
