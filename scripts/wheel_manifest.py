"""Print what a libbpf_py wheel ships, in a form two wheels can be compared by: its files and what
its shared object exports and needs.

    python scripts/wheel_manifest.py WHEEL > WHEEL.manifest

One line each, sorted:

- ``file <path>``: every file in the wheel but the ``.dist-info`` directory (whose WHEEL and
  RECORD name the tags and hashes, which differ between builds of the same contents);
- ``export <symbol>``: every dynamic symbol ``libbpf_py/_ffi/_libbpf.so`` defines with default
  or protected visibility (what ctypes, or anything else in the process, can see);
- ``needed <soname>``: its DT_NEEDED entries, with libc's normalised to ``libc`` (glibc's
  ``libc.so.6`` and musl's ``libc.musl-<arch>.so.1`` are the one library the wheels may need).

Used by scripts/build-wheels.sh and tests/test_wheels.py (the zig-built wheels against what
cibuildwheel's configuration builds). Needs pyelftools.
"""

from __future__ import annotations

import io
import sys
import zipfile

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

SO = "libbpf_py/_ffi/_libbpf.so"


def manifest(wheel: str) -> list[str]:
    lines = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        for name in names:
            if name.split("/", 1)[0].endswith(".dist-info") or name.endswith("/"):
                continue
            lines.append(f"file {name}")
        if SO not in names:
            raise SystemExit(f"wheel_manifest: {wheel} has no {SO}")
        elf = ELFFile(io.BytesIO(zf.read(SO)))
    dynsym = elf.get_section_by_name(".dynsym")
    assert isinstance(dynsym, SymbolTableSection), f"{SO} has no .dynsym"
    for sym in dynsym.iter_symbols():
        if (sym.name and sym["st_shndx"] != "SHN_UNDEF"
                and sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
                and sym["st_other"]["visibility"] in ("STV_DEFAULT", "STV_PROTECTED")):
            lines.append(f"export {sym.name}")
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                if tag.entry.d_tag == "DT_NEEDED":
                    soname = tag.needed
                    if soname == "libc.so.6" or soname.startswith("libc.musl-"):
                        soname = "libc"
                    lines.append(f"needed {soname}")
    return sorted(set(lines))


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python wheel_manifest.py WHEEL")
    print("\n".join(manifest(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
