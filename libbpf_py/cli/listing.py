"""``prog list``, ``map list``, ``link list`` (kernel-wide) and ``map dump ID|PINNED_PATH``.

The lists walk the kernel's ids (``bpf_{prog,map,link}_get_next_id``), open each by id
(``bpf_*_get_fd_by_id``), read its info (``bpf_obj_get_info_by_fd``) and close it again; an
object that goes away meanwhile is skipped. ``map dump`` reads every entry
(``bpf_map_get_next_key`` + ``bpf_map_lookup_elem``) and prints keys and values through the
map's BTF (``btf__load_from_kernel_by_id``): JSON with structs as objects, text with libbpf's
``btf_dump`` formatter. All need root (CAP_SYS_ADMIN to open by id; CAP_BPF for pinned maps).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import sys

from .._ffi import lib
from ..errors import BpfError, with_context
from . import CliError
from ._values import decode, jsonable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from typing import Any, Optional

    from ..btf import Btf

__all__ = ["ids", "programs", "maps", "links", "dump_map", "run"]


def ids(kind: str) -> Iterator[int]:
    """Every id of ``kind`` ("prog", "map", "link") loaded in the kernel, ascending."""
    next_id = getattr(lib, f"bpf_{kind}_get_next_id")
    cur = ctypes.c_uint32(0)
    while True:
        try:
            next_id(cur.value, ctypes.byref(cur))
        except BpfError as e:
            if e.errno == errno.ENOENT:
                return
            raise with_context(e, f"list {kind} ids") from None
        yield cur.value


def _each(kind: str, get_fd: Any, info_of: Any) -> list[Any]:
    out = []
    for i in ids(kind):
        try:
            fd = get_fd(i)
        except BpfError as e:
            if e.errno == errno.ENOENT:
                continue  # went away since we listed it
            raise with_context(e, f"open {kind} id {i}") from None
        try:
            out.append(info_of(fd))
        finally:
            os.close(fd)
    return out


def programs() -> list[dict[str, Any]]:
    """Every loaded program's info (``ProgramInfo`` fields), JSON-ready."""
    from ..program import _prog_info

    return [jsonable(vars(p)) for p in
            _each("prog", lib.bpf_prog_get_fd_by_id, _prog_info)]


def maps() -> list[dict[str, Any]]:
    """Every map's info (``MapInfo`` fields, ``flags`` as an int), JSON-ready."""
    from ..maps._admin import map_info

    def info(fd: int) -> dict[str, Any]:
        m = map_info(fd)
        d = {n: getattr(m, n) for n in m.__slots__}
        d["flags"] = d.pop("map_flags")
        return jsonable(d)

    return _each("map", lib.bpf_map_get_fd_by_id, info)


def links() -> list[dict[str, Any]]:
    """Every link's info (``LinkInfo``: type, id, prog_id and the per-type attach details)."""
    from ..link import link_info

    return [jsonable(vars(info)) for info in
            _each("link", lib.bpf_link_get_fd_by_id, link_info)]


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

def _open_map(spec: str) -> tuple[int, str]:
    """An fd for ``spec``: a map id (digits) or a bpffs path; and a label for messages."""
    if spec.isdigit():
        try:
            return lib.bpf_map_get_fd_by_id(int(spec)), f"map id {spec}"
        except BpfError as e:
            if e.errno == errno.ENOENT:
                raise CliError(f"no map with id {spec}") from None
            raise with_context(e, f"open map id {spec}") from None
    if not os.path.exists(spec):
        raise CliError(f"{spec}: no such map id or pinned path")
    try:
        fd = lib.bpf_obj_get(os.fsencode(spec))
    except BpfError as e:
        raise with_context(e, f"open pinned map '{spec}'") from None
    return fd, f"map '{spec}'"


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def dump_map(spec: str) -> tuple[Any, list[dict[str, Any]], list[tuple[bytes, list[bytes]]],
                                 Optional[Btf]]:
    """Read every entry of the map ``spec`` (id or pinned path): (info, JSON-ready entries,
    raw (key, [value per CPU]) pairs, the map's BTF or None). The caller closes the BTF."""
    from ..maps._common import INDEX_KEY_TYPES, PERCPU_TYPES
    from ..maps._admin import map_info

    fd, label = _open_map(spec)
    btf = None
    try:
        try:
            info = map_info(fd)
        except BpfError as e:
            if e.errno == errno.EINVAL:
                raise CliError(f"{spec} is not a map") from None
            raise
        if info.key_size == 0:
            raise CliError(f"{label} ({info.type.name.lower()}) has no keys: nothing to dump")
        ncpu = lib.libbpf_num_possible_cpus() if int(info.type) in PERCPU_TYPES else 0
        vsize = info.value_size
        stride = (vsize + 7) & ~7 if ncpu else vsize
        key = ctypes.create_string_buffer(info.key_size)
        nxt = ctypes.create_string_buffer(info.key_size)
        value = ctypes.create_string_buffer(max(stride * max(ncpu, 1), 1))
        raw: list[tuple[bytes, list[bytes]]] = []
        first = True
        while True:
            rc = lib.bpf_map_get_next_key(fd, None if first else key, nxt)
            if rc < 0:
                if -rc == errno.ENOENT:
                    break
                raise CliError(f"{label}: cannot iterate keys: {os.strerror(-rc)}")
            first = False
            ctypes.memmove(key, nxt, info.key_size)
            rc = lib.bpf_map_lookup_elem(fd, key, value)
            if rc < 0:
                if -rc == errno.ENOENT:
                    continue  # deleted meanwhile, or an empty slot of an fd array
                raise CliError(f"{label}: cannot look up key {_hex(key.raw)}: "
                               f"{os.strerror(-rc)}")
            values = ([value.raw[i * stride:i * stride + vsize] for i in range(ncpu)] if ncpu
                      else [value.raw[:vsize]])
            raw.append((key.raw, values))
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            from ..btf import Btf

            btf = Btf.from_id(info.btf_id)
        entries = []
        index_keys = info.key_size == 4 and int(info.type) in INDEX_KEY_TYPES
        for k, vs in raw:
            if btf and info.btf_key_type_id:
                kd = decode(btf[info.btf_key_type_id], k)
            else:  # untyped: an array index is an int, anything else hex bytes
                kd = int.from_bytes(k, sys.byteorder) if index_keys else _hex(k)
            vd = [decode(btf[info.btf_value_type_id], v) if btf and info.btf_value_type_id
                  else _hex(v) for v in vs]
            entry: dict[str, Any] = {"key": kd}
            if ncpu:
                entry["values"] = [{"cpu": i, "value": v} for i, v in enumerate(vd)]
            else:
                entry["value"] = vd[0]
            entries.append(entry)
        return info, entries, raw, btf
    except BaseException:
        if btf is not None:
            btf.close()
        raise
    finally:
        os.close(fd)


def _print_dump(info: Any, raw: list[tuple[bytes, list[bytes]]], btf: Optional[Btf]) -> None:
    from ..maps._common import INDEX_KEY_TYPES, PERCPU_TYPES

    index_keys = info.key_size == 4 and int(info.type) in INDEX_KEY_TYPES

    def fmt(type_id: int, data: bytes, index: bool = False) -> str:
        if btf is not None and type_id:
            return btf.format(type_id, data)
        return str(int.from_bytes(data, sys.byteorder)) if index else _hex(data)

    for k, vs in raw:
        key = fmt(info.btf_key_type_id, k, index_keys)
        if int(info.type) not in PERCPU_TYPES:
            print(f"key: {key}  value: {fmt(info.btf_value_type_id, vs[0])}")
        else:
            print(f"key: {key}")
            for cpu, v in enumerate(vs):
                print(f"\tvalue (CPU {cpu:02d}): {fmt(info.btf_value_type_id, v)}")
    print(f"Found {len(raw)} element{'s' if len(raw) != 1 else ''}")


def run(args: argparse.Namespace) -> int:
    """Dispatch ``prog/map/link list`` and ``map dump``."""
    if args.command == "map" and args.action == "dump":
        info, entries, raw, btf = dump_map(args.map)
        try:
            if args.json:
                print(json.dumps(entries, indent=2))
            else:
                _print_dump(info, raw, btf)
        finally:
            if btf is not None:
                btf.close()
        return 0
    rows = {"prog": programs, "map": maps, "link": links}[args.command]()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        {"prog": _print_programs, "map": _print_maps, "link": _print_links}[args.command](rows)
    return 0
