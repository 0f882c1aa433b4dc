"""Errors: BpfError(errno) is the builtin OSError subclass too, every kind pickles, the breadcrumb
context manager, and the errors real calls raise (pins, map elements, objects)."""

from __future__ import annotations

import ctypes
import errno
import os
import pickle

import pytest

import libbpf_py
from libbpf_py import (
    BpfError,
    ClosedError,
    CoreRelocationError,
    FeatureNotSupportedError,
    MapType,
    ReadOnlyError,
    UpdateFlags,
    VerifierError,
    _ffi,
)
from libbpf_py.errors import ERRNO_CLASSES, BpfFileNotFoundError, error_context, message
from libbpf_py.maps import Map

from conftest import python_child


@pytest.mark.parametrize("err", sorted(ERRNO_CLASSES), ids=errno.errorcode.get)
def test_errno_gives_the_builtin_subclass(err: int) -> None:
    e = BpfError(err, None, "pin map 'x'")
    builtin = type(OSError(err, "x"))  # what Python itself picks for this errno
    assert builtin is not OSError
    assert isinstance(e, builtin) and isinstance(e, BpfError)
    assert type(e) is ERRNO_CLASSES[err]
    assert (e.errno, e.strerror, e.context) == (err, os.strerror(err), "pin map 'x'")
    assert e.args == (err, os.strerror(err))
    assert str(e) == f"pin map 'x': {os.strerror(err)} ({errno.errorcode[err]})"


def test_every_errno_python_maps_is_mapped() -> None:
    python = {e for e in errno.errorcode if type(OSError(e, "x")) is not OSError}
    # Connection errors never come from bpf(2); the rest must match Python's own mapping.
    missing = {e for e in python - set(ERRNO_CLASSES)
               if not issubclass(type(OSError(e, "x")), ConnectionError)}
    assert missing == set()


@pytest.mark.parametrize("err", [errno.EINVAL, errno.E2BIG, errno.EBUSY, errno.ENOSPC,
                                 errno.EOPNOTSUPP, 524])
def test_other_errnos_are_plain_bpf_errors(err: int) -> None:
    e = BpfError(err)
    assert type(e) is BpfError and e.errno == err and e.context == ""


def test_libbpf_codes_read_as_libbpf_words_them() -> None:
    for code in [*range(4000, 4014), errno.ENOENT, errno.E2BIG, 524]:
        if code == 4006:  # LIBBPF_ERRNO__LOAD: libbpf's table lacks it and prints "(null)"
            assert _ffi.strerror(code) == "(null)"
            assert message(code) == "Load program failure for unknown reason"
            continue
        assert message(code) == _ffi.strerror(code)
        assert BpfError(code).strerror == _ffi.strerror(code)
    assert str(BpfError(4001, context="open object 'x'")) == \
        "open object 'x': BPF object format invalid (4001)"


def test_subclasses_keep_their_kind() -> None:
    # A verifier rejection is EACCES but not a matter of privileges: no PermissionError.
    v = VerifierError(errno.EACCES, "prog", "R0 invalid mem access\n", "load object 'x'")
    assert type(v) is VerifierError and not isinstance(v, PermissionError)
    # ... unless only a capability the process lacks made the verifier refuse (5.10's pointer
    # comparisons without CAP_PERFMON): then both, naming it.
    p = libbpf_py.errors.VerifierPermissionError(
        errno.EACCES, "xdp", "3: (2d) if r2 > r3 goto pc+0\nR3 pointer comparison prohibited\n",
        "load object 'x'", ("CAP_PERFMON",))
    assert isinstance(p, VerifierError) and isinstance(p, PermissionError)
    assert p.missing_capabilities == ["CAP_PERFMON"] and p.program == "xdp"
    assert str(p).startswith("program 'xdp' rejected by the verifier: load object 'x': Permission "
                             "denied (the verifier allows this only with CAP_PERFMON: this "
                             "process lacks CAP_PERFMON) (EACCES)\n"), str(p)
    f = FeatureNotSupportedError("kprobes", errno.EPERM, "attach", detail="lockdown")
    assert type(f) is FeatureNotSupportedError and f.errno == errno.EPERM
    assert str(f) == "attach: kprobes are not supported by this kernel (lockdown) (EPERM)"
    r = ReadOnlyError("set .rodata variable 'x'")
    assert isinstance(r, PermissionError) and r.errno == errno.EPERM
    assert issubclass(ClosedError, ValueError) and not issubclass(ClosedError, OSError)
    # Explicit subclasses build as asked, whatever the errno.
    assert type(BpfFileNotFoundError(errno.EINVAL)) is BpfFileNotFoundError


def _roundtrip(e: BaseException) -> BaseException:
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is type(e) and str(again) == str(e)
    return again


def test_errno_classes_are_built_on_first_use() -> None:
    """``import libbpf_py`` builds none of the errno subclasses, nor VerifierError,
    CoreRelocationError, ReadOnlyError, FeatureNotSupportedError (a cold start never raises
    one); unpickling one, ``BpfError(errno)`` or a name lookup builds them, once, under their
    names."""
    pickled = pickle.dumps(BpfError(errno.ENOENT, None, "open pinned map '/x'"), protocol=4)
    code = (
        "import errno, pickle, sys, libbpf_py\n"
        "from libbpf_py import errors, object as obj\n"
        "print(sorted(n for n in vars(errors) if n == 'ERRNO_CLASSES' or n.endswith('Error')))\n"
        "e = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
        "print(type(e) is errors.BpfFileNotFoundError, isinstance(e, FileNotFoundError), e)\n"
        "print(type(errors.BpfError(errno.EPERM)) is errors.ERRNO_CLASSES[errno.EPERM]\n"
        "      is errors.BpfPermissionError, errors.BpfPermissionError.__qualname__)\n"
        "print('BpfTimeoutError' in dir(errors), 'BpfTimeoutError' in vars(errors))\n"
        "print(libbpf_py.VerifierError is errors.VerifierError,\n"
        "      obj.CoreRelocationError is errors.CoreRelocationError,\n"
        "      errors.ReadOnlyError.__mro__[1:3], errors.FeatureNotSupportedError.__module__)\n"
    )
    assert python_child(code, pickled.hex()).splitlines() == [
        "['BpfError', 'ClosedError']",
        "True True open pinned map '/x': No such file or directory (ENOENT)",
        "True BpfPermissionError",
        "True True",
        "True True (<class 'libbpf_py.errors.BpfError'>, <class 'PermissionError'>) "
        "libbpf_py.errors"]
    with pytest.raises(AttributeError, match="has no attribute 'BpfNoSuchError'"):
        libbpf_py.errors.BpfNoSuchError  # noqa: B018


def test_declarations_match_the_classes_built_on_first_use() -> None:
    """_error_classes.py declares the subclasses it defines on first use for type checkers
    (under TYPE_CHECKING; errors re-exports them): every name errors publishes is declared, and
    the declared classes (VerifierError, VerifierPermissionError, CoreRelocationError,
    ReadOnlyError, FeatureNotSupportedError) have the bases, ``__init__`` signatures and
    attributes of the classes ``define()`` builds, so the two cannot drift apart."""
    import ast
    import inspect

    from libbpf_py import _error_classes, errors

    tree = ast.parse(inspect.getsource(_error_classes))
    declarations = [n for block in tree.body if isinstance(block, ast.If)
                    and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in block.body]
    stubs = [n for n in declarations if isinstance(n, ast.ClassDef)]
    annotated = {n.target.id for n in declarations if isinstance(n, ast.AnnAssign)
                 and isinstance(n.target, ast.Name)}
    classes, _ = _error_classes.define(BpfError)
    assert {n.name for n in stubs} | annotated == {c.__name__ for c in classes} | {
        "ERRNO_CLASSES"} == set(errors._LAZY_NAMES)
    samples: dict[str, tuple] = {
        "VerifierError": (errno.EACCES, "p", "log"), "CoreRelocationError": (errno.EINVAL, "p", ""),
        "ReadOnlyError": ("set x",), "FeatureNotSupportedError": ("kprobes",),
        "VerifierPermissionError": (errno.EACCES, "p", "log", "", ("CAP_PERFMON",))}
    assert sorted(n.name for n in stubs) == sorted(samples)
    namespace = dict(vars(_error_classes), BpfError=BpfError)  # _errno, BpfError: as there
    exec("from __future__ import annotations\n"  # noqa: S102 - our own source, parsed above
         + "\n".join(ast.unparse(n) for n in stubs), namespace)
    declared = {namespace[name] for name in samples}
    for name, args in samples.items():
        real, stub = getattr(errors, name), namespace[name]
        assert [b.__name__ for b in stub.__bases__] == [b.__name__ for b in real.__bases__], name
        assert inspect.signature(stub.__init__) == inspect.signature(real.__init__), name
        own = real.__mro__[:real.__mro__.index(BpfError)]
        attributes = (set(vars(real(*args))) - set(vars(BpfError(errno.EINVAL))) | {
            k for c in own for k, v in vars(c).items() if not k.startswith("_")
            and not callable(v)})
        assert attributes == {k for c in stub.__mro__ if c in declared
                              for k in vars(c).get("__annotations__", {})}, name


def test_every_kind_pickles() -> None:
    for err in sorted(ERRNO_CLASSES) + [errno.EINVAL, 4003]:
        e = BpfError(err, None, "info of map 'm'")
        again = _roundtrip(e)
        assert (again.errno, again.strerror, again.context) == (e.errno, e.strerror, e.context)
    log = "0: (b7) r0 = 0\n" * 30 + "R0 invalid mem access 'scalar'\n"
    v = _roundtrip(VerifierError(errno.EACCES, "handle", log, "load object 'x'"))
    assert v.log == log and v.program == "handle"
    core_log = ("5: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation "
                "<byte_off> [7] struct task_struct.nope (0:99 @ offset 0)\n")
    c = _roundtrip(CoreRelocationError(errno.EINVAL, "p", core_log, "load object 'x'"))
    assert (c.instruction, c.relocation) == (5, "<byte_off> [7] struct task_struct.nope "
                                             "(0:99 @ offset 0)")
    p = _roundtrip(libbpf_py.errors.VerifierPermissionError(errno.EACCES, "p", log, "load",
                                                            ("CAP_PERFMON",)))
    assert p.missing_capabilities == ["CAP_PERFMON"] and p.log == log
    f = _roundtrip(FeatureNotSupportedError("kprobes", context="attach", detail="no CONFIG"))
    assert f.feature == "kprobes" and f.detail == "no CONFIG"
    r = _roundtrip(libbpf_py.errors.with_context(ReadOnlyError("set x"), "outer"))
    assert r.context == "outer: set x"
    _roundtrip(ClosedError("map 'm': its object is closed"))


def test_error_context_adds_the_breadcrumb() -> None:
    with pytest.raises(FileNotFoundError) as info:
        with error_context("open pinned map '/x'"):
            with error_context("step"):
                raise BpfError(errno.ENOENT, None, "bpf_obj_get")
    e = info.value
    assert e.context == "open pinned map '/x': step: bpf_obj_get"
    assert str(e) == "open pinned map '/x': step: bpf_obj_get: No such file or directory (ENOENT)"
    assert e.__cause__ is None and e.__context__ is None  # no chained traceback
    with pytest.raises(ValueError, match="^plain$"):  # other exceptions pass untouched
        with error_context("ignored"):
            raise ValueError("plain")
    with error_context("nothing raised"):
        pass


def test_raw_layer_translates_to_subclasses() -> None:
    with pytest.raises(FileNotFoundError) as info:
        _ffi.lib.bpf_obj_get(f"/sys/fs/bpf/libbpf_py-missing-{os.getpid()}".encode())
    assert isinstance(info.value, BpfError) and info.value.context == "bpf_obj_get"
    with pytest.raises(FileNotFoundError):
        _ffi.check(-errno.ENOENT, "hot path")
    assert _ffi.check(3, "hot path") == 3


def test_missing_pins_are_file_not_found(bpffs) -> None:
    missing = os.path.join(bpffs, "missing")
    for opener in (Map.from_pinned, libbpf_py.Program.from_pinned, libbpf_py.Link.from_pinned):
        with pytest.raises(FileNotFoundError) as info:
            opener(missing)
        assert isinstance(info.value, BpfError) and missing in info.value.context
    with pytest.raises(FileNotFoundError):
        libbpf_py.Object.open(missing)  # open() itself: the builtin


@pytest.mark.root
def test_kernel_errors_are_builtin_subclasses(bpffs) -> None:
    with Map.create(MapType.HASH, key_type=ctypes.c_uint32, value_type=ctypes.c_uint32,
                    max_entries=4) as m:
        m[1] = 10
        with pytest.raises(FileExistsError) as info:
            m.set(1, 11, flags=UpdateFlags.NOEXIST)
        assert info.value.context == "update in map ''" and m[1] == 10
        with pytest.raises(KeyError):  # dict semantics stay: a missing key is a KeyError
            m.set(2, 1, flags=UpdateFlags.EXIST)
        path = os.path.join(bpffs, "m")
        m.pin(path)
        with pytest.raises(FileExistsError) as info:
            m.pin(path)
        assert f"at '{path}'" in info.value.context
        with pytest.raises(NotADirectoryError):
            m.pin(os.path.join(path, "below"))
        m.unpin()
        m.freeze()
        with pytest.raises(PermissionError):  # a frozen map refuses writes with EPERM
            m[1] = 12
