"""The command line's commands (``python -m libbpf_py COMMAND``), one module per concept.

``features`` (:mod:`.features`), ``inspect`` (:mod:`.inspect`), ``btf dump`` (:mod:`.btf`),
``prog``/``map``/``link list`` and ``map dump`` (:mod:`.listing`). ``libbpf_py.__main__`` parses
the arguments and imports a module only when its command runs, so ``import libbpf_py`` never
loads any of this. Expected failures raise ``CliError`` (or ``OSError``/``KeyError``/
``ValueError``): the dispatcher prints them on stderr and exits 1, without a traceback.
"""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """An expected failure of a command: its message is printed as is, exit status 1."""
