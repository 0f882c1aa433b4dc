"""``exporter``: serve BPF maps as Prometheus metrics, as a config file says.

    python -m libbpf_py exporter --config exporter.yaml [--listen [HOST]:PORT] [--check]

Opens, checks, loads and attaches every object of the config (``libbpf_py.exporter.Exporter``),
then serves ``/metrics`` until SIGINT or SIGTERM. ``--check`` stops after the checks (no load,
no root needed): a bad config exits 1 with one line naming the file, line and key. Objects that
fail to load are reported on stderr and by ``libbpf_py_exporter_object_up``; the others run.
"""

from __future__ import annotations

import sys

from . import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

DEFAULT_LISTEN = ":9435"


def listen_address(text: str) -> tuple[str, int]:
    """``[HOST]:PORT`` (``[::1]:9435`` for IPv6) -> (host, port); "" is every address."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"--listen: expected [HOST]:PORT with a port 0..65535, not {text!r}")
    return host, number


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="YAML file: objects, programs, metrics "
                   "(docs/exporter.md)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="[HOST]:PORT",
                   help=f"where to serve /metrics (default {DEFAULT_LISTEN}: every address; "
                   "port 0: any free port)")
    p.add_argument("--check", action="store_true",
                   help="check the config against its objects (unprivileged) and exit")


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from ..exporter import ConfigError, Exporter

    host, port = listen_address(args.listen)
    logging.basicConfig(format="libbpf_py exporter: %(message)s", level=logging.INFO)
    try:
        exporter = Exporter(args.config)
        if args.check:
            exporter.check()
            print(f"{args.config}: OK", file=sys.stderr)
            return 0
    except ConfigError as e:
        raise CliError(str(e)) from None
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda _s, _f: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with exporter:
            try:
                exporter.start()
            except ConfigError as e:
                raise CliError(str(e)) from None
            for name, error in exporter.errors.items():
                print(f"libbpf_py exporter: object '{name}' is down: {error}", file=sys.stderr)
            bound_host, bound_port = exporter.serve(port, host)
            up = sum(exporter.up.values())
            print(f"Serving metrics of {up}/{len(exporter.up)} objects on "
                  f"http://{_show(bound_host)}:{bound_port}/metrics", file=sys.stderr,
                  flush=True)
            while not stop.wait(3600):
                pass
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
    return 0


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host
