"""libbpf_py: a Pythonic binding over the upstream C libbpf, bundled in the package.

Open and load compiled CO-RE BPF objects, read and write their maps, attach their programs, and
stream events from ring buffers, with no compiler, LLVM or kernel headers at run time::

    import libbpf_py

    with libbpf_py.load("trace.bpf.o") as obj:
        obj.attach()
        with libbpf_py.RingBuffer(obj.maps["events"], print) as rb:
            rb.poll(timeout=1.0)
"""

from __future__ import annotations

import os as _os

from ._ffi import lib as _lib
from .errors import (
    BpfError,
    ClosedError,
    CoreRelocationError,
    FeatureNotSupportedError,
    ReadOnlyError,
    VerifierError,
)
from .link import Link
from .map import Map
from .object import Object, OpenObject, load
from .program import Program
from . import features
from . import log as _log  # noqa: F401 - installs libbpf's print callback

__version__ = "0.1.0"
#: Version of the bundled libbpf, read from the loaded library ("1.7.0").
LIBBPF_VERSION: str = _lib.lbpy_libbpf_version().decode()


TYPE_CHECKING = False
if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from .btf import Btf
    from .enums import AttachType, LinkType, MapType, ProgType, UpdateFlags
    from .map_admin import MapFlags, MapInfo
    from .perfbuf import PerfBuffer
    from .ringbuf import RingBuffer
    from .userringbuf import UserRingBuffer

# Public names imported on first use (PEP 562): a cold start (import + load + attach) should not
# pay for building ~150 enum members or importing modules it does not use.
_LAZY = {
    "AttachType": "enums", "LinkType": "enums", "MapType": "enums", "ProgType": "enums",
    "UpdateFlags": "enums", "Btf": "btf", "RingBuffer": "ringbuf", "PerfBuffer": "perfbuf",
    "UserRingBuffer": "userringbuf", "MapFlags": "map_admin", "MapInfo": "map_admin",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'libbpf_py' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
