"""``btf dump [FILE | vmlinux] [--format c|raw]``.

``c``: every type as a compilable C header (``Btf.dump_c``: a vmlinux.h for CO-RE programs).
``raw``: one line per type, like ``bpftool btf dump ... format raw``: ``[id] KIND 'name'``
and its size or referenced type. The source is ``vmlinux`` (the running kernel's BTF, the
default), an ELF object's ``.BTF`` or a raw BTF file. Unprivileged where the file is readable.
"""

from __future__ import annotations

import os
import sys

from ..btf import Btf, Kind
from . import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from ..btf import Type

__all__ = ["raw_lines", "run"]

_SIZED = (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC, Kind.FLOAT)
_LINKAGE = {0: "static", 1: "global", 2: "extern"}


def _line(t: Type) -> str:
    kind = t.kind
    head = f"[{t.id}] {kind.name} '{t.name or '(anon)'}'"
    raw = t.record
    if kind == Kind.INT:
        enc = raw.extra[0]
        encoding = ("BOOL" if enc & 4 else "CHAR" if enc & 2 else "SIGNED" if enc & 1
                    else "(none)")
        return (f"{head} size={raw.size_or_type} bits_offset={raw.extra[1]} "
                f"nr_bits={raw.extra[2]} encoding={encoding}")
    if kind in (Kind.ENUM, Kind.ENUM64):
        return (f"{head} encoding={'SIGNED' if raw.kind_flag else 'UNSIGNED'} "
                f"size={raw.size_or_type} vlen={raw.vlen}")
    if kind in _SIZED:
        extra = f" size={raw.size_or_type}"
        if kind != Kind.FLOAT:
            extra += f" vlen={raw.vlen}"
        return head + extra
    if kind == Kind.ARRAY:
        elem, index, n = raw.extra
        return f"{head} type_id={elem} index_type_id={index} nr_elems={n}"
    if kind == Kind.FUNC_PROTO:
        return f"{head} ret_type_id={raw.size_or_type} vlen={raw.vlen}"
    if kind == Kind.VAR:
        return f"{head} type_id={raw.size_or_type}, linkage={_LINKAGE.get(raw.extra, raw.extra)}"
    if kind == Kind.FUNC:
        return f"{head} type_id={raw.size_or_type} linkage={_LINKAGE.get(raw.vlen, raw.vlen)}"
    if kind == Kind.DECL_TAG:
        idx = raw.extra if raw.extra < 1 << 31 else raw.extra - (1 << 32)
        return f"{head} type_id={raw.size_or_type} component_idx={idx}"
    if kind == Kind.FWD:
        return f"{head} fwd_kind={'union' if raw.kind_flag else 'struct'}"
    return f"{head} type_id={raw.size_or_type}"


def raw_lines(btf: Btf) -> Iterator[str]:
    """One line per type: ``[id] KIND 'name' size=N`` (or ``type_id=N`` ...)."""
    for t in btf.types():
        yield _line(t)


def _open(source: str) -> Btf:
    if source == "vmlinux":
        return Btf.vmlinux()
    if not os.path.exists(source):
        raise CliError(f"{source}: no such file (give a BPF object, a raw BTF file or vmlinux)")
    try:
        return Btf.from_file(source)
    except OSError as e:
        raise CliError(f"{source}: no BTF found ({e})") from None


def run(args: argparse.Namespace) -> int:
    with _open(args.source) as btf:
        if args.format == "c":
            sys.stdout.write(btf.dump_c())
        else:
            sys.stdout.write("".join(line + "\n" for line in raw_lines(btf)))
    return 0
