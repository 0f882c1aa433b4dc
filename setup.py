"""Build libbpf_py: bundled libbpf + our C shim -> one shared object inside the package.

The shared object is loaded with ctypes, not imported by CPython, so the wheel is tagged
``py3-none-<platform>``: one wheel per architecture serves every CPython 3.

What ``build_ext`` produces (in the build tree, or in place for ``pip install -e``):

- ``libbpf_py/_ffi/_libbpf.so``: libbpf's sources (the ``libbpf/`` submodule) and the shim
  (``src/*.c``, its exports declared in ``src/lbpy.h``), compiled with ``-fvisibility=hidden``
  so only ``LIBBPF_API`` symbols and the shim are exported; links libelf and zlib.
- ``libbpf_py/include/bpf/*.h``: libbpf's BPF-side headers (``bpf_helpers.h``...), for users and
  tools compiling BPF C against the bundled version (``libbpf_py.get_include()``).
- ``libbpf_py/tools/bpf/*.bpf.o``: the built-in tools' BPF programs, compiled with clang when
  clang is available (the tools say clearly when their object was not built).

``pip install .`` (and the sdist) links the system's libelf and zlib (``pkg-config``, else
``-lelf -lz``). The release wheels (``scripts/build-wheels.sh``, cibuildwheel) set, through the
environment:

- ``LIBBPF_PY_STATIC_DEPS=PREFIX``: link ``PREFIX/lib/libelf.a`` and ``PREFIX/lib/libz.a`` (built
  by ``scripts/wheel-deps.sh`` with hidden symbols) into the shared object, with their headers
  from ``PREFIX/include``: the .so then needs nothing but libc, and exports only libbpf's API
  and the shim.
- ``LIBBPF_PY_TARGET_ARCH=aarch64`` (a ``uname -m`` name): the architecture the .so is built for
  when ``CC``/``LDSHARED`` name a cross compiler. The tools' BPF objects are compiled for it
  (``__TARGET_ARCH_arm64``, its ``asm/`` headers) and the wheel is tagged ``linux_<arch>``
  before auditwheel gives it its manylinux or musllinux tag. clang is then required.
- ``LIBBPF_PY_BPF_INCLUDE=DIR``: where the target's ``asm/*.h`` UAPI headers are, for the tools'
  BPF objects (default: ``/usr/include/<multiarch>`` natively, ``/usr/<triplet>/include`` across,
  as Debian's ``linux-libc-dev-<arch>-cross`` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
LIBBPF = Path("libbpf")
# The object list of libbpf/src/Makefile (OBJS) for v1.7.0.
LIBBPF_SOURCES = [
    "bpf.c", "btf.c", "libbpf.c", "libbpf_utils.c", "netlink.c", "nlattr.c", "libbpf_probes.c",
    "bpf_prog_linfo.c", "btf_dump.c", "hashmap.c", "ringbuf.c", "strset.c", "linker.c",
    "gen_loader.c", "relo_core.c", "usdt.c", "zip.c", "elf.c", "features.c", "btf_iter.c",
    "btf_relocate.c",
]
BPF_HEADERS = [
    "bpf_helpers.h", "bpf_helper_defs.h", "bpf_tracing.h", "bpf_core_read.h", "bpf_endian.h",
    "usdt.bpf.h",
]
TOOLS_BPF = Path("libbpf_py/tools/bpf")


def _pkg_config(*args: str) -> list[str]:
    try:
        out = subprocess.run(["pkg-config", *args, "libelf", "zlib"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.split()


def _require_libbpf_source() -> None:
    if not (HERE / LIBBPF / "src" / "libbpf.c").is_file():
        sys.exit(
            "libbpf_py: libbpf/ is empty. Fill it with `git submodule update --init libbpf`, or, "
            "without access to the upstream git host, with `bash scripts/get-libbpf.sh`."
        )


def _libbpf_version() -> str:
    """The release of the libbpf source, as libbpf's Makefile derives it (newest libbpf.map node)."""
    import re

    text = (HERE / LIBBPF / "src" / "libbpf.map").read_text() if (HERE / LIBBPF).is_dir() else ""
    found = [tuple(int(x) for x in v.split(".")) for v in re.findall(r"^LIBBPF_([0-9.]+)", text, re.M)]
    return ".".join(map(str, max(found))) if found else "unknown"


HOST_ARCH = os.uname().machine
TARGET_ARCH = os.environ.get("LIBBPF_PY_TARGET_ARCH") or HOST_ARCH
CROSS = TARGET_ARCH != HOST_ARCH
STATIC_DEPS = os.environ.get("LIBBPF_PY_STATIC_DEPS")


def _bpf_target_arch() -> str:
    return {"x86_64": "x86", "aarch64": "arm64", "ppc64le": "powerpc", "s390x": "s390",
            "riscv64": "riscv"}.get(TARGET_ARCH, TARGET_ARCH)


def _bpf_include() -> list[str]:
    """The -I that gives the tools' BPF C the target's <asm/*.h> (linux/types.h needs them)."""
    explicit = os.environ.get("LIBBPF_PY_BPF_INCLUDE")
    if explicit:
        if not (Path(explicit) / "asm" / "types.h").is_file():
            sys.exit(f"libbpf_py: LIBBPF_PY_BPF_INCLUDE={explicit} has no asm/types.h")
        return [f"-I{explicit}"]
    if not CROSS:
        multiarch = sysconfig.get_config_var("MULTIARCH") or ""
        return [f"-I/usr/include/{multiarch}"] if multiarch else []
    cross = Path(f"/usr/{TARGET_ARCH}-linux-gnu/include")
    if (cross / "asm" / "types.h").is_file():
        return [f"-I{cross}"]
    sys.exit(f"libbpf_py: no {TARGET_ARCH} <asm/types.h> for the tools' BPF objects: install "
             f"{TARGET_ARCH}'s kernel UAPI headers (Debian: linux-libc-dev-arm64-cross) or set "
             f"LIBBPF_PY_BPF_INCLUDE")


def _native_deps() -> dict[str, list[str]]:
    """How the .so gets libelf and zlib: the system's, or static archives (release wheels)."""
    if not STATIC_DEPS:
        return {"include_dirs": [], "libraries": ["elf", "z"], "extra_objects": [],
                "cflags": _pkg_config("--cflags"), "ldflags": _pkg_config("--libs-only-L")}
    prefix = Path(STATIC_DEPS).resolve()
    archives = [prefix / "lib" / "libelf.a", prefix / "lib" / "libz.a"]
    missing = [str(a) for a in archives if not a.is_file()]
    if missing:
        sys.exit(f"libbpf_py: LIBBPF_PY_STATIC_DEPS={STATIC_DEPS}: missing {', '.join(missing)} "
                 f"(build them with scripts/wheel-deps.sh)")
    # libelf's and zlib's symbols are hidden (compiled -fvisibility=hidden): what they hold that
    # libbpf does not use is dropped, and the .so exports libbpf's API and the shim only.
    return {"include_dirs": [str(prefix / "include")], "libraries": [],
            "extra_objects": [str(a) for a in archives], "cflags": [],
            "ldflags": ["-Wl,--gc-sections", "-Wl,--strip-debug"]}


NATIVE_DEPS = _native_deps()


class BuildLibbpf(build_ext):
    """Compile libbpf + shim as a plain shared object (no Python ABI suffix)."""

    def initialize_options(self) -> None:
        super().initialize_options()
        self.parallel = os.cpu_count() or 1

    def get_ext_filename(self, fullname: str) -> str:
        return os.path.join(*fullname.split(".")) + ".so"

    def build_extension(self, ext: Extension) -> None:
        _require_libbpf_source()
        # Python's own CFLAGS carry -O3 -Wall etc.; libbpf builds warning-clean with them.
        super().build_extension(ext)
        pkg_dir = Path(self.build_lib) / "libbpf_py"
        self._copy_headers(pkg_dir / "include" / "bpf")
        self._build_tools(pkg_dir / "tools" / "bpf")

    def copy_extensions_to_source(self) -> None:
        """In-place builds (`build_ext --inplace`, `pip install -e`): also copy the headers and
        the tools' BPF objects next to the package's sources."""
        super().copy_extensions_to_source()
        built = Path(self.build_lib) / "libbpf_py"
        shutil.copytree(built / "include", HERE / "libbpf_py" / "include", dirs_exist_ok=True)
        for obj in (built / "tools" / "bpf").glob("*.bpf.o"):
            shutil.copyfile(obj, HERE / TOOLS_BPF / obj.name)

    def _copy_headers(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for name in BPF_HEADERS:
            shutil.copyfile(HERE / LIBBPF / "src" / name, dest / name)

    def _build_tools(self, dest: Path) -> None:
        sources = sorted((HERE / TOOLS_BPF).glob("*.bpf.c"))
        if not sources:
            return
        clang = os.environ.get("CLANG", "clang")
        if shutil.which(clang) is None:
            if CROSS or STATIC_DEPS:
                sys.exit(f"libbpf_py: {clang} not found: a release wheel needs the built-in "
                         f"tools' BPF objects (set CLANG)")
            print(f"libbpf_py: {clang} not found: the built-in tools' BPF objects are not built",
                  file=sys.stderr)
            return
        dest.mkdir(parents=True, exist_ok=True)
        include = dest.parent.parent / "include"
        for src in sources:
            out = dest / (src.name[: -len(".c")] + ".o")
            # linux/bpf.h and friends from libbpf's own UAPI copy (what libbpf 1.7.0 was written
            # against), not the build host's kernel headers: the same objects on every host.
            cmd = [clang, f"-I{HERE / LIBBPF / 'include' / 'uapi'}", *_bpf_include(), "-g", "-O2",
                   "-target", "bpf", f"-D__TARGET_ARCH_{_bpf_target_arch()}", f"-I{include}",
                   f"-I{HERE / TOOLS_BPF}", "-c", str(src), "-o", str(out)]
            print(" ".join(cmd))
            subprocess.run(cmd, check=True)
            # Keep BTF, drop DWARF: smaller objects, same CO-RE information.
            strip = shutil.which(os.environ.get("LLVM_STRIP", "llvm-strip"))
            if strip:
                subprocess.run([strip, "-g", str(out)], check=True)


class BdistWheelPy3None(bdist_wheel):
    """Tag the wheel py3-none-<platform>: ctypes loads the .so, so any CPython 3 can use it."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        if CROSS:
            plat = f"linux_{TARGET_ARCH}"
        return "py3", "none", plat


libbpf_ext = Extension(
    "libbpf_py._ffi._libbpf",
    sources=[str(LIBBPF / "src" / s) for s in LIBBPF_SOURCES]
    + [f"src/{s}.c" for s in ("log", "version", "perf_event", "atomic", "ringbuf", "perfbuf")],
    depends=["src/lbpy.h", "src/stream.h"],
    include_dirs=[*NATIVE_DEPS["include_dirs"], str(LIBBPF / "src"), str(LIBBPF / "include"),
                  str(LIBBPF / "include" / "uapi")],
    define_macros=[("_LARGEFILE64_SOURCE", None), ("_FILE_OFFSET_BITS", "64"),
                   ("LBPY_LIBBPF_VERSION", f'"{_libbpf_version()}"')],
    extra_compile_args=["-fvisibility=hidden", "-O2", "-std=gnu89", "-Wno-format-overflow",
                        "-Wno-missing-field-initializers",
                        "-Wno-sign-compare", "-Wno-unused-parameter", *NATIVE_DEPS["cflags"]],
    libraries=NATIVE_DEPS["libraries"],
    extra_objects=NATIVE_DEPS["extra_objects"],
    extra_link_args=[*NATIVE_DEPS["ldflags"], "-Wl,--no-undefined"],
)

setup(
    ext_modules=[libbpf_ext],
    cmdclass={"build_ext": BuildLibbpf, "bdist_wheel": BdistWheelPy3None},
)
