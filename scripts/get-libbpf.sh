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

sha_ok() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status; }

# Print the URIs of the machine's enabled 'deb' entries, one-line and deb822 formats.
mirror_uris() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI suite components...
        sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush() { if (deb && en && uris != "") print uris; deb = 0; en = 1; uris = "" }
            BEGIN { en = 1 }
            /^[[:space:]]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "enabled:" { if (tolower($2) == "no") en = 0 }
            tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris = uris (uris == "" ? "" : "\n") $i }
            END { flush() }
        ' "$f"
    done
}

fetch_from_debian() {
    command -v apt-get >/dev/null || die "apt-get is not available"
    local tmp uri suite n=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/lists/partial" "$tmp/dl"
    : >"$tmp/sources.list"
    for uri in $(mirror_uris | awk '!seen[$0]++'); do
        case "$uri" in http://* | https://* | file:/* | mirror+*) ;; *) continue ;; esac
        for suite in $SUITES; do
            echo "deb-src $uri $suite main" >>"$tmp/sources.list"
            n=$((n + 1))
        done
    done
    [ "$n" -gt 0 ] || die "no apt mirror URI found in /etc/apt/sources.list{,.d}"
    local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
        -o "APT::Sandbox::User=root" -o "Acquire::Languages=none")
    say "reading source indexes for suites: $SUITES"
    # Mirrors that lack a suite make apt-get update complain; what matters is what showsrc finds.
    apt-get "${opts[@]}" update >"$tmp/update.log" 2>&1 || true
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
