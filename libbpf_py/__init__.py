"""libbpf_py: a Pythonic binding over the upstream C libbpf, bundled in the package.

Open and load compiled CO-RE BPF objects, read and write their maps, attach their programs, and
stream events from ring buffers, with no compiler, LLVM or kernel headers at run time::

    import libbpf_py

    with libbpf_py.load("trace.bpf.o") as obj:
        obj.attach()
        with libbpf_py.RingBuffer(obj.maps["events"], print) as rb:
            rb.poll(timeout=1.0)

The package's layers, as folders (imports only point down; tests/test_imports.py checks there
is no cycle):

- tools, CLI, generators: ``__main__``, ``cli/`` (the public API only: tests/test_cli.py
  checks), ``tools/``, ``gen/``, ``exporter/``.
- ``utils/``: what does not wrap libbpf, usable on its own (the core never imports it):
  ``symbols``, ``elf``, ``histogram``, ``tracepipe``.
- the binding's core, the package's top-level modules and folders: ``object``,
  ``program``, ``maps/``, ``link``, ``btf``, ``variables``, ``arena``, ``token``, ``features``;
  ``attach/`` (``tracing`` and ``net``: the attach methods mixed into ``Program``;
  ``perf_event``); ``buffers/`` (``ringbuf``, ``perfbuf``, ``userringbuf``, their shared
  ``_base``); private parts ``_lease`` (leases of native memory), ``_ids``, ``_vmlinux``,
  ``_dwarf``, ``_linkinfo``, ``_fdlink``, ``_byname``, and what explains a failed load or attach
  (``_load_errors``, ``_attach_errors``).
- shared blocks: ``errors`` (+ the ``Closeable`` finalizer; its subclasses in
  ``_error_classes``), ``_privileges``, ``enums``, ``log``, ``_args``,
  ``_types``/``_btfraw``/``_codecs`` (BTF -> ctypes/numpy).
- raw layer: ``_ffi/``, the only code declaring C functions, structures, constants and
  syscalls (libbpf's exact names), over the bundled libbpf + our C shim (``src/``).

What a cold start (import + open + load + attach) does not run lives in modules imported on first
use (the error subclasses, failure explanations, fd-only links, by-name views): cold start is
benchmarked, and tests/test_object.py lists the modules it imports.
"""

from __future__ import annotations

import os as _os
import sys as _sys

from .errors import BpfError, ClosedError
from . import log as _log  # noqa: F401 - loads the bundled library, installs its print callback
from ._ffi import LIBBPF_VERSION  # the bundled libbpf's, read from the library ("1.7.0")

__version__ = "0.1.0"


TYPE_CHECKING = False
if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from . import features
    from .btf import Btf
    from .errors import CoreRelocationError, FeatureNotSupportedError, ReadOnlyError
    from .errors import VerifierError
    from .enums import AttachType, LinkType, MapFlags, MapType, ProgType, UpdateFlags
    from .link import Link
    from .maps import Map
    from .maps import MapInfo
    from .object import Object, OpenObject, load
    from .buffers.perfbuf import PerfBuffer
    from .program import Program
    from .buffers.ringbuf import RingBuffer
    from .buffers.userringbuf import UserRingBuffer

# Public names imported on first use (PEP 562): a cold start (import + open + load + attach)
# imports only the modules it uses; it never builds a Map or an enum, for instance. A name that
# maps to None is a submodule.
_LAZY = {
    "Object": "object", "OpenObject": "object", "load": "object", "Program": "program",
    "Link": "link", "Map": "maps", "features": None,
    "AttachType": "enums", "LinkType": "enums", "MapType": "enums", "ProgType": "enums",
    "UpdateFlags": "enums", "MapFlags": "enums", "Btf": "btf", "MapInfo": "maps",
    "RingBuffer": "buffers.ringbuf", "PerfBuffer": "buffers.perfbuf",
    "UserRingBuffer": "buffers.userringbuf", "VerifierError": "errors",
    "CoreRelocationError": "errors", "FeatureNotSupportedError": "errors",
    "ReadOnlyError": "errors",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'libbpf_py' has no attribute {name!r}")
    qualified = f"{__name__}.{_LAZY[name] or name}"
    __import__(qualified)  # not importlib.import_module: importing importlib costs a cold start
    module = _sys.modules[qualified]
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def get_include() -> str:
    """Directory holding libbpf's BPF-side headers (``bpf/bpf_helpers.h`` ...) of the bundled
    version, for compiling BPF C: ``clang -target bpf -I$(python -c ...get_include())``."""
    return _os.path.join(_os.path.dirname(__file__), "include")


__all__ = [
    "AttachType", "BpfError", "Btf", "ClosedError", "CoreRelocationError",
    "FeatureNotSupportedError", "features", "get_include", "LIBBPF_VERSION", "Link", "LinkType",
    "load", "Map", "MapFlags", "MapInfo", "MapType", "Object", "OpenObject", "PerfBuffer",
    "Program", "ProgType", "ReadOnlyError", "RingBuffer", "UpdateFlags", "UserRingBuffer",
    "VerifierError",
]
