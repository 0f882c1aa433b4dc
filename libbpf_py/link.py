"""BPF links: a program attached to a hook. Closing (or collecting) a ``Link`` detaches it.

Wraps ``struct bpf_link``. A link is independent of the object whose program it attaches: it may
outlive ``Object.close()`` (the kernel keeps the program alive while it is attached), and a
pinned link outlives the process.
"""

from __future__ import annotations

import os
from ._ffi import lib
from .errors import BpfError, ClosedError, with_context

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["Link"]


class Link:
    """An attachment of a program to a hook; ``close()``/``detach()``/``with`` detach it.

    Returned by ``Program.attach*()`` and ``Link.from_pinned()``. Keep a reference for as long as
    the program should stay attached: when the Link is garbage collected it detaches.
    """

    __slots__ = ("_ptr", "_owner", "description", "__weakref__")

    def __init__(self, ptr: Any, owner: Any = None, description: str = "") -> None:
        # LIFETIME: ptr is ours to destroy (bpf_link__destroy). owner (the object state of the
        # program, if any) is kept alive because some link kinds (USDT) use object-owned memory
        # when they detach.
        self._ptr = ptr
        self._owner = owner
        self.description = description

    @classmethod
    def from_pinned(cls, path: str | os.PathLike[str]) -> Link:
        """Open a link pinned in bpffs (``bpf_link__open``); needs root or CAP_BPF."""
        p = os.fspath(path)
        try:
            ptr = lib.bpf_link__open(os.fsencode(p))
        except BpfError as e:
            raise with_context(e, f"open pinned link '{p}'") from None
        return cls(ptr, None, f"pinned at {p}")

    def _handle(self) -> Any:
        if self._ptr is None:
            raise ClosedError(f"link ({self.description}) is closed: it was detached")
        return self._ptr

    @property
    def closed(self) -> bool:
        """True once the link was detached/closed."""
        return self._ptr is None

    @property
    def fd(self) -> int:
        """The link's file descriptor (``bpf_link__fd``); owned by the Link."""
        return lib.bpf_link__fd(self._handle())

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the link in bpffs (``bpf_link__pin``): it stays attached after this process."""
        try:
            lib.bpf_link__pin(self._handle(), os.fsencode(os.fspath(path)))
        except BpfError as e:
            raise with_context(e, f"pin link at '{os.fspath(path)}'") from None

    def unpin(self) -> None:
        """Remove the link's pin (``bpf_link__unpin``)."""
        lib.bpf_link__unpin(self._handle())

    @property
    def pin_path(self) -> Optional[str]:
        """Where the link is pinned, or None (``bpf_link__pin_path``)."""
        p = lib.bpf_link__pin_path(self._handle())
        return os.fsdecode(p) if p else None

    def update_program(self, program: Any) -> None:
        """Atomically replace the attached program (``bpf_link__update_program``)."""
        lib.bpf_link__update_program(self._handle(), program._loaded_handle())

    def detach(self) -> None:
        """Detach the program and release the link (``bpf_link__destroy``); idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            lib.bpf_link__destroy(ptr)
        self._owner = None

    close = detach

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def __del__(self) -> None:
        # Safety net only: close()/with is the API.
        try:
            if self._ptr is not None:
                self.detach()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    def __repr__(self) -> str:
        state = "detached" if self._ptr is None else f"fd={lib.bpf_link__fd(self._ptr)}"
        return f"<Link {self.description} {state}>"
