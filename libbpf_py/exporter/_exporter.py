"""``Exporter``: the objects of a config, loaded and attached, their maps served as metrics.

``start()`` opens every object and checks everything the config says against it (maps, their
BTF key and value types, decoders, programs, rodata variables): any problem is a
``ConfigError`` naming the file, line and key, and nothing is loaded. Then each object is
loaded and attached on its own: one that fails (the verifier refuses a program, the kernel lacks
a hook) is reported and closed, and the others run. ``libbpf_py_exporter_object_up{object}``
says which are up; ``libbpf_py_exporter_scrape_errors_total{object, metric}`` counts maps that
could not be read at a scrape (that metric is left out of that scrape, the others are served).
"""

from __future__ import annotations

import logging
import os
import threading

from ._config import ConfigError, ObjectSpec, load_config, parse_config
from ._metric import MapMetric, MetricError, require

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional, Union

    from ..object import Object, OpenObject

__all__ = ["Exporter"]

log = logging.getLogger("libbpf_py.exporter")

UP = "libbpf_py_exporter_object_up"
ERRORS = "libbpf_py_exporter_scrape_errors_total"


class _Object:
    """One object of the config at run time: its spec, state and metrics."""

    __slots__ = ("spec", "opened", "obj", "metrics", "error", "links")

    def __init__(self, spec: ObjectSpec) -> None:
        self.spec = spec
        self.opened: Optional[OpenObject] = None
        self.obj: Optional[Object] = None
        self.metrics: list[MapMetric] = []
        self.error: Optional[str] = None
        self.links: list[Any] = []  # kept: a Link dropped by every holder may detach


class Exporter:
    """The BPF objects of a config, loaded and attached, their maps exposed as Prometheus
    metrics on ``registry`` (a new ``prometheus_client.CollectorRegistry`` by default).

    ``config``: a YAML file's path, or the same structure as a dict. Construction checks the
    config's shape (``ConfigError``); ``start()`` opens, checks, loads and attaches (root);
    ``serve(port, host)`` starts the HTTP endpoint; ``close()`` (or ``with``) stops serving and
    closes every object (their programs detach). ``up`` maps object names to whether they run.
    """

    def __init__(self, config: Union[str, os.PathLike[str], dict[str, Any]], *,
                 registry: Any = None) -> None:
        prometheus_client = require("prometheus_client")
        require("prometheus_client.exposition")
        if isinstance(config, dict):
            self.file: Optional[str] = None
            specs = parse_config(config)
        else:
            self.file = os.fspath(config)
            specs = load_config(self.file)
        self.registry = registry if registry is not None else \
            prometheus_client.CollectorRegistry(auto_describe=True)
        self._objects = [_Object(s) for s in specs]
        self._errors: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._registered = False
        self._started = False

    # --- lifecycle

    def start(self) -> Exporter:
        """Open and check every object, then load and attach each (root). Returns self.

        ``ConfigError`` (nothing loaded) for a config that does not fit its objects; an object
        that fails to load or attach is logged, closed and reported down, the others run.
        """
        if self._started:
            raise RuntimeError("the exporter was started already (make a new one to restart)")
        self._started = True
        try:
            for o in self._objects:
                self._open(o)
        except BaseException:
            self.close()
            raise
        for o in self._objects:
            self._load(o)
        if not self._registered:
            self.registry.register(_Collector(self))
            self._registered = True
        return self

    def check(self) -> None:
        """Open every object and check the config against it, then close them: no load, no
        privileges. ``ConfigError`` names the first problem."""
        try:
            for o in self._objects:
                self._open(o)
        finally:
            self.close()

    def _open(self, o: _Object) -> None:
        from ..object import Object

        spec = o.spec
        try:
            o.opened = Object.open(spec.path, **spec.open)
        except FileNotFoundError:
            raise spec.at("path").error(f"no such file: {spec.path}") from None
        except (OSError, ValueError, TypeError) as e:
            raise spec.at("path").error(f"can't open {spec.path}: {e}") from None
        opened = o.opened
        rnode = spec.at("rodata")
        for var, value in spec.rodata.items():
            node = rnode.child(spec.node_dict["rodata"], var)
            try:
                setattr(opened.rodata, var, value)
            except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as e:
                msg = e.args[0] if e.args else str(e)
                raise node.error(f"can't set rodata variable {var!r}: {msg}") from None
        if spec.programs is not None:
            names = list(opened.programs)
            pnode = spec.at("programs")
            for i, name in enumerate(spec.programs):
                if name not in opened.programs:
                    raise pnode.child(spec.node_dict["programs"], i).error(
                        f"object '{spec.name}' has no program {name!r} (programs: "
                        f"{', '.join(names)})")
            for name, prog in opened.programs.items():
                if name not in spec.programs:
                    prog.autoload = False  # not attached: not loaded either
        btf = opened.btf
        maps = opened.maps
        for ms in spec.metrics:
            if ms.map not in maps:
                raise ms.at("map").error(f"object '{spec.name}' has no map {ms.map!r} (maps: "
                                         f"{', '.join(maps)})")
            if ms.sum_map is not None and ms.sum_map not in maps:
                raise ms.at("sum_map").error(f"object '{spec.name}' has no map "
                                             f"{ms.sum_map!r} (maps: {', '.join(maps)})")
            try:
                metric = MapMetric(maps[ms.map], ms.name, kind=ms.kind, help=ms.help,
                                   labels=ms.labels, value_field=ms.value_field,
                                   buckets=ms.buckets, bucket_field=ms.bucket_field,
                                   sum_map=maps[ms.sum_map] if ms.sum_map else None, btf=btf)
            except MetricError as e:
                raise ms.at_path(e.key).error(e.args[0]) from None
            o.metrics.append(metric)

    def _load(self, o: _Object) -> None:
        spec = o.spec
        opened = o.opened
        assert opened is not None
        o.opened = None
        try:
            obj = opened.load()
        except Exception as e:  # the verifier, a missing kernel feature ...: this object only
            o.error = f"load failed: {e}"
            o.metrics = []
            opened.close()
            log.error("object '%s' (%s): %s", spec.name, spec.path, o.error)
            return
        try:
            if spec.programs is None:
                o.links = obj.attach()
            else:
                o.links = [obj.programs[name].attach() for name in spec.programs]
        except Exception as e:
            o.error = f"attach failed: {e}"
            o.metrics = []
            obj.close()
            log.error("object '%s' (%s): %s", spec.name, spec.path, o.error)
            return
        o.obj = obj

    @property
    def up(self) -> dict[str, bool]:
        """Object name -> whether it is loaded and attached."""
        return {o.spec.name: o.obj is not None for o in self._objects}

    @property
    def errors(self) -> dict[str, str]:
        """Object name -> why it is down (objects that are up are not listed)."""
        return {o.spec.name: o.error for o in self._objects if o.error}

    def objects(self) -> dict[str, Object]:
        """The loaded objects by name (read their maps, globals ...; owned by the exporter)."""
        return {o.spec.name: o.obj for o in self._objects if o.obj is not None}

    def serve(self, port: int, host: str = "") -> tuple[str, int]:
        """Serve ``GET /metrics`` (``expose()``) over HTTP on ``host:port`` from a background
        thread (``http.server``; one thread per request). ``host`` "" is every IPv4 address,
        ``port`` 0 any free port. Returns the address bound. ``close()`` stops it."""
        import socket
        from http.server import ThreadingHTTPServer

        if self._server is not None:
            raise RuntimeError("the exporter is serving already")

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        server = Server((host, port), _handler(self))
        thread = threading.Thread(target=server.serve_forever, name="libbpf_py-exporter",
                                  daemon=True)
        thread.start()
        self._server = server
        addr = server.server_address
        return str(addr[0]), int(addr[1])

    def close(self) -> None:
        """Stop serving and close every object (detaching its programs). Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        for o in self._objects:
            for handle in (o.opened, o.obj):
                if handle is not None:
                    handle.close()
            o.opened = o.obj = None
            o.metrics = []
            o.links = []

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scrape

    def _guarded(self, render: Any) -> Iterator[Any]:
        """``render(metric)`` for every metric of the objects that are up; a metric whose map
        can't be read (a closed object, a read error) is logged, counted and left out."""
        for o in self._objects:
            for metric in list(o.metrics):
                try:
                    out = render(metric)
                except Exception as e:
                    with self._lock:
                        key = (o.spec.name, metric.name)
                        self._errors[key] = self._errors.get(key, 0) + 1
                    log.warning("object '%s' metric %s: %s", o.spec.name, metric.name, e)
                    continue
                yield out

    def _health(self) -> list[Any]:
        core = require("prometheus_client.core")
        up = core.GaugeMetricFamily(UP, "Whether the BPF object is loaded and attached (1) or "
                                    "failed (0)", labels=["object"])
        for o in self._objects:
            up.add_metric([o.spec.name], 1.0 if o.obj is not None else 0.0)
        errors = core.CounterMetricFamily(ERRORS, "Metrics left out of a scrape because their "
                                          "map could not be read", labels=["object", "metric"])
        with self._lock:
            for (obj_name, metric_name), n in sorted(self._errors.items()):
                errors.add_metric([obj_name, metric_name], n)
        return [up, errors]

    def collect(self) -> Iterator[Any]:
        """Every metric family of the objects that are up, then the exporter's own (the
        prometheus_client collector protocol)."""
        for families in self._guarded(lambda m: list(m.collect())):
            yield from families
        yield from self._health()

    def expose(self) -> bytes:
        """Every metric in Prometheus's text format (what ``GET /metrics`` answers): the map
        metrics written directly (``MapMetric.exposition()``), the rest by prometheus_client."""
        exposition = require("prometheus_client.exposition")
        parts = list(self._guarded(MapMetric.exposition))
        health = self._health()
        parts.append(exposition.generate_latest(_Families(health)).decode())
        return "".join(parts).encode()


class _Families:
    """Families as a registry for ``generate_latest``."""

    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> list[Any]:
        return self._families


def _handler(exporter: Exporter) -> Any:
    """The request handler class of ``serve()``: /metrics (gzip when asked), 404 otherwise."""
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "the metrics are at /metrics")
                return
            try:
                body = exporter.expose()
            except Exception as e:  # noqa: BLE001 - answered, and logged
                log.error("scrape failed: %s", e)
                self.send_error(500, str(e))
                return
            gzip = "gzip" in self.headers.get("Accept-Encoding", "")
            if gzip:
                import gzip as gzip_module

                body = gzip_module.compress(body, compresslevel=1)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            if gzip:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no line per scrape

    return Handler


class _Collector:
    """The exporter as a prometheus_client collector (describe() reads no map)."""

    def __init__(self, exporter: Exporter) -> None:
        self._exporter = exporter

    def describe(self) -> list[Any]:
        core = require("prometheus_client.core")
        out = [m.describe()[0] for o in self._exporter._objects for m in o.metrics]
        out.append(core.GaugeMetricFamily(UP, "", labels=["object"]))
        out.append(core.CounterMetricFamily(ERRORS, "", labels=["object", "metric"]))
        return out

    def collect(self) -> Iterator[Any]:
        return self._exporter.collect()


__all__ += ["ConfigError"]
