"""``prog list``, ``map list``, ``link list`` (kernel-wide) and ``map dump ID|PINNED_PATH``.

Public API only: the lists walk ``Program.ids()``/``Map.ids()``/``Link.ids()``, open each with
``from_id``, read its ``info()`` and close it again; an object that goes away meanwhile is
skipped. ``map dump`` opens the map raw (``Map.from_id``/``from_pinned`` with ``bytes`` types),
reads every entry (``items()``) and prints keys and values through the map's BTF
(``Btf.from_id``): JSON with structs as objects, text with libbpf's ``btf_dump`` formatter
(``Btf.format``). All need root (CAP_SYS_ADMIN to open by id; CAP_BPF for pinned maps).
"""

from __future__ import annotations

import errno
import json
import os
import sys

from ..errors import BpfError
from . import CliError
from ._values import decode, jsonable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator
    from typing import Any, Optional

    from ..btf import Btf

__all__ = ["ids", "programs", "maps", "links", "dump_map", "run"]


def _classes() -> dict[str, Any]:
    from ..link import Link
    from ..maps import Map
    from ..program import Program

    return {"prog": Program, "map": Map, "link": Link}


def ids(kind: str) -> Iterator[int]:
    """Every id of ``kind`` ("prog", "map", "link") loaded in the kernel, ascending."""
    return _classes()[kind].ids()  # type: ignore[no-any-return]


def _each(kind: str, row: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
    cls = _classes()[kind]
    out = []
    for i in cls.ids():
        try:
            handle = cls.from_id(i)
        except FileNotFoundError:
            continue  # went away since we listed it
        with handle:
            out.append(row(handle))
    return out


def programs() -> list[dict[str, Any]]:
    """Every loaded program's info (``ProgramInfo`` fields), JSON-ready."""
    return _each("prog", lambda p: jsonable(vars(p.info())))


def maps() -> list[dict[str, Any]]:
    """Every map's info (``MapInfo`` fields, ``flags`` as an int), JSON-ready."""
    def row(m: Any) -> dict[str, Any]:
        info = m.info()
        d = {n: getattr(info, n) for n in info.__slots__}
        d["flags"] = d.pop("map_flags")
        return jsonable(d)

    return _each("map", row)


def links() -> list[dict[str, Any]]:
    """Every link's info (``LinkInfo``: type, id, prog_id and the per-type attach details)."""
    return _each("link", lambda ln: jsonable(vars(ln.info())))


def _print_programs(rows: list[dict[str, Any]]) -> None:
    for p in rows:
        gpl = "  gpl" if p["gpl_compatible"] else ""
        print(f"{p['id']}: {p['type']}  name {p['name']}  tag {p['tag']}{gpl}")
        maps_ = ",".join(map(str, p["map_ids"])) or "-"
        btf = f"  btf_id {p['btf_id']}" if p["btf_id"] else ""
        print(f"\txlated {p['xlated_size']}B  jited {p['jited_size']}B  uid "
              f"{p['created_by_uid']}  map_ids {maps_}{btf}")


def _print_maps(rows: list[dict[str, Any]]) -> None:
    for m in rows:
        print(f"{m['id']}: {m['type']}  name {m['name']}  flags {m['flags']:#x}")
        btf = f"  btf_id {m['btf_id']}" if m["btf_id"] else ""
        print(f"\tkey {m['key_size']}B  value {m['value_size']}B  max_entries "
              f"{m['max_entries']}{btf}")


def _print_links(rows: list[dict[str, Any]]) -> None:
    for ln in rows:
        details = "  ".join(f"{k} {v}" for k, v in ln.items() if k not in ("id", "type",
                                                                           "prog_id"))
        print(f"{ln['id']}: {ln['type']}  prog {ln['prog_id']}")
        if details:
            print(f"\t{details}")


# --- map dump

def _open_map(spec: str) -> tuple[Any, str]:
    """The map ``spec`` names (a map id, digits, or a bpffs path), raw (keys and values as
    bytes, array indexes as ints); and a label."""
    from ..maps import Map

    if spec.isdigit():
        try:
            return Map.from_id(int(spec), key_type=bytes, value_type=bytes), f"map id {spec}"
        except FileNotFoundError:
            raise CliError(f"no map with id {spec}") from None
    if not os.path.exists(spec):
        raise CliError(f"{spec}: no such map id or pinned path")
    try:
        return Map.from_pinned(spec, key_type=bytes, value_type=bytes), f"map '{spec}'"
    except BpfError as e:
        if e.errno == errno.EINVAL:  # a pinned program or link
            raise CliError(f"{spec} is not a map") from None
        raise


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


class Dump:
    """What ``dump_map`` read: the map's ``info`` (``MapInfo``), its entries (``raw``: (key
    bytes, [value bytes, one per CPU for a per-CPU map])), whether it is ``percpu``, whether
    its keys are array indexes (``index_keys``), and its BTF (or None)."""

    def __init__(self, info: Any, raw: list[tuple[bytes, list[bytes]]], percpu: bool,
                 index_keys: bool, btf: Optional[Btf]) -> None:
        self.info, self.raw, self.percpu, self.index_keys, self.btf = (info, raw, percpu,
                                                                      index_keys, btf)

    def entries(self) -> list[dict[str, Any]]:
        """JSON-ready entries: keys and values decoded through the BTF, else ints (array
        indexes) or hex bytes."""
        info, btf = self.info, self.btf
        out = []
        for k, vs in self.raw:
            if btf and info.btf_key_type_id:
                kd = decode(btf[info.btf_key_type_id], k)
            else:  # untyped: an array index is an int, anything else hex bytes
                kd = int.from_bytes(k, sys.byteorder) if self.index_keys else _hex(k)
            vd = [decode(btf[info.btf_value_type_id], v) if btf and info.btf_value_type_id
                  else _hex(v) for v in vs]
            entry: dict[str, Any] = {"key": kd}
            if self.percpu:
                entry["values"] = [{"cpu": i, "value": v} for i, v in enumerate(vd)]
            else:
                entry["value"] = vd[0]
            out.append(entry)
        return out

    def close(self) -> None:
        if self.btf is not None:
            self.btf.close()


def dump_map(spec: str) -> Dump:
    """Read every entry of the map ``spec`` (id or pinned path). The caller closes the
    ``Dump`` (its BTF)."""
    from collections.abc import Mapping

    m, label = _open_map(spec)
    btf = None
    with m:
        info = m.info()
        if info.key_size == 0 or not isinstance(m, Mapping):
            raise CliError(f"{label} ({info.type.name.lower()}) has no keys: nothing to dump")
        raw: list[tuple[bytes, list[bytes]]] = []
        percpu = index_keys = False
        for k, v in m.items():
            if isinstance(k, int):  # an untyped array map's keys are indexes
                index_keys = True
                k = k.to_bytes(info.key_size, sys.byteorder)
            if isinstance(v, list):  # one value per possible CPU
                percpu = True
            else:
                v = [v]
            raw.append((k, v))
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            from ..btf import Btf

            btf = Btf.from_id(info.btf_id)
    return Dump(info, raw, percpu, index_keys, btf)


def _print_dump(d: Dump) -> None:
    info, btf = d.info, d.btf

    def fmt(type_id: int, data: bytes, index: bool = False) -> str:
        if btf is not None and type_id:
            return btf.format(type_id, data)
        return str(int.from_bytes(data, sys.byteorder)) if index else _hex(data)

    for k, vs in d.raw:
        key = fmt(info.btf_key_type_id, k, d.index_keys)
        if not d.percpu:
            print(f"key: {key}  value: {fmt(info.btf_value_type_id, vs[0])}")
        else:
            print(f"key: {key}")
            for cpu, v in enumerate(vs):
                print(f"\tvalue (CPU {cpu:02d}): {fmt(info.btf_value_type_id, v)}")
    n = len(d.raw)
    print(f"Found {n} element{'s' if n != 1 else ''}")


def run(args: argparse.Namespace) -> int:
    """Dispatch ``prog/map/link list`` and ``map dump``."""
    if args.command == "map" and args.action == "dump":
        d = dump_map(args.map)
        try:
            if args.json:
                print(json.dumps(d.entries(), indent=2))
            else:
                _print_dump(d)
        finally:
            d.close()
        return 0
    rows = {"prog": programs, "map": maps, "link": links}[args.command]()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        {"prog": _print_programs, "map": _print_maps, "link": _print_links}[args.command](rows)
    return 0
