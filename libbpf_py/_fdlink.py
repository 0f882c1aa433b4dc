"""Links known by their fd only (``Link.from_id``): libbpf has no ``struct bpf_link`` for an fd it
did not make, so this subclass of ``Link`` makes the fd-based calls itself.

Defined on the first ``Link.from_id()`` (``define(Link)``), outside the cold start's path: a
class costs its creation at every import. ``define`` receives ``Link`` instead of importing it:
link imports this module, and importing link back would make an import cycle
(tests/test_imports.py).
"""

from __future__ import annotations

import errno
import os

from ._ffi import lib
from .errors import BpfError, error_context

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from typing import Any, Optional

    from .link import Link
    from .maps import Map


def define(base: type[Link]) -> type[Link]:
    """The class of ``Link.from_id``'s links, a subclass of ``base`` (``link.Link``)."""
    if TYPE_CHECKING:  # type checkers see link's Link itself (no cycle: never run)
        from .link import Link
    else:
        Link = base

    class FdLink(Link):
        """A link known by its fd only: ``_ptr`` is the fd (None once closed), ``_keep`` the path
        ``pin()`` pinned it at."""

        __slots__ = ()

        def _link_fd(self, what: str) -> int:
            return self._fd_handle(what)

        def pin(self, path: str | os.PathLike[str]) -> None:
            fd = self._link_fd(f"pin at '{path}'")
            from . import _args

            raw = _args.bpffs_path(path)
            with error_context(f"pin link at '{os.fsdecode(raw)}'"):
                lib.bpf_obj_pin(fd, raw)
            self._keep = os.fsdecode(raw)

        def unpin(self) -> None:
            self._link_fd("unpin")
            if self._keep is None:
                raise BpfError(errno.EINVAL, "this Link did not pin it", f"unpin link "
                               f"({self.description})")
            path, self._keep = self._keep, None
            os.unlink(path)

        @property
        def pin_path(self) -> Optional[str]:
            self._handle()
            return self._keep

        def update_program(self, program: Any) -> None:
            fd = self._link_fd(f"update program '{program.name}' of")
            with error_context(f"update link ({self.description}) to program '{program.name}'"):
                lib.bpf_link_update(fd, program.fd, None)

        def update_map(self, map: Map) -> None:
            fd = self._link_fd(f"update map '{map.name}' of")
            with error_context(f"update link ({self.description}) to map '{map.name}'"):
                lib.bpf_link_update(fd, map.fd, None)

        def detach(self) -> None:
            """Close this process's fd of the link; idempotent. The kernel link stays while another
            fd or a pin holds it."""
            fd, self._ptr = self._ptr, None
            if fd is not None:
                os.close(fd)

        close = detach

    FdLink.__qualname__ = "FdLink"
    return FdLink
