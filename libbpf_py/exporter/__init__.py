"""Prometheus metrics from BPF maps: a library feature and a command (``exporter``).

``pip install 'libbpf_py[exporter]'`` brings what it needs (prometheus_client, and PyYAML for
config files); ``import libbpf_py`` never imports any of it, and this package imports them on
first use, with an error naming the extra when they are missing.

- ``MapMetric(map, name, kind=..., labels=[...], ...)``: one map as one metric, a
  prometheus_client collector to register on a registry (embed it in your own program).
- ``Exporter(config)``: the BPF objects of a config (YAML file or dict) opened, checked,
  loaded and attached, their maps served as metrics (``python -m libbpf_py exporter --config
  FILE``), with per-object health. ``ConfigError`` names the file, line and key of a problem.
- ``DECODERS``: the label decoders (ints, enums, strings, errno, syscall names, ports, IPv4/IPv6,
  kernel symbols, cgroup paths, static tables).

See docs/exporter.md.
"""

from __future__ import annotations

from ._config import ConfigError, load_config, parse_config
from ._decoders import DECODERS
from ._exporter import Exporter
from ._metric import Label, LinearBuckets, Log2Buckets, MapMetric, MetricError

__all__ = ["ConfigError", "DECODERS", "Exporter", "Label", "LinearBuckets", "Log2Buckets",
           "MapMetric", "MetricError", "load_config", "parse_config"]
