"""The running kernel's BTF, loaded once per process, for name lookups.

Probes (``features``), attach checks and error explanations ask whether the kernel has a
function, tracepoint or enum: ``find(name, kind)`` answers from one ``btf__load_vmlinux_btf``
(/sys/kernel/btf/vmlinux, readable without privileges) kept for the life of the process (about
1 MB), instead of parsing the file again for every question. The handle is private to this
module and never freed; ``Btf.vmlinux()`` gives callers their own, owned copy.
"""

from __future__ import annotations

import os
from _thread import allocate_lock

from ._ffi import lib
from ._ffi.consts import BTF_KIND_ENUM, BTF_KIND_FUNC, BTF_KIND_TYPEDEF
from .errors import BpfError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["find", "BTF_KIND_TYPEDEF", "BTF_KIND_ENUM", "BTF_KIND_FUNC", "VMLINUX_BTF"]

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"

_lock = allocate_lock()
_handle: Any = None
_unreadable = False


def _btf() -> Any:
    """The cached ``struct btf *`` of vmlinux, or None when the kernel's BTF is unreadable."""
    global _handle, _unreadable
    if _handle is None and not _unreadable:
        with _lock:
            if _handle is None and not _unreadable:
                try:
                    if not os.path.isfile(VMLINUX_BTF):
                        raise FileNotFoundError(VMLINUX_BTF)
                    _handle = lib.btf__load_vmlinux_btf()
                except (BpfError, OSError):
                    _unreadable = True
    return _handle


def find(name: str, kind: int) -> Optional[int]:
    """The id of type ``name`` of BTF ``kind`` in vmlinux (``btf__find_by_name_kind``): 0 when
    the kernel has no such type, None when its BTF is unreadable (no CONFIG_DEBUG_INFO_BTF)."""
    btf = _btf()
    if btf is None:
        return None
    return max(lib.btf__find_by_name_kind(btf, name.encode(), kind), 0)
