"""Built-in tools (bcc-style), written only against libbpf_py's public API.

Each tool's BPF program is C under ``tools/bpf/``, compiled with clang when the package is built
and shipped in the wheel as ``tools/bpf/<name>.bpf.o``.
"""

from __future__ import annotations

import os

__all__ = ["TOOLS", "object_path"]

#: tool name -> module under libbpf_py.tools
TOOLS = {"execsnoop": "execsnoop"}


def object_path(name: str) -> str:
    """Path of the compiled BPF object of tool ``name``; a clear error when it was not built."""
    path = os.path.join(os.path.dirname(__file__), "bpf", f"{name}.bpf.o")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: the {name} tool's BPF program was not compiled when libbpf_py "
            "was built (clang was not found then). Install clang and rebuild libbpf_py."
        )
    return path
