"""Command line: ``python -m libbpf_py <tool> [args]`` (also the ``libbpf-py`` script)."""

from __future__ import annotations

import importlib
import sys
from typing import Optional

from .tools import TOOLS

USAGE = "usage: python -m libbpf_py {version," + ",".join(TOOLS) + "} [args...]"


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        print("tools: " + ", ".join(TOOLS) + "  (each takes --help)")
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "version":
        import libbpf_py

        print(f"libbpf_py {libbpf_py.__version__} (bundled libbpf {libbpf_py.LIBBPF_VERSION})")
        return 0
    if cmd not in TOOLS:
        print(f"{USAGE}\nunknown command {cmd!r}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"libbpf_py.tools.{TOOLS[cmd]}")
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
