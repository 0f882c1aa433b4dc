"""The exporter's configuration: YAML (or a dict) -> checked ``ObjectSpec``s and ``MetricSpec``s.

YAML, read by PyYAML's safe loader, keeps the line of every key, so that an error names the file,
the line and the key: ``exporter.yaml:14: objects[0].metrics[1].labels[0].decode: unknown
decoder 'ipv5' (decoders: ...)``. The same dict, built in Python, is checked the same way
(without lines). Checks that need the object (its maps, their BTF key types, programs, rodata
variables) happen when ``Exporter`` opens it, and are reported the same way.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["ConfigError", "ObjectSpec", "MetricSpec", "load_config", "parse_config"]

#: Object.open()'s keyword arguments a config may set under ``open:``
OPEN_OPTIONS = ("name", "btf_custom_path", "pin_root_path", "kconfig", "kernel_log_level",
                "bpf_token_path")
_OBJECT_KEYS = ("name", "path", "open", "rodata", "programs", "metrics")
_METRIC_KEYS = ("name", "type", "help", "map", "labels", "value_field", "buckets",
                "bucket_field", "sum_map")


class ConfigError(ValueError):
    """A bad exporter configuration: ``file``, ``line`` (1-based; None for a dict config),
    ``key`` (its path, ``objects[0].metrics[1].map``) and the problem, all in ``str()``."""

    def __init__(self, message: str, *, file: Optional[str] = None, line: Optional[int] = None,
                 key: Optional[str] = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        where = file or "<config>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


class _Node:
    """A place in the config: its key path and line, for errors."""

    __slots__ = ("file", "path", "line")

    def __init__(self, file: Optional[str], path: str, line: Optional[int]) -> None:
        self.file, self.path, self.line = file, path, line

    def child(self, container: Any, key: Any) -> _Node:
        lines = getattr(container, "lines", None)
        line = lines.get(key) if isinstance(lines, dict) else None
        if line is None and isinstance(lines, list) and isinstance(key, int) \
                and key < len(lines):
            line = lines[key]
        path = f"{self.path}[{key}]" if isinstance(key, int) else \
            (f"{self.path}.{key}" if self.path else str(key))
        return _Node(self.file, path, line if line is not None else self.line)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line, key=self.path or None)


class _LocDict(dict):  # type: ignore[type-arg]
    lines: dict[Any, int]


class _LocList(list):  # type: ignore[type-arg]
    lines: list[int]


def _yaml_loader() -> Any:
    from ._metric import require

    yaml = require("yaml")
    class Loader(yaml.SafeLoader):  # type: ignore[misc, name-defined]
        """The safe loader, keeping each key's and item's line (a config is small: the
        pure-Python loader's speed does not matter)."""

    def mapping(loader: Any, node: Any) -> _LocDict:
        out = _LocDict()
        out.lines = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConfigError(f"a key can't be a {type(key).__name__}",
                                  line=knode.start_mark.line + 1) from None
            if key in out:
                raise ConfigError(f"key {key!r} is given twice",
                                  line=knode.start_mark.line + 1)
            out[key] = loader.construct_object(vnode, deep=True)
            out.lines[key] = knode.start_mark.line + 1
        return out

    def sequence(loader: Any, node: Any) -> _LocList:
        out = _LocList(loader.construct_object(v, deep=True) for v in node.value)
        out.lines = [v.start_mark.line + 1 for v in node.value]
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, sequence)
    return yaml, Loader


class MetricSpec:
    """One metric of an object, checked for shape (its map is checked at open)."""

    def __init__(self, node: _Node, d: dict[str, Any]) -> None:
        self.node = node
        self.node_dict = d
        self.name: str = d["name"]
        self.kind: str = d.get("type", "counter")
        self.help: str = d.get("help", "")
        self.map: str = d["map"]
        self.labels: list[dict[str, Any]] = d.get("labels", [])
        self.label_nodes: list[_Node] = []
        self.value_field: Optional[str] = d.get("value_field")
        self.buckets: Any = d.get("buckets")
        self.bucket_field: Optional[str] = d.get("bucket_field")
        self.sum_map: Optional[str] = d.get("sum_map")

    def at(self, key: str) -> _Node:
        return self.node.child(self.node_dict, key)

    def at_path(self, path: Optional[str]) -> _Node:
        """The node of ``"labels[1]"``, ``"value_field"`` ... (None: the metric itself)."""
        if not path:
            return self.node
        if path.startswith("labels["):
            i = int(path[len("labels["):path.index("]")])
            sub = path[path.index("]") + 2:]
            if i < len(self.label_nodes):
                node = self.label_nodes[i]
                label = self.labels[i]
                return node.child(label, sub) if sub and sub in label else node
        if path in self.node_dict:
            return self.at(path)
        return self.node


class ObjectSpec:
    """One BPF object of the config: where it is, how to open it, what to attach and read."""

    def __init__(self, node: _Node, d: dict[str, Any], base_dir: str) -> None:
        self.node = node
        self.node_dict = d
        path = d["path"]
        self.path: str = path if os.path.isabs(path) else os.path.join(base_dir, path)
        self.name: str = d.get("name") or os.path.basename(path).split(".", 1)[0]
        self.open: dict[str, Any] = dict(d.get("open", {}))
        self.rodata: dict[str, Any] = dict(d.get("rodata", {}))
        self.programs: Optional[list[str]] = d.get("programs")
        self.metrics: list[MetricSpec] = []

    def at(self, key: str) -> _Node:
        return self.node.child(self.node_dict, key)


def _check_keys(node: _Node, d: Any, allowed: tuple[str, ...], required: tuple[str, ...],
                what: str) -> None:
    if not isinstance(d, dict):
        raise node.error(f"{what} is a mapping ({', '.join(allowed)}), not "
                         f"{type(d).__name__}")
    for key in d:
        if key not in allowed:
            raise node.child(d, key).error(f"unknown key in {what} (keys: "
                                           f"{', '.join(allowed)})")
    for key in required:
        if key not in d:
            raise node.error(f"{what} needs {key!r}")


def _want(node: _Node, value: Any, types: Any, what: str) -> None:
    if not isinstance(value, types) or isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else
                                                  (types,)))
        raise node.error(f"{what} is a {names}, not {type(value).__name__} ({value!r})")


def parse_config(data: Any, *, file: Optional[str] = None,
                 base_dir: Optional[str] = None) -> list[ObjectSpec]:
    """Check a config (parsed YAML, or a dict built in Python) and return its objects.

    ``ConfigError`` names the file, line and key of the first problem. ``base_dir``: where
    relative object paths start (the config file's directory; default the current one).
    """
    from ._metric import KINDS

    root = _Node(file, "", None)
    _check_keys(root, data, ("objects",), ("objects",), "the config")
    objs = data["objects"]
    onode = root.child(data, "objects")
    if not isinstance(objs, list) or not objs:
        raise onode.error("objects is a non-empty list of BPF objects")
    base = base_dir if base_dir is not None else os.getcwd()
    out: list[ObjectSpec] = []
    seen_objects: dict[str, _Node] = {}
    seen_metrics: dict[str, _Node] = {}
    for i, od in enumerate(objs):
        node = onode.child(objs, i)
        _check_keys(node, od, _OBJECT_KEYS, ("path", "metrics"), "an object")
        _want(node.child(od, "path"), od["path"], str, "path")
        if "name" in od:
            _want(node.child(od, "name"), od["name"], str, "name")
        spec = ObjectSpec(node, od, base)
        if spec.name in seen_objects:
            raise node.child(od, "name" if "name" in od else "path").error(
                f"object name {spec.name!r} is used twice: give each object its own name")
        seen_objects[spec.name] = node
        if "open" in od:
            _check_keys(node.child(od, "open"), od["open"], OPEN_OPTIONS, (), "open")
        if "rodata" in od and not isinstance(od["rodata"], dict):
            raise node.child(od, "rodata").error("rodata is a mapping of variable: value")
        if "programs" in od:
            progs = od["programs"]
            pnode = node.child(od, "programs")
            if not isinstance(progs, list) or not all(isinstance(p, str) for p in progs):
                raise pnode.error("programs is a list of program names to attach")
        metrics = od["metrics"]
        mnode = node.child(od, "metrics")
        if not isinstance(metrics, list) or not metrics:
            raise mnode.error("metrics is a non-empty list")
        for j, md in enumerate(metrics):
            node_j = mnode.child(metrics, j)
            _check_keys(node_j, md, _METRIC_KEYS, ("name", "map"), "a metric")
            for key in ("name", "map", "help", "value_field", "bucket_field", "sum_map"):
                if key in md:
                    _want(node_j.child(md, key), md[key], str, key)
            kind = md.get("type", "counter")
            if kind not in KINDS:
                raise node_j.child(md, "type").error(
                    f"unknown metric type {kind!r} (types: {', '.join(KINDS)})")
            if md["name"] in seen_metrics:
                raise node_j.child(md, "name").error(
                    f"metric {md['name']!r} is defined twice")
            seen_metrics[md["name"]] = node_j
            ms = MetricSpec(node_j, md)
            labels = md.get("labels", [])
            lnode = node_j.child(md, "labels")
            if not isinstance(labels, list):
                raise lnode.error("labels is a list of {name, field, decode}")
            for k, ld in enumerate(labels):
                node_k = lnode.child(labels, k)
                _check_keys(node_k, ld, ("name", "field", "decode"), ("name",), "a label")
                _want(node_k.child(ld, "name"), ld["name"], str, "name")
                if "field" in ld:
                    _want(node_k.child(ld, "field"), ld["field"], str, "field")
                ms.label_nodes.append(node_k)
            if "buckets" in md:
                from ._metric import _Buckets

                try:
                    _Buckets.of(md["buckets"])
                except (TypeError, ValueError) as e:
                    raise node_j.child(md, "buckets").error(str(e).split(": ", 1)[-1]) \
                        from None
            if kind == "histogram" and "buckets" not in md:
                raise node_j.error("a histogram needs buckets ({type: log2, count: N})")
            spec.metrics.append(ms)
        out.append(spec)
    return out


def load_config(path: str) -> list[ObjectSpec]:
    """Read and check a YAML config file (``ConfigError`` naming file, line and key)."""
    yaml, loader = _yaml_loader()
    with open(path) as f:
        text = f.read()
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as e:
        raise ConfigError(e.message, file=path, line=e.line) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"not valid YAML: {problem}", file=path, line=line) from None
    return parse_config(data, file=path, base_dir=os.path.dirname(os.path.abspath(path)))
