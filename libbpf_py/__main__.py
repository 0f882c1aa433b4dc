"""Command line: ``python -m libbpf_py COMMAND`` (also the ``libbpf-py`` script).

Commands: ``version``; ``features [--json]`` (what this kernel supports); ``inspect FILE.bpf.o
[--json]`` (programs, maps, globals, CO-RE relocations, license; unprivileged); ``btf dump
[FILE | vmlinux] [--format c|raw]``; ``gen types HEADER... [-o OUT.py]`` (Python types for a C
header, through clang); ``prog list``, ``map list``, ``link list`` and ``map dump
ID|PINNED_PATH`` (kernel-wide, root; ``--json``); ``exporter --config FILE`` (BPF maps as
Prometheus metrics, :mod:`libbpf_py.exporter`); and every built-in tool (``execsnoop`` ...),
each with its own ``--help``. The commands live in :mod:`libbpf_py.cli`, imported only when one
runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .tools import TOOLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def _version(_args: argparse.Namespace) -> int:
    import libbpf_py

    print(f"libbpf_py {libbpf_py.__version__} (bundled libbpf {libbpf_py.LIBBPF_VERSION})")
    return 0


def _features(args: argparse.Namespace) -> int:
    from .cli import features

    return features.run(args.json)


def _inspect(args: argparse.Namespace) -> int:
    from .cli import inspect

    return inspect.run(args.file, args.json)


def _btf(args: argparse.Namespace) -> int:
    from .cli import btf

    return btf.run(args)


def _gen(args: argparse.Namespace) -> int:
    from .cli import gen

    return gen.run(args)


def _listing(args: argparse.Namespace) -> int:
    from .cli import listing

    return listing.run(args)


def _exporter(args: argparse.Namespace) -> int:
    from .cli import exporter

    return exporter.run(args)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="libbpf_py", description="libbpf_py command line.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("version", help="libbpf_py and bundled libbpf versions").set_defaults(
        func=_version)
    f = sub.add_parser("features", help="what this kernel supports (needs root for probes)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_features)
    i = sub.add_parser("inspect", help="programs, maps, globals, CO-RE relocations and "
                       "license of a BPF object (unprivileged)")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_inspect)
    b = sub.add_parser("btf", help="BTF: `btf dump [FILE | vmlinux] [--format c|raw]`")
    bsub = b.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = bsub.add_parser("dump", help="dump a BTF as C (a compilable vmlinux.h) or one line per "
                        "type")
    d.add_argument("source", nargs="?", default="vmlinux",
                   help="an ELF object, a raw BTF file, or vmlinux (the default)")
    d.add_argument("--format", choices=("c", "raw"), default="c")
    d.set_defaults(func=_btf)
    g = sub.add_parser("gen", help="generate Python: `gen types HEADER...` (ctypes classes for "
                       "the types a C header defines, through clang), `gen skeleton OBJ`")
    gsub = g.add_subparsers(dest="action", metavar="ACTION", required=True)
    gt = gsub.add_parser("types", help="ctypes classes for the structs, unions, enums and "
                         "typedefs of C headers (event structs a program's BTF leaves out)")
    gt.add_argument("headers", nargs="+", metavar="HEADER")
    gt.add_argument("-o", "--output", help="the Python module to write (default: stdout)")
    gt.add_argument("-t", "--type", action="append", metavar="SPELLING",
                    help="only this type and what it uses ('struct event'); repeatable")
    gt.add_argument("--clang", default="clang", help="the clang to run (default: clang)")
    gt.add_argument("--cflags", nargs=argparse.REMAINDER, default=[],
                    help="flags for clang, as for the BPF program (-I..., -D...): last")
    gt.set_defaults(func=_gen)
    gs = gsub.add_parser("skeleton", help="a typed Python module embedding a BPF object: "
                         "its programs, maps (key/value types) and globals, its lifecycle")
    gs.add_argument("object", metavar="OBJECT", help="the BPF object (prog.bpf.o)")
    gs.add_argument("-o", "--output", help="the module to write (default: stdout)")
    gs.add_argument("--name", help="the skeleton's name (default: from the file, prog)")
    gs.add_argument("-t", "--type", action="append", default=[], metavar="SPELLING",
                    help="also write this type ('struct event'): from the object's BTF, its "
                    "DWARF, or --header; repeatable")
    gs.add_argument("--header", action="append", default=[], metavar="HEADER",
                    help="a C header defining --type types (compiled by clang); repeatable")
    gs.add_argument("--object-resource", metavar="PACKAGE:PATH",
                    help="do not embed the object: load PATH of the installed PACKAGE "
                    "(libbpf_py.tools:bpf/runqlat.bpf.o) and check its layout at open")
    gs.add_argument("--clang", default="clang", help="the clang to run (default: clang)")
    gs.add_argument("--cflags", nargs=argparse.REMAINDER, default=[],
                    help="flags for clang with --header (-I..., -D...): last")
    gs.set_defaults(func=_gen)
    for noun, what in (("prog", "programs"), ("map", "maps"), ("link", "links")):
        n = sub.add_parser(noun, help=f"kernel-wide {what}: `{noun} list`"
                           + (", `map dump ID|PINNED_PATH`" if noun == "map" else ""))
        nsub = n.add_subparsers(dest="action", metavar="ACTION", required=True)
        ls = nsub.add_parser("list", help=f"every {noun} loaded in the kernel (root)")
        ls.add_argument("--json", action="store_true")
        ls.set_defaults(func=_listing)
        if noun == "map":
            md = nsub.add_parser("dump", help="a map's entries, formatted through its BTF")
            md.add_argument("map", metavar="ID|PINNED_PATH")
            md.add_argument("--json", action="store_true")
            md.set_defaults(func=_listing)
    e = sub.add_parser("exporter", help="serve BPF maps as Prometheus metrics, as a config file "
                       "says: `exporter --config FILE [--listen [HOST]:PORT] [--check]`")
    from .cli.exporter import add_arguments

    add_arguments(e)
    e.set_defaults(func=_exporter)
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
    from .cli import CliError

    try:
        return int(ns.func(ns))
    except BrokenPipeError:  # `... | head`: the reader went away; no error at exit's flush
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyError as e:  # str(KeyError) quotes its message
        print(f"libbpf_py {ns.command}: {e.args[0] if e.args else e}", file=sys.stderr)
        return 1
    except (CliError, OSError, ValueError) as e:
        print(f"libbpf_py {ns.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
