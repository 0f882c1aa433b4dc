"""Write the VM runner's initramfs: the static init (scripts/vm/init.c) and the kernel modules
the guest needs to mount the host's root over 9p, decompressed, in load order.

    python3 scripts/vm/initramfs.py MODULES_DIR INIT_BINARY OUT.cpio

MODULES_DIR is the kernel's lib/modules/<release> (scripts/vm/kernel.sh unpacks it, with
depmod's modules.dep). Modules the kernel has built in are skipped. The archive is the kernel's
"newc" cpio format, uncompressed (every kernel reads it). Standard library only.
"""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
import zlib

#: What the init needs: the virtio PCI transport and 9p over it (and entropy from the host,
#: so that nothing waits for the guest's random pool).
WANTED = ("virtio_pci", "9pnet_virtio", "9p", "virtio_rng")


def _module_name(path: str) -> str:
    base = os.path.basename(path)
    return base.split(".ko")[0].replace("-", "_")


def _decompress(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if path.endswith(".zst"):
        if shutil.which("zstd") is None:
            sys.exit(f"initramfs.py: {path} is zstd-compressed: install zstd")
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return data


def load_order(moddir: str) -> list[str]:
    """Relative paths of the modules to load, dependencies first."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
            by_name[_module_name(mod)] = mod
    builtin = set()
    try:
        with open(os.path.join(moddir, "modules.builtin")) as f:
            builtin = {_module_name(line.strip()) for line in f}
    except FileNotFoundError:
        pass
    order: list[str] = []

    def add(mod: str) -> None:
        if mod in order:
            return
        for dep in reversed(deps.get(mod, [])):
            add(dep)
        order.append(mod)

    for name in WANTED:
        if name in builtin or name not in by_name:
            continue  # built in (some packages ship no modules.builtin: init.c tells)
        add(by_name[name])
    return order


def _entry(name: str, mode: int, data: bytes, ino: int) -> bytes:
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08X" % v for v in fields) + name.encode() + b"\0"
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def write(moddir: str, init: str, out: str) -> None:
    entries = []
    with open(init, "rb") as f:
        entries.append(("init", 0o100755, f.read()))
    names = []
    for i, mod in enumerate(load_order(moddir)):
        name = f"m{i:02d}-{_module_name(mod)}.ko"
        entries.append((name, 0o100644, _decompress(os.path.join(moddir, mod))))
        names.append("/" + name)
    entries.append(("modules.order", 0o100644, "".join(n + "\n" for n in names).encode()))
    blob = b"".join(_entry(n, m, d, i + 1) for i, (n, m, d) in enumerate(entries))
    blob += _entry("TRAILER!!!", 0, b"", 0)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob + b"\0" * (-len(blob) % 512))
    os.replace(tmp, out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    write(*sys.argv[1:])
