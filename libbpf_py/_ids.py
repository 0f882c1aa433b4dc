"""The kernel's object ids: ``Program.ids()``, ``Map.ids()``, ``Link.ids()``, ``Btf.ids()``.

Wraps ``bpf_{prog,map,link,btf}_get_next_id``. Listing ids needs root (CAP_SYS_ADMIN); an id
stays valid only while its object lives, so opening one (``from_id``) may meet
``FileNotFoundError`` when the object went away since it was listed.
"""

from __future__ import annotations

import ctypes
import errno

from ._ffi import lib
from .errors import BpfError, with_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["kernel_ids"]


def kernel_ids(kind: str) -> Iterator[int]:
    """Every id of ``kind`` ("prog", "map", "link", "btf") the kernel has, ascending."""
    next_id = getattr(lib, f"bpf_{kind}_get_next_id")
    cur = ctypes.c_uint32(0)
    while True:
        try:
            next_id(cur.value, ctypes.byref(cur))
        except BpfError as e:
            if e.errno == errno.ENOENT:  # no id after cur
                return
            raise with_context(e, f"list {kind} ids") from None
        yield cur.value
