#!/usr/bin/env bash
# Fill the libbpf/ submodule with upstream libbpf v1.7.0 when it is empty.
#
# 1. `git submodule update --init libbpf` (the normal way, needs the upstream git host).
# 2. Otherwise Debian's source package `libbpf` 1.7.0, whose orig tarball is byte-for-byte the
#    upstream release tree. It is fetched with `apt-get source --download-only` through a private
#    apt configuration (own sources list, own lists dir: the system's apt state is untouched) whose
#    deb-src lines reuse the mirror URIs this machine's apt already uses, then sha256-checked.
#
# Usage: scripts/get-libbpf.sh [DEST]   (DEST defaults to <repo>/libbpf)
set -euo pipefail

VERSION=1.7.0
DEB_VERSION=1.7.0-1
SHA256=7ab5feffbf78557f626f2e3e3204788528394494715a30fc2070fcddc2051b7b
SUITES="unstable testing"

top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$top/libbpf}
cache=${LIBBPF_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py}
tarball="$cache/libbpf_${VERSION}.orig.tar.gz"

say() { printf 'get-libbpf: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    cat >&2 <<EOF
get-libbpf: libbpf/ must hold libbpf v$VERSION. Either run
    git submodule update --init libbpf
with access to the upstream git host, or make Debian's source package 'libbpf' $DEB_VERSION
reachable through apt (any Debian mirror carrying unstable or testing), or unpack the
v$VERSION release tarball into libbpf/ yourself.
EOF
    exit 1
}

have_source() {
    local h="$dest/src/libbpf_version.h"
    [ -f "$h" ] && [ -f "$dest/src/libbpf.c" ] &&
        grep -q "LIBBPF_MAJOR_VERSION ${VERSION%%.*}\$" "$h" &&
        grep -q "LIBBPF_MINOR_VERSION $(echo "$VERSION" | cut -d. -f2)\$" "$h"
}

if have_source; then
    exit 0
fi
if [ -e "$dest/src" ]; then
    die "$dest holds something that is not libbpf v$VERSION; remove it first"
fi

# 1. The submodule, when the upstream host answers.
if [ "$dest" = "$top/libbpf" ] && git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    say "trying git submodule update --init libbpf"
    if GIT_TERMINAL_PROMPT=0 timeout 120 git -C "$top" submodule update --init libbpf >/dev/null 2>&1 &&
        have_source; then
        say "libbpf $VERSION checked out from the submodule"
        exit 0
    fi
    say "the submodule could not be cloned; falling back to Debian's source package"
fi

# shellcheck source=scripts/debian-apt.sh
source "$top/scripts/debian-apt.sh"  # here, not in a function: its end would fire a RETURN trap

sha_ok() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status; }

fetch_from_debian() {
    command -v apt-get >/dev/null || die "apt-get is not available"
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/dl"
    say "reading source indexes for suites: $SUITES"
    deb_apt_setup "$tmp" deb-src "$SUITES" || die "no apt mirror URI found in /etc/apt/sources.list{,.d}"
    local opts=("${DEB_APT[@]}")
    if ! apt-cache "${opts[@]}" showsrc libbpf 2>/dev/null | grep -q "^Version: $DEB_VERSION\$"; then
        sed 's/^/    /' "$tmp/update.log" >&2
        die "no mirror of this machine serves the source package libbpf $DEB_VERSION"
    fi
    say "downloading Debian source package libbpf $DEB_VERSION"
    (cd "$tmp/dl" && apt-get "${opts[@]}" source --download-only "libbpf=$DEB_VERSION" >"$tmp/source.log" 2>&1) ||
        { sed 's/^/    /' "$tmp/source.log" >&2; die "apt-get source failed"; }
    local got="$tmp/dl/libbpf_${VERSION}.orig.tar.gz"
    sha_ok "$got" || die "sha256 of $(basename "$got") is not $SHA256"
    mkdir -p "$cache"
    mv "$got" "$tarball"
}

if sha_ok "$tarball"; then
    say "using cached $tarball"
else
    fetch_from_debian
fi
mkdir -p "$dest"
tar -xzf "$tarball" -C "$dest" --strip-components=1
have_source || die "the unpacked tree is not libbpf $VERSION"
say "libbpf $VERSION unpacked into $dest (orig tarball sha256 verified)"
