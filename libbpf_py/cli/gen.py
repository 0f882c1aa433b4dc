"""``gen types HEADER... [-o OUT.py] [-t 'struct event']... [-- CFLAGS...]``.

Python types for the C types a header defines, for event structs a BPF program reaches only
through a local pointer (so they are not in its BTF): the header goes through clang (the
compiler that builds the BPF program), the BTF of a small translation unit is read back, and
ctypes classes are written with exactly its layouts (``gen.pytypes``). Run at build time;
nothing is compiled at run time.
"""

from __future__ import annotations

import sys

from . import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    if args.action == "skeleton":
        return _skeleton(args)
    from ..gen.pytypes import header_btf, python_source

    try:
        btf, spellings = header_btf(args.headers, args.type or None, args.cflags,
                                    clang=args.clang)
    except (RuntimeError, OSError) as e:
        raise CliError(str(e)) from None
    with btf:
        try:
            text = python_source(btf, spellings, ", ".join(args.headers))
        except KeyError as e:
            raise CliError(f"{e.args[0]} is not a type the header defines") from None
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


def _skeleton(args: argparse.Namespace) -> int:
    """``gen skeleton OBJ [-o OUT.py] [--name NAME] [-t SPELLING]... [--header H]...``."""
    import os

    from ..errors import BpfError
    from ..gen.skeleton import default_name, skeleton_source

    name = args.name or default_name(args.object)
    if not name.isidentifier():
        raise CliError(f"--name {name!r}: a skeleton's name must be a Python identifier")
    try:
        with open(args.object, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CliError(f"{args.object}: {e.strerror}") from None
    # the command written into the module: paths as given, relative to the output's directory
    cmd = ["python -m libbpf_py gen skeleton", os.path.basename(args.object)]
    if args.output not in (None, "-"):
        cmd += ["-o", os.path.basename(args.output)]
    if args.name:
        cmd += ["--name", args.name]
    cmd += [f"-t {t!r}" for t in args.type] + [f"--header {h}" for h in args.header]
    if args.object_resource:
        cmd += ["--object-resource", args.object_resource]
    try:
        text = skeleton_source(data, name, " ".join(cmd), args.type, args.header, args.cflags,
                               args.clang, resource=args.object_resource)
    except (BpfError, LookupError, RuntimeError, OSError, ValueError) as e:
        raise CliError(f"{args.object}: {e}") from None
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
    return 0
