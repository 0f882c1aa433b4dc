"""Global variables of a BPF object: ``.rodata``, ``.data``, ``.bss``, ``.data.*``, ``.rodata.*``.

Each data section is a ``Section`` whose attributes are its variables, typed from the section's
BTF (``DATASEC``)::

    opened = libbpf_py.Object.open("x.bpf.o")
    opened.rodata.target_pid = os.getpid()     # before load: the initial value
    obj = opened.load()
    obj.bss.counter                            # after load: read from the live map (mmap)
    obj.data.enabled = True                    # ... and written there: the program sees it
    obj.bss.counters[3] = 0                    # array globals: live element access
    obj.bss.counters.exchange_all()            # atomic read-and-reset of every element
    obj.datasec(".data.custom").x              # custom sections by ELF name

Before load, reads and writes go to libbpf's copy of the initial value
(``bpf_map__initial_value``). After load, libbpf has mmaped the kernel map in its place, so
``.data``/``.bss``/``.data.*`` are live. ``.rodata``/``.rodata.*``/``.kconfig`` are frozen by
load (``BPF_F_RDONLY_PROG``, mapped read-only): reading works, writing raises
``ReadOnlyError``. Scalars and structs read as copies: ``obj.bss.cfg.x = 1`` changes a copy;
assign the whole variable. Arrays read as a ``GlobalArray``, a live view: each element access
reads or writes the section's memory.

No view hands out raw memory: every access re-checks that the object is open (``ClosedError``
after close) and that the variable lies inside the section as it is now (a section resized
before load with ``map.value_size`` may cut variables off: ``IndexError``), so nothing reads or
writes outside the mapping. ``bpf_printk``'s format strings (``static const char ___fmt[]``,
which clang puts in ``.rodata``) are not listed as variables.
"""

from __future__ import annotations

import ctypes
import errno
import sys

from . import _codecs, _types
from ._ffi import lib
from .errors import BpfError, ClosedError, ReadOnlyError

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Optional

    from .maps import Map
    from .object import _ObjectState

__all__ = ["Section", "GlobalArray", "ReadOnlyError"]

BPF_F_RDONLY_PROG = 1 << 7
#: Static variables the BPF helper macros declare for their format strings (bpf_printk,
#: BPF_SEQ_PRINTF, BPF_SNPRINTF: ``static const char ___fmt[]``), not the program's globals.
_HELPER_STATICS = frozenset({"___fmt", "____fmt"})
_SECTION_ATTRS = frozenset({"name", "map", "read_only", "raw", "to_dict", "exchange"})


class _Var:
    __slots__ = ("name", "offset", "size", "type_id", "ctype", "decode", "encode", "codec",
                 "dims", "elem")

    def __init__(self, name: str, offset: int, size: int, type_id: int, ctype: Any,
                 codec: _codecs.Codec) -> None:
        self.name = name
        self.offset = offset
        self.size = size
        self.type_id = type_id
        self.ctype = ctype
        self.codec = codec
        self.decode = codec.decode
        self.encode = codec.encode
        self.dims: tuple[tuple[int, int], ...] = ()  # arrays: (length, stride) per dimension
        self.elem: Optional[_codecs.Codec] = None  # arrays: the innermost element's codec


def _array_dims(btf: Any, var: _Var, label: str) -> None:
    """Fill ``var.dims``/``var.elem`` for an array (of non-char elements: a ``char[N]`` is a
    string, and the innermost ``char[N]`` of ``char[M][N]`` is an element)."""
    dims: list[tuple[int, int]] = []
    tid = var.type_id
    for _ in range(_types.MAX_DEPTH):
        _rid, t = _types.skip_modifiers(btf, tid)
        if t.kind != _types.BTF_KIND_ARRAY:
            break
        elem_id, _index, n = t.extra
        _eid, et = _types.skip_modifiers(btf, elem_id)
        if et.kind == _types.BTF_KIND_INT and et.size_or_type == 1 and (
                et.extra[0] & _types.BTF_INT_CHAR or et.name == "char"):
            break  # char[N]: a string, the element of the dimension above
        try:
            stride = lib.btf__resolve_size(btf, elem_id)
        except BpfError:
            return
        dims.append((n, stride))
        tid = elem_id
    if not dims:
        return
    n, stride = dims[0]
    if n * stride != var.size or stride <= 0:
        return  # the DATASEC's size disagrees with the type (malformed BTF): a plain copy
    var.dims = tuple(dims)
    var.elem = _codecs.codec_for(btf, tid, dims[-1][1], f"{label} element")


class Section:
    """One data section of an object; attributes are its variables (see the module doc).

    Made by ``OpenObject``/``Object`` (``obj.data``, ``obj.sections[".data.x"]``). Keeps the
    object alive; ``ClosedError`` after the object is closed. Unknown names raise
    ``AttributeError`` listing the variables; ``section["name"]`` reads a variable even where
    its name is also a method's (``map``, ``raw`` ...).
    """

    __slots__ = ("_state", "_map", "_name", "_vars", "_size", "_datasec_id")

    def __init__(self, state: _ObjectState, map_: Map, name: str, datasec_id: int) -> None:
        object.__setattr__(self, "_state", state)  # LIFETIME: keeps the bpf_object alive
        object.__setattr__(self, "_map", map_)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_datasec_id", datasec_id)
        object.__setattr__(self, "_vars", {})
        object.__setattr__(self, "_size", 0)
        self._build()

    def _build(self) -> None:
        """Variables from the DATASEC (again after a resize: libbpf rewrites the DATASEC)."""
        btf = lib.bpf_object__btf(self._state.ptr)
        size = ctypes.c_size_t()
        lib.bpf_map__initial_value(self._map._ptr, ctypes.byref(size))
        variables = self._vars
        tid = lib.bpf_map__btf_value_type_id(self._map._ptr)
        if tid:  # 0 after a resize libbpf could not describe: keep the variables, bounds-checked
            object.__setattr__(self, "_datasec_id", tid)
            variables = {}
            sec = _types.raw_type(btf, tid)
            for var_id, offset, vsize in sec.extra or ():
                var = _types.raw_type(btf, var_id)
                if var.kind != _types.BTF_KIND_VAR or var.extra == 0 and \
                        var.name.rsplit(".", 1)[-1] in _HELPER_STATICS:
                    continue  # clang names a function's static "function.name"
                vtid = var.size_or_type
                label = f"{self._name} variable '{var.name}'"
                try:
                    ct = _types.ctype_for(btf, vtid)
                except TypeError:
                    ct = ctypes.c_char * vsize
                v = _Var(var.name, offset, vsize, vtid,
                         ct, _codecs.codec_for(btf, vtid, vsize, label))
                _array_dims(btf, v, label)
                variables[var.name] = v
        object.__setattr__(self, "_vars", variables)
        object.__setattr__(self, "_size", size.value)

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

    def _memory(self, write: bool, what: str) -> tuple[int, int]:
        """(address, size) of the section's memory now; checks open, writable. Under the
        object's lock: no close() from another thread between the check and libbpf's answer
        (callers that use the address hold the lock too: ``_get``, ``_put``)."""
        with self._state.lock:
            return self._memory_locked(write, what)

    def _memory_locked(self, write: bool, what: str) -> tuple[int, int]:
        self._check()
        if write and self.read_only:
            raise ReadOnlyError(f"set {self._name} variable '{what}'")
        size = ctypes.c_size_t()
        # LIFETIME: the pointer is libbpf's buffer (before load) or the map's mmap (after);
        # both live until bpf_object__close. Every access re-checks that the object is open,
        # and uses the pointer at once: it is never kept.
        addr = lib.bpf_map__initial_value(self._map._ptr, ctypes.byref(size))
        if not addr:
            raise BpfError(errno.ENODATA, "the section's memory is not accessible (map not "
                           "mmapable)", f"{what} in {self._name}")
        if size.value != self._size:  # resized before load (map.value_size)
            self._build()
        return addr, size.value

    def _place(self, v: _Var, offset: int, size: int, write: bool) -> int:
        """Address of ``size`` bytes at ``offset`` of variable ``v``, inside the section."""
        addr, avail = self._memory(write, v.name)
        if v.offset + v.size > avail or offset + size > avail:
            raise IndexError(f"{self._name} variable '{v.name}' (offset {v.offset}, {v.size} "
                             f"bytes) does not fit the section's {avail} bytes (resized with "
                             f"map.value_size? read the variable again for its new layout)")
        return addr + offset

    def _get(self, v: _Var, offset: int, size: int) -> bytes:
        """A copy of ``size`` bytes at ``offset`` of ``v``: under the object's lock, so a
        close() from another thread (it unmaps the memory) waits for the read."""
        with self._state.lock:
            return ctypes.string_at(self._place(v, offset, size, False), size)

    def _put(self, v: _Var, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` of ``v``, under the object's lock (see ``_get``)."""
        with self._state.lock:
            ctypes.memmove(self._place(v, offset, len(data), True), data, len(data))

    def _var(self, name: str) -> _Var:
        try:
            return self._vars[name]
        except KeyError:
            have = ", ".join(self._vars) or "none"
            raise AttributeError(f"section {self._name} of object '{self._state.label}' has no "
                                 f"variable {name!r} (it has: {have})") from None

    def _read(self, name: str) -> Any:
        self._memory(False, name)  # first: a resize rebuilds the variables
        v = self._var(name)
        if v.dims:
            self._place(v, v.offset, v.size, False)  # checks open and in bounds now
            return GlobalArray(self, v, v.offset, 0)
        return v.decode(self._get(v, v.offset, v.size))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in self._vars:
            raise AttributeError(name)
        return self._read(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._memory(False, name)  # first: a resize rebuilds the variables
        v = self._var(name)
        data = v.encode(value)  # checked before touching memory
        if len(data) != v.size:
            raise ValueError(f"{self._name} variable '{name}': {len(data)} bytes for a "
                             f"{v.size}-byte variable")
        self._put(v, v.offset, data)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._read(name)
        except AttributeError as e:
            raise KeyError(str(e)) from None

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def exchange(self, name: str, value: Any = 0) -> Any:
        """Atomically store ``value`` in integer variable ``name`` and return its old value:
        a read-and-reset (``lbpy_atomic_xchg``, the CPU's exchange instruction on the mmap).
        Valid after load on writable sections. Lossless when the program updates the variable
        atomically (``__sync_fetch_and_add``); a plain ``x++`` in BPF may race either way."""
        self._memory(False, name)
        v = self._var(name)
        return _exchange(self, v, v.codec, v.offset, value, f"{self._name} variable '{name}'")

    def __dir__(self) -> list[str]:
        return sorted(set(self._vars) | _SECTION_ATTRS)

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __contains__(self, name: object) -> bool:
        return name in self._vars

    def to_dict(self) -> dict[str, Any]:
        """Every variable's current value (arrays as lists: copies)."""
        out = {}
        for n in self._vars:
            value = self._read(n)
            out[n] = value.tolist() if isinstance(value, GlobalArray) else value
        return out

    def raw(self, name: Optional[str] = None) -> bytes:
        """A copy of the whole section's bytes, or of variable ``name``'s, NULs included: for a
        ``char[N]`` holding NUL-separated strings (argv, path segments),
        ``section.raw("args").split(b"\\0")`` (a ``char[N]`` reads as a C string otherwise)."""
        if name is not None:
            self._memory(False, name)
            v = self._var(name)
            return self._get(v, v.offset, v.size)
        with self._state.lock:
            addr, size = self._memory(False, "raw")
            return ctypes.string_at(addr, size)

    def __repr__(self) -> str:
        if self._state.ptr is None:
            return f"<Section {self._name} (closed)>"
        return f"<Section {self._name} {self.to_dict()!r}>"


def _exchange(sec: Section, v: _Var, codec: Any, offset: int, value: Any, what: str) -> Any:
    if not isinstance(codec, _codecs.IntCodec):
        raise TypeError(f"{what}: exchange() works on integers, enums and bools of 1, 2, 4 or 8 "
                        "bytes")
    size = codec.size
    new = int.from_bytes(codec.encode(value), sys.byteorder)  # checked before memory is touched
    with sec._state.lock:  # see Section._get
        old = lib.lbpy_atomic_xchg(sec._place(v, offset, size, True), size, new)
    return codec.decode(old.to_bytes(size, sys.byteorder))


class GlobalArray:
    """A live view of an array global (or of one row of a multi-dimensional one).

    ``a[i]`` reads element ``i`` from the section's memory now, ``a[i] = v`` writes it (typed
    and range-checked like the variable); slices read and write lists. ``len``, iteration (over
    one snapshot of the array), ``==`` with a list, ``tolist()`` (a copy). ``exchange(i, v=0)``
    and ``exchange_all(v=0)``: atomic read-and-reset of integer elements. Made by ``Section``;
    every access re-checks the object is open (``ClosedError``) and the variable in bounds.
    """

    __slots__ = ("_sec", "_var", "_offset", "_dim")

    def __init__(self, sec: Section, var: _Var, offset: int, dim: int) -> None:
        self._sec = sec  # LIFETIME: the Section keeps the object state; no memory is kept
        self._var = var
        self._offset = offset
        self._dim = dim

    def __len__(self) -> int:
        return self._var.dims[self._dim][0]

    def _index(self, i: int) -> int:
        n = len(self)
        if not isinstance(i, int):
            raise TypeError(f"{self._label()} indices are ints or slices, not "
                            f"{type(i).__name__}")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{self._label()}: index {i} out of range (length {n})")
        return i

    def _label(self) -> str:
        return f"{self._sec._name} variable '{self._var.name}'"

    def _item(self, i: int) -> Any:
        stride = self._var.dims[self._dim][1]
        off = self._offset + i * stride
        if self._dim + 1 < len(self._var.dims):
            self._sec._place(self._var, off, stride, False)
            return GlobalArray(self._sec, self._var, off, self._dim + 1)
        elem = self._var.elem
        assert elem is not None
        return elem.decode(self._sec._get(self._var, off, stride))

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        return self._item(self._index(i))

    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            idx = range(*i.indices(len(self)))
            values = list(value)
            if len(values) != len(idx):
                raise ValueError(f"{self._label()}: {len(values)} values for a slice of "
                                 f"{len(idx)} (the array's length is fixed)")
            encoded = [self._encode(j, v) for j, v in zip(idx, values)]  # all checked first
            for j, data in zip(idx, encoded):
                self._store(j, data)
            return
        j = self._index(i)
        self._store(j, self._encode(j, value))

    def _encode(self, j: int, value: Any) -> bytes:
        stride = self._var.dims[self._dim][1]
        if self._dim + 1 < len(self._var.dims):  # a row of a multi-dimensional array
            row = GlobalArray(self._sec, self._var, self._offset + j * stride, self._dim + 1)
            values = list(value)
            if len(values) != len(row):
                raise ValueError(f"{self._label()}[{j}]: {len(values)} values for a row of "
                                 f"{len(row)}")
            return b"".join(row._encode(k, v) for k, v in enumerate(values))
        elem = self._var.elem
        assert elem is not None
        data = elem.encode(value)
        if len(data) != stride:
            raise ValueError(f"{self._label()}[{j}]: {len(data)} bytes for a {stride}-byte "
                             "element")
        return data

    def _store(self, j: int, data: bytes) -> None:
        off = self._offset + j * self._var.dims[self._dim][1]
        self._sec._put(self._var, off, data)

    def tolist(self) -> list[Any]:
        """A copy of the elements (nested lists for multi-dimensional arrays), read at once."""
        n, stride = self._var.dims[self._dim]
        raw = self._sec._get(self._var, self._offset, n * stride)
        return _decode_rows(self._var, self._dim, raw)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GlobalArray):
            other = other.tolist()
        if isinstance(other, (list, tuple)):
            return self.tolist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a live, mutable view

    def exchange(self, i: int, value: Any = 0) -> Any:
        """Atomically store ``value`` in element ``i`` and return the old value (see
        ``Section.exchange``)."""
        j = self._index(i)
        if self._dim + 1 < len(self._var.dims):
            raise TypeError(f"{self._label()}[{j}] is a row: exchange() works on elements")
        stride = self._var.dims[self._dim][1]
        return _exchange(self._sec, self._var, self._var.elem, self._offset + j * stride, value,
                         f"{self._label()}[{j}]")

    def exchange_all(self, value: Any = 0) -> list[Any]:
        """Atomic read-and-reset of every element, one exchange each (the runqlen/softirqs
        pattern: a histogram read and zeroed while the program keeps counting); the old
        values, nested for multi-dimensional arrays."""
        if self._dim + 1 < len(self._var.dims):
            return [self[j].exchange_all(value) for j in range(len(self))]
        return [self.exchange(j, value) for j in range(len(self))]

    def __repr__(self) -> str:
        try:
            return f"GlobalArray({self.tolist()!r})"
        except (ClosedError, IndexError) as e:
            return f"<GlobalArray {self._label()}: {e}>"


def _decode_rows(var: _Var, dim: int, raw: bytes) -> list[Any]:
    n, stride = var.dims[dim]
    if dim + 1 < len(var.dims):
        return [_decode_rows(var, dim + 1, raw[i * stride:(i + 1) * stride]) for i in range(n)]
    elem = var.elem
    assert elem is not None
    return [elem.decode(raw[i * stride:(i + 1) * stride]) for i in range(n)]


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
