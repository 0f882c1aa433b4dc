"""libbpf's messages, routed to ``logging.getLogger("libbpf_py")``.

libbpf prints through one process-wide callback (``libbpf_set_print``). The C shim formats each
``va_list`` message (ctypes cannot pass one portably) and calls ``_on_message`` with the finished
text. Levels map to logging's: ``LIBBPF_WARN`` -> WARNING, ``LIBBPF_INFO`` -> INFO,
``LIBBPF_DEBUG`` -> DEBUG.

``logging`` is imported only when a message could be shown, so ``import libbpf_py`` stays cheap:
debug messages are dropped unless the program has imported ``logging`` (it must have, to
configure a handler that would show them).

``capture()`` additionally records every message emitted by the current thread while it is
active; ``OpenObject.load()`` uses it to keep the verifier log for ``VerifierError``.
"""

from __future__ import annotations

import sys
from _thread import _local as _ThreadLocal  # threading.local, without importing threading

from ._ffi import lib
from ._ffi.types import lbpy_log_fn

__all__ = ["LOGGER_NAME", "capture"]

LOGGER_NAME = "libbpf_py"

# enum libbpf_print_level -> logging level number
_LEVELS = {0: 30, 1: 20, 2: 10}  # LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG
_DEBUG = 2

_tls = _ThreadLocal()  # .sink: the innermost capture()'s list on this thread


def _on_message(level: int, msg: bytes) -> None:
    # Runs inside a libbpf call (a ctypes callback): it must never raise.
    try:
        text = msg.decode(errors="replace")
        sink = getattr(_tls, "sink", None)
        if sink is not None:
            sink.append((level, text))
        if "logging" not in sys.modules and level == _DEBUG:
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

    A plain class rather than ``contextlib.contextmanager``: importing contextlib (and functools)
    costs milliseconds of every cold start.
    """

    __slots__ = ("_outer", "_sink")

    def __enter__(self) -> list[tuple[int, str]]:
        self._outer = getattr(_tls, "sink", None)
        self._sink: list[tuple[int, str]] = []
        _tls.sink = self._sink
        return self._sink

    def __exit__(self, *exc: object) -> None:
        _tls.sink = self._outer
        if self._outer is not None:
            self._outer.extend(self._sink)
