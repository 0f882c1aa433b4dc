"""libbpf's messages, routed to ``logging.getLogger("libbpf_py")``.

libbpf prints through one process-wide callback (``libbpf_set_print``). The C shim formats each
``va_list`` message (ctypes cannot pass one portably) and calls ``_on_message`` with the finished
text. Levels map to logging's: ``LIBBPF_WARN`` -> WARNING, ``LIBBPF_INFO`` -> INFO,
``LIBBPF_DEBUG`` -> DEBUG.

``logging`` is imported only when a message could be shown, so ``import libbpf_py`` stays cheap:
debug messages are dropped unless the program has imported ``logging`` (it must have, to
configure a handler that would show them).

``capture()`` additionally records every message emitted by the current thread while it is
active; ``OpenObject.load()`` uses it to keep the verifier log for ``VerifierError``. Its
``show`` argument decides what of a captured message still reaches logging: everything (the
default), nothing (``show=QUIET``: a query whose "not found" libbpf reports as a warning), or a
shortened text (the verifier log, which the exception carries, is not printed a second time).
"""

from __future__ import annotations

import sys
from _thread import _local as _ThreadLocal  # threading.local, without importing threading

from ._ffi import lib
from ._ffi.core import lbpy_log_fn

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Callable, Optional

__all__ = ["LOGGER_NAME", "capture", "QUIET"]

LOGGER_NAME = "libbpf_py"

# enum libbpf_print_level -> logging level number
_LEVELS = {0: 30, 1: 20, 2: 10}  # LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG
_DEBUG = 2

#: The lines libbpf prints around a program's verifier log (libbpf.c: bpf_object_load_prog).
PROG_LOG_BEGIN = "-- BEGIN PROG LOAD LOG --"
PROG_LOG_END = "-- END PROG LOAD LOG --"

_tls = _ThreadLocal()  # .sink, .show: the innermost capture()'s list and filter on this thread


def QUIET(level: int, text: str) -> Optional[str]:
    """A ``capture(show=...)`` filter that shows nothing."""
    return None


#: libbpf's hint after any EPERM as root. Where the kernel does not charge RLIMIT_MEMLOCK (5.11+)
#: it misleads (the cause is lockdown, an LSM ...); where it does, libbpf_py says so itself with
#: the limit (``features.explain_memlock``). Kept in capture(), never shown or quoted in an error.
MEMLOCK_HINT = "permission error while running as root; try raising 'ulimit -l'"


def _on_message(level: int, msg: bytes) -> None:
    # Runs inside a libbpf call (a ctypes callback): it must never raise.
    try:
        text = msg.decode(errors="replace")
        sink = getattr(_tls, "sink", None)
        if sink is not None:
            sink.append((level, text))
        if level == _DEBUG and "logging" not in sys.modules:
            return  # nothing could show it: no filter to run (most messages, at every load)
        show = _tls.show if sink is not None else None
        if show is not None:
            shown = show(level, text)
            if shown is None:
                return
            text = shown
        if MEMLOCK_HINT in text:
            return
        import logging

        logger = logging.getLogger(LOGGER_NAME)
        pylevel = _LEVELS.get(level, 10)
        if logger.isEnabledFor(pylevel):
            logger.log(pylevel, "%s", text.rstrip("\n"))
    except BaseException:  # noqa: BLE001 - a C callback has nowhere to propagate to
        pass


# LIFETIME: libbpf (through the shim) keeps a raw pointer to this callback for the life of the
# process; the module global keeps the CFUNCTYPE object alive.
_callback = lbpy_log_fn(_on_message)
lib.lbpy_set_log_fn(_callback)


class capture:
    """``with capture() as messages:`` records (level, text) of every libbpf message this thread
    emits inside the block (nested captures see the inner messages too).

    ``show(level, text)``, if given, returns what of each message reaches logging: the text, a
    shorter one, or None for nothing (``QUIET``). An inner capture without ``show`` keeps the
    outer one's.

    A plain class rather than ``contextlib.contextmanager``: importing contextlib (and functools)
    costs milliseconds of every cold start.
    """

    __slots__ = ("_outer", "_outer_show", "_sink", "_show")

    def __init__(self, show: Optional[Callable[[int, str], Optional[str]]] = None) -> None:
        self._show = show

    def __enter__(self) -> list[tuple[int, str]]:
        self._outer = getattr(_tls, "sink", None)
        self._outer_show = getattr(_tls, "show", None)
        self._sink: list[tuple[int, str]] = []
        _tls.sink = self._sink
        _tls.show = self._show if self._show is not None else self._outer_show
        return self._sink

    def __exit__(self, *exc: object) -> None:
        _tls.sink = self._outer
        _tls.show = self._outer_show
        if self._outer is not None:
            self._outer.extend(self._sink)
