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
