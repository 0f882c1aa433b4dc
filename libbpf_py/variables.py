"""Global variables of a BPF object: ``.rodata``, ``.data``, ``.bss``, ``.data.*``, ``.rodata.*``.

Each data section is a ``Section`` whose attributes are its variables, typed from the section's
BTF (``DATASEC``)::

    opened = libbpf_py.Object.open("x.bpf.o")
    opened.rodata.target_pid = os.getpid()     # before load: the initial value
    obj = opened.load()
    obj.bss.counter                            # after load: read from the live map (mmap)
    obj.data.enabled = True                    # ... and written there: the program sees it
    obj.datasec(".data.custom").x              # custom sections by ELF name

Before load, reads and writes go to libbpf's copy of the initial value
(``bpf_map__initial_value``). After load, libbpf has mmaped the kernel map in its place, so
``.data``/``.bss``/``.data.*`` are live. ``.rodata``/``.rodata.*``/``.kconfig`` are frozen by
load (``BPF_F_RDONLY_PROG``, mapped read-only): reading works, writing raises
``ReadOnlyError``. Values are copies: ``obj.bss.cfg.x = 1`` changes a copy; assign the whole
variable (``obj.bss.cfg = {...}`` or a modified copy) to write it.
"""

from __future__ import annotations

import ctypes
import errno

from . import _codecs, _types
from ._ffi import lib
from .errors import BpfError, ClosedError, ReadOnlyError

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any

    from .map import Map
    from .object import _ObjectState

__all__ = ["Section", "ReadOnlyError"]

BPF_F_RDONLY_PROG = 1 << 7


class _Var:
    __slots__ = ("name", "offset", "size", "ctype", "decode", "encode", "type_id")

    def __init__(self, name: str, offset: int, size: int, type_id: int, ctype: Any,
                 codec: _codecs.Codec) -> None:
        self.name = name
        self.offset = offset
        self.size = size
        self.type_id = type_id
        self.ctype = ctype
        self.decode = codec.decode
        self.encode = codec.encode


class Section:
    """One data section of an object; attributes are its variables (see the module doc).

    Made by ``OpenObject``/``Object`` (``obj.data``, ``obj.sections[".data.x"]``). Keeps the
    object alive; ``ClosedError`` after the object is closed. Unknown names raise
    ``AttributeError`` listing the variables.
    """

    __slots__ = ("_state", "_map", "_name", "_vars", "_size")

    def __init__(self, state: _ObjectState, map_: Map, name: str, datasec_id: int) -> None:
        object.__setattr__(self, "_state", state)  # LIFETIME: keeps the bpf_object alive
        object.__setattr__(self, "_map", map_)
        object.__setattr__(self, "_name", name)
        btf = lib.bpf_object__btf(state.ptr)
        sec = _types.raw_type(btf, datasec_id)
        variables: dict[str, _Var] = {}
        for var_id, offset, size in sec.extra:
            var = _types.raw_type(btf, var_id)
            if var.kind != _types.BTF_KIND_VAR:
                continue
            tid = var.size_or_type
            try:
                ct = _types.ctype_for(btf, tid)
            except TypeError:
                ct = ctypes.c_char * size
            codec = _codecs.codec_for(btf, tid, size, f"{name} variable '{var.name}'")
            variables[var.name] = _Var(var.name, offset, size, tid, ct, codec)
        object.__setattr__(self, "_vars", variables)
        object.__setattr__(self, "_size", sec.size_or_type)

    @property
    def name(self) -> str:
        """The ELF section name (".data", ".rodata.cfg" ...)."""
        return self._name

    @property
    def map(self) -> Map:
        """The internal array map that holds this section."""
        return self._map

    @property
    def read_only(self) -> bool:
        """True once loaded if the section is frozen (``.rodata*``, ``.kconfig``)."""
        self._check()
        return self._state.loaded and bool(lib.bpf_map__map_flags(self._map._ptr)
                                           & BPF_F_RDONLY_PROG)

    def _check(self) -> None:
        if self._state.ptr is None:
            raise ClosedError(f"section {self._name}: object '{self._state.label}' is closed")

    def _memory(self, write: bool, what: str) -> int:
        self._check()
        if write and self.read_only:
            raise ReadOnlyError(f"set {self._name} variable '{what}'")
        size = ctypes.c_size_t()
        # LIFETIME: the pointer is libbpf's buffer (before load) or the map's mmap (after);
        # both live until bpf_object__close. Every access re-checks that the object is open.
        addr = lib.bpf_map__initial_value(self._map._ptr, ctypes.byref(size))
        if not addr:
            raise BpfError(errno.ENODATA, "the section's memory is not accessible (map not "
                           "mmapable)", f"{what} in {self._name}")
        return addr

    def _var(self, name: str) -> _Var:
        try:
            return self._vars[name]
        except KeyError:
            have = ", ".join(self._vars) or "none"
            raise AttributeError(f"section {self._name} of object '{self._state.label}' has no "
                                 f"variable {name!r} (it has: {have})") from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        v = self._var(name)
        addr = self._memory(False, name)
        return v.decode(ctypes.string_at(addr + v.offset, v.size))

    def __setattr__(self, name: str, value: Any) -> None:
        v = self._var(name)
        data = v.encode(value)  # checked before touching memory
        if len(data) != v.size:
            raise ValueError(f"{self._name} variable '{name}': {len(data)} bytes for a "
                             f"{v.size}-byte variable")
        addr = self._memory(True, name)
        ctypes.memmove(addr + v.offset, data, v.size)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError as e:
            raise KeyError(str(e)) from None

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(self._vars) | {"name", "map", "read_only", "raw", "to_dict"})

    def __iter__(self) -> Any:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __contains__(self, name: object) -> bool:
        return name in self._vars

    def to_dict(self) -> dict[str, Any]:
        """Every variable's current value."""
        return {n: getattr(self, n) for n in self._vars}

    def raw(self) -> bytes:
        """A copy of the whole section's bytes."""
        size = ctypes.c_size_t()
        addr = self._memory(False, "raw")
        lib.bpf_map__initial_value(self._map._ptr, ctypes.byref(size))
        return ctypes.string_at(addr, size.value)

    def __repr__(self) -> str:
        if self._state.ptr is None:
            return f"<Section {self._name} (closed)>"
        return f"<Section {self._name} {self.to_dict()!r}>"


def find_sections(state: _ObjectState) -> dict[str, Section]:
    """Every internal map of the object that has a DATASEC, by ELF section name."""
    btf = lib.bpf_object__btf(state.ptr)
    found: dict[str, Section] = {}
    if not btf:
        return found
    for m in state.maps.values():
        if not lib.bpf_map__is_internal(m._ptr):
            continue
        tid = lib.bpf_map__btf_value_type_id(m._ptr)
        if not tid:
            continue  # e.g. .rodata.str1.1: strings, no variables
        sec = _types.raw_type(btf, tid)
        if sec.kind != _types.BTF_KIND_DATASEC:
            continue
        found[sec.name] = Section(state, m, sec.name, tid)
    return found
