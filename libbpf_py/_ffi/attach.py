"""C declarations for attach points and links (libbpf.h): every bpf_program__attach_* and their opts.

Exact libbpf spellings. ``STRUCTS``: mirrored structures (sizes/offsets checked by
tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same format and checks as
``functions.py``.
"""

from __future__ import annotations

import ctypes  # noqa: F401 - for the declarations added here

from . import types as t  # noqa: F401 - opaque handles, callback types
from .functions import INT, NONE, PTR  # noqa: F401

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STRUCTS: tuple[type[ctypes.Structure], ...] = ()

SIGNATURES: list[tuple[str, Any, list[Any], str]] = []
