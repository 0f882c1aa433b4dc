"""Built-in tools (bcc-style), written only against libbpf_py's public API.

Run them as ``python -m libbpf_py <tool> [options]`` (root, or CAP_BPF + CAP_PERFMON):

- ``execsnoop``: exec() calls, with arguments and result;
- ``opensnoop``: open()/openat()/openat2() calls, with path, flags, fd or errno;
- ``syscount``: system call counts (and time) per syscall or per process;
- ``runqlat``: scheduler run queue latency histogram (overall, per process or per thread);
- ``biolatency``: block I/O latency histogram (overall, per disk or for one disk);
- ``tcpconnect``: active TCP connections, with outcome and connect latency;
- ``tcplife``: closed TCP sessions, with bytes and lifespan;
- ``profile``: CPU profile by sampling user and kernel stacks (perf events), symbolized, as
  stacks with counts or folded for flame graphs.

Each takes ``--help``, ``-d SECONDS`` and ``--json`` (one object per line), and ``-p PID`` where
a process is meaningful; output columns follow bcc's. The tracing tools stream events through a
ring buffer; the histogram tools print with :mod:`libbpf_py.utils.histogram`; profile counts stacks
in a hash map and symbolizes them with :mod:`libbpf_py.utils.symbols`. Each tool's BPF program
is C under ``tools/bpf/`` (CO-RE: kernel structs declared locally with preserve_access_index, no
vmlinux.h), compiled with clang when the package is built and shipped in the wheel as
``tools/bpf/<name>.bpf.o``. Per-run settings (pid filter...) are ``const volatile`` globals set
before load, as libbpf-tools do.

Every tool is written against its generated skeleton (``<tool>_skel.py``, listed in
``SKELETONS``): programs, maps, globals and types by attribute, typed; events and map keys
decode into the skeleton's classes (no hand-written mirror of a BPF struct); struct-keyed maps
are read and cleared with ``pop_all()``. The skeletons load the packaged object (they do not
embed it: it is compiled per architecture) and check its layout at open.
``scripts/gen-tool-skeletons.py`` generates them again.
"""

from __future__ import annotations

import os

__all__ = ["TOOLS", "SKELETONS", "object_path"]

#: tool name -> module under libbpf_py.tools
TOOLS = {name: name for name in (
    "execsnoop", "opensnoop", "syscount", "runqlat", "biolatency", "tcpconnect", "tcplife",
    "profile")}


#: tool name -> the ``--type`` spellings its skeleton (``<tool>_skel.py``) is generated with
SKELETONS: dict[str, tuple[str, ...]] = {
    "biolatency": (),
    "execsnoop": (),
    "opensnoop": ("struct event",),
    "profile": (),
    "runqlat": ("enum per",),
    "syscount": (),
    "tcpconnect": ("struct event",),
    "tcplife": ("struct event",),
}


def object_path(name: str) -> str:
    """Path of the compiled BPF object of tool ``name``; a clear error when it was not built."""
    path = os.path.join(os.path.dirname(__file__), "bpf", f"{name}.bpf.o")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: the {name} tool's BPF program was not compiled when libbpf_py "
            "was built (clang was not found then). Install clang and rebuild libbpf_py."
        )
    return path
