"""Command line: ``python -m libbpf_py COMMAND`` (also the ``libbpf-py`` script).

Commands: ``version``; ``features [--json]`` (what this kernel supports); ``inspect FILE.bpf.o
[--json]`` (programs and maps of an object, unprivileged); and every built-in tool
(``execsnoop`` ...), each with its own ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from .tools import TOOLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


def _version(_args: argparse.Namespace) -> int:
    import libbpf_py

    print(f"libbpf_py {libbpf_py.__version__} (bundled libbpf {libbpf_py.LIBBPF_VERSION})")
    return 0


def _features(args: argparse.Namespace) -> int:
    from . import features
    from .enums import MapType, ProgType

    report: dict[str, Any] = {
        "kernel": ".".join(map(str, features.kernel_version())),
        "features": {name: features.has(name) for name in features.FEATURES},
        "program_types": {t.name.lower(): features.program_type(t) for t in ProgType
                          if t != ProgType.UNSPEC},
        "map_types": {t.name.lower(): features.map_type(t) for t in MapType
                      if t != MapType.UNSPEC},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"kernel {report['kernel']}")
    for section in ("features", "program_types", "map_types"):
        print(f"\n{section.replace('_', ' ')}:")
        for name, ok in report[section].items():
            print(f"  {'yes' if ok else 'no ':<4} {name}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .object import Object

    with Object.open(args.file) as obj:
        report = {
            "name": obj.name,
            "programs": [{"name": p.name, "section": p.section, "type": p.type.name.lower(),
                          "instructions": p.insn_count, "autoload": p.autoload}
                         for p in obj.programs.values()],
            "maps": [{"name": m.name, "type": m.type.name.lower(), "key_size": m.key_size,
                      "value_size": m.value_size, "max_entries": m.max_entries,
                      "flags": m.flags} for m in obj.maps.values()],
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"object {report['name']}")
    print("programs:")
    for p in report["programs"]:
        print(f"  {p['name']:<24} {p['type']:<16} {p['instructions']:>6} insns  "
              f"SEC(\"{p['section']}\")")
    print("maps:")
    for m in report["maps"]:
        print(f"  {m['name']:<24} {m['type']:<16} key {m['key_size']:>3}  value "
              f"{m['value_size']:>5}  max_entries {m['max_entries']:<8} flags {m['flags']:#x}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="libbpf_py", description="libbpf_py command line.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("version", help="libbpf_py and bundled libbpf versions").set_defaults(
        func=_version)
    f = sub.add_parser("features", help="what this kernel supports (needs root for probes)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_features)
    i = sub.add_parser("inspect", help="programs and maps of a BPF object (unprivileged)")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_inspect)
    for tool in TOOLS:
        sub.add_parser(tool, help=f"built-in tool (see: {tool} --help)", add_help=False)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in TOOLS:  # tools parse their own arguments
        module = importlib.import_module(f"libbpf_py.tools.{TOOLS[args[0]]}")
        return int(module.main(args[1:]))
    parser = _parser()
    ns = parser.parse_args(args)
    if not getattr(ns, "func", None):
        parser.print_help()
        return 2
    try:
        return int(ns.func(ns))
    except (OSError, KeyError, ValueError) as e:
        print(f"libbpf_py {ns.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
