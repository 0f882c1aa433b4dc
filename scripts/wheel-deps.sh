#!/usr/bin/env bash
# libelf and zlib for the wheels, as static, position-independent archives whose symbols are all
# hidden: linked into libbpf_py/_ffi/_libbpf.so, they are private to it (nothing of theirs is
# exported, nothing external is needed at run time but libc).
#
#   bash scripts/wheel-deps.sh fetch SRCDIR          # Debian's source packages, sha256-checked
#   CC=... AR=... bash scripts/wheel-deps.sh build SRCDIR PREFIX
#
# fetch: the orig tarballs of Debian's source packages elfutils 0.188 (byte-for-byte upstream's
#   elfutils-0.188.tar.bz2) and zlib 1.2.13 (Debian's dfsg repack: the same library sources,
#   contrib/ trimmed), through a private apt configuration over this machine's mirrors
#   (scripts/debian-apt.sh), cached in $LIBBPF_PY_CACHE (default ~/.cache/libbpf_py), and unpacked
#   into SRCDIR/elfutils and SRCDIR/zlib. A tarball whose sha256 is not the pinned one is refused.
# build: compiles zlib and elfutils' libelf (only libelf: none of libdw, libeu or the tools) with
#   $CC (default cc) and $AR (default ar) into PREFIX/lib/libz.a and PREFIX/lib/libelf.a, and
#   installs the headers libbpf needs (libelf.h, gelf.h, nlist.h, elfutils' elf.h, zlib.h,
#   zconf.h) into PREFIX/include. No configure run: the few config.h answers libelf needs are
#   written here for glibc or musl ($CC is asked which it targets), so a cross compiler (zig cc
#   -target aarch64-linux-gnu.2.17) and a native one (gcc in a manylinux container) build the
#   same thing. setup.py links them when LIBBPF_PY_STATIC_DEPS=PREFIX.
#
# Used by scripts/build-wheels.sh (zig, every target) and by cibuildwheel's before-all (the
# container's gcc), so both release paths bundle the same libraries from the same sources.
set -euo pipefail

ELFUTILS_VERSION=0.188
ELFUTILS_DEB=0.188-2.1
ELFUTILS_TARBALL=elfutils_0.188.orig.tar.bz2
ELFUTILS_SHA256=fb8b0e8d0802005b9a309c60c1d8de32dd2951b56f0c3a3cb56d21ce01595dff
ZLIB_VERSION=1.2.13
ZLIB_DEB=1:1.2.13.dfsg-1
ZLIB_TARBALL=zlib_1.2.13.dfsg.orig.tar.bz2
ZLIB_SHA256=71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
SUITES="bookworm"

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LIBBPF_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py}

say() { printf 'wheel-deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
sha_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

fetch() {
    local srcdir=$1 tmp missing=()
    sha_ok "$cache/$ELFUTILS_TARBALL" "$ELFUTILS_SHA256" || missing+=("elfutils=$ELFUTILS_DEB")
    sha_ok "$cache/$ZLIB_TARBALL" "$ZLIB_SHA256" || missing+=("zlib=$ZLIB_DEB")
    if [ ${#missing[@]} -gt 0 ]; then
        command -v apt-get >/dev/null || die "apt-get is needed to fetch ${missing[*]}"
        tmp=$(mktemp -d)
        # shellcheck source=scripts/debian-apt.sh
        source "$top/scripts/debian-apt.sh"
        deb_apt_setup "$tmp/apt" deb-src "$SUITES" ||
            { rm -rf "$tmp"; die "no apt mirror URI found in /etc/apt/sources.list{,.d}"; }
        say "downloading Debian source packages: ${missing[*]}"
        mkdir -p "$tmp/dl"
        (cd "$tmp/dl" && apt-get "${DEB_APT[@]}" source --download-only "${missing[@]}") \
            >"$tmp/source.log" 2>&1 || {
            sed 's/^/    /' "$tmp/apt/update.log" "$tmp/source.log" >&2
            rm -rf "$tmp"
            die "apt-get source ${missing[*]} failed (suite $SUITES)"
        }
        mkdir -p "$cache"
        for f in "$tmp"/dl/*.orig.tar.*; do
            case "$f" in *.asc) continue ;; esac
            mv "$f" "$cache/"
        done
        rm -rf "$tmp"
    fi
    sha_ok "$cache/$ELFUTILS_TARBALL" "$ELFUTILS_SHA256" ||
        die "sha256 of $ELFUTILS_TARBALL is not $ELFUTILS_SHA256"
    sha_ok "$cache/$ZLIB_TARBALL" "$ZLIB_SHA256" || die "sha256 of $ZLIB_TARBALL is not $ZLIB_SHA256"
    rm -rf "$srcdir/elfutils" "$srcdir/zlib"
    mkdir -p "$srcdir/elfutils" "$srcdir/zlib"
    tar -xjf "$cache/$ELFUTILS_TARBALL" -C "$srcdir/elfutils" --strip-components=1
    tar -xjf "$cache/$ZLIB_TARBALL" -C "$srcdir/zlib" --strip-components=1
    say "elfutils $ELFUTILS_VERSION and zlib $ZLIB_VERSION unpacked into $srcdir (sha256 verified)"
}

# compile OUT.a SRC... : each source to an object (two at a time), then one archive.
compile_archive() {
    local out=$1 obj src pids=() n=0
    shift
    local objdir="$out.objs"
    rm -rf "$objdir" "$out"
    mkdir -p "$objdir"
    for src in "$@"; do
        obj="$objdir/$(basename "${src%.c}").o"
        # shellcheck disable=SC2086
        $CC $CFLAGS_DEPS -c "$src" -o "$obj" &
        pids+=($!)
        n=$((n + 1))
        if [ $((n % ${JOBS:-2})) -eq 0 ]; then
            for p in "${pids[@]}"; do wait "$p" || die "compiling for $out failed"; done
            pids=()
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || die "compiling for $out failed"; done
    # shellcheck disable=SC2086
    $AR rcs "$out" "$objdir"/*.o
    rm -rf "$objdir"
}

build() {
    local srcdir=$1 prefix=$2
    [ -f "$srcdir/elfutils/libelf/libelf.h" ] && [ -f "$srcdir/zlib/zlib.h" ] ||
        die "$srcdir has no elfutils/ and zlib/ sources: run '$0 fetch $srcdir' first"
    CC=${CC:-cc}
    AR=${AR:-ar}
    mkdir -p "$prefix/lib" "$prefix/include" "$prefix/config"
    prefix=$(cd "$prefix" && pwd)
    local common="-O2 -g0 -fPIC -fvisibility=hidden -ffunction-sections -fdata-sections"

    # zlib: the library sources of its Makefile (OBJZ + OBJG), as its configure would set them up
    # on Linux (unistd.h, stdarg.h, 64-bit offsets).
    say "zlib $ZLIB_VERSION with $CC"
    local z=$srcdir/zlib
    CFLAGS_DEPS="$common -Wno-deprecated-non-prototype -DHAVE_UNISTD_H -DHAVE_STDARG_H -D_LARGEFILE64_SOURCE=1 -DHAVE_HIDDEN -I$z"
    compile_archive "$prefix/lib/libz.a" "$z"/{adler32,crc32,deflate,infback,inffast,inflate,inftrees,trees,zutil,compress,uncompr,gzclose,gzlib,gzread,gzwrite}.c
    cp "$z/zlib.h" "$z/zconf.h" "$prefix/include/"

    # libelf: the sources of libelf/Makefile.am's libelf_a_SOURCES. config.h answers what
    # elfutils' configure would find in the target's libc (the only libc difference that libelf
    # sees is error.h and rawmemchr, which musl lacks; glibc 2.17 lacks reallocarray).
    local e=$srcdir/elfutils libc
    libc=$(printf '#include <stdio.h>\n#ifdef __GLIBC__\nglibc\n#else\nother\n#endif\n' |
        $CC -E -P -x c - 2>/dev/null | grep -E '^(glibc|other)$' || true)
    [ -n "$libc" ] || die "$CC cannot preprocess a C file"
    {
        echo "/* written by scripts/wheel-deps.sh for libelf $ELFUTILS_VERSION ($libc) */"
        echo '#define PACKAGE_NAME "elfutils"'
        echo "#define PACKAGE_VERSION \"$ELFUTILS_VERSION\""
        echo "#define VERSION \"$ELFUTILS_VERSION\""
        echo '#define HAVE_VISIBILITY 1'
        echo '#define HAVE_FALLTHROUGH 1'
        echo '#define HAVE_MREMAP 1'
        echo '#define HAVE_DECL_POWEROF2 1'
        echo '#define HAVE_DECL_MEMPCPY 1'
        echo '#define HAVE_DECL_MEMRCHR 1'
        if [ "$libc" = glibc ]; then
            echo '#define HAVE_ERROR_H 1'
            echo '#define HAVE_DECL_RAWMEMCHR 1'
            # glibc has reallocarray from 2.26 only: libelf's inline fallback, under its own name
            # so that it clashes with no declaration in newer headers.
            echo '#define HAVE_DECL_REALLOCARRAY 0'
            echo '#define reallocarray libelf_reallocarray'
        else
            echo '#define HAVE_ERR_H 1'
            echo '#define HAVE_DECL_RAWMEMCHR 0'
            echo '#define HAVE_DECL_REALLOCARRAY 1'
        fi
        echo '#include <eu-config.h>'
    } >"$prefix/config/config.h"
    say "libelf $ELFUTILS_VERSION with $CC ($libc)"
    local sources
    sources=$(sed -n '/^libelf_a_SOURCES/,/^$/p' "$e/libelf/Makefile.am" |
        sed -e 's/^libelf_a_SOURCES *=//' -e 's/\\//g' | tr -s ' \t\n' '\n' | grep '\.c$' |
        sed "s|^|$e/libelf/|")
    [ "$(echo "$sources" | wc -l)" -gt 50 ] || die "could not read libelf's source list"
    CFLAGS_DEPS="$common -std=gnu99 -D_GNU_SOURCE -DHAVE_CONFIG_H -I$prefix/config -I$e/libelf -I$e/lib -I$prefix/include"
    # shellcheck disable=SC2086
    compile_archive "$prefix/lib/libelf.a" $sources
    cp "$e/libelf/libelf.h" "$e/libelf/gelf.h" "$e/libelf/nlist.h" "$e/libelf/elf.h" "$prefix/include/"
    say "built $prefix/lib/libelf.a $prefix/lib/libz.a"
}

case "${1:-}" in
fetch) [ $# -eq 2 ] || die "usage: $0 fetch SRCDIR"; fetch "$2" ;;
build) [ $# -eq 3 ] || die "usage: $0 build SRCDIR PREFIX"; build "$2" "$3" ;;
*) die "usage: $0 fetch SRCDIR | build SRCDIR PREFIX" ;;
esac
