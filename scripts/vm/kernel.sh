#!/usr/bin/env bash
# Fetch and unpack one of Debian's kernels for the VM runner (scripts/vmtest.sh), or for anyone
# who needs a guest kernel (the arm64 wheel check): never installed, never touching /boot or the
# machine's apt state.
#
#   bash scripts/vm/kernel.sh [--arch amd64|arm64] [--list] SERIES
#
# SERIES: 5.10, 6.1, 6.12, 7 (or 7.x), a full release ("6.12.118+deb13-amd64"), or "newest".
# The newest package of the series is picked by querying Debian's indexes (bullseye to sid)
# through a private apt configuration (scripts/debian-apt.sh); `--list` only prints the
# candidates. The package (and, where Debian splits a kernel, as sid does, its linux-binary-*
# and linux-modules-* parts) is fetched with `apt-get download` and unpacked with `dpkg-deb -x`
# into the cache ($LIBBPF_PY_VM_CACHE, default ~/.cache/libbpf_py/vm), where `depmod` indexes
# its modules. A second call finds it there and does not touch the network.
#
# Prints shell assignments (eval-able):
#   KERNEL_RELEASE=6.12.118+deb13-amd64   (uname -r inside the guest)
#   KERNEL_IMAGE=/.../boot/vmlinuz-...     KERNEL_MODULES=/.../lib/modules/<release>
#   KERNEL_CONFIG=/.../boot/config-...     KERNEL_PACKAGE=linux-image-...  KERNEL_ARCH=amd64
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return 0; }; done; return 0; }
die() { printf 'kernel.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'kernel.sh: %s\n' "$*" >&2; }

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
list=0
series=
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --arch=*) arch=${1#--arch=}; shift ;;
        --list) list=1; shift ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) series=$1; shift ;;
    esac
done
[ -n "$series" ] || die "which kernel? e.g. 5.10, 6.1, 6.12, 7, newest (see --help)"
case "$arch" in
    amd64 | arm64) ;;
    *) die "architecture $arch: only amd64 and arm64 kernels are supported" ;;
esac
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed (a Debian/Ubuntu machine)"

cache=${LIBBPF_PY_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py/vm}
apt_dir=$cache/apt-$arch
mkdir -p "$cache"

# shellcheck source=scripts/debian-apt.sh
source "$top/scripts/debian-apt.sh"
# The indexes are read at most once an hour: a cached kernel is found without them.
setup_apt() {
    if [ -z "${DEB_APT+x}" ]; then
        local stamp=$apt_dir/update.log
        if [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin -60 2>/dev/null)" ] \
            && [ -s "$apt_dir/sources.list" ]; then
            deb_apt_setup_noupdate "$apt_dir" "$arch"
        else
            say "reading Debian's package indexes ($arch)"
            deb_apt_setup "$apt_dir" deb \
                "bullseye bullseye-security bookworm bookworm-security trixie trixie-security sid" \
                "$arch" || die "no Debian mirror in this machine's apt sources"
        fi
    fi
}
deb_apt_setup_noupdate() {
    DEB_APT=(-o "Dir::Etc::SourceList=$1/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$1/lists" -o "Dir::Cache=$1/cache"
        -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root"
        -o "Acquire::Languages=none" -o "APT::Architecture=$2" -o "APT::Architectures=$2")
}

# Kernel image packages of the plain flavour (not cloud/rt, not the unversioned metapackages),
# oldest first.
candidates() {
    apt-cache "${DEB_APT[@]}" search --names-only "^linux-image-[0-9].*-$arch\$" 2>/dev/null \
        | awk '{print $1}' \
        | grep -E "^linux-image-[0-9]+\.[0-9]+(\.[0-9]+)?[-.+][^ ]*[0-9][^ ]*-$arch\$" \
        | grep -vE -- "-(cloud|rt|unsigned)-$arch\$" \
        | grep -vE "^linux-image-[0-9]+\.[0-9]+-$arch\$" \
        | sort -V
}

# The newest candidate of a series ("6.1" matches 6.1.0-57 but not 6.12.x).
pick() {
    local want=$1
    case "$want" in
        newest) candidates | tail -1 ;;
        7.x) pick 7 ;;
        *.*+* | *-*) candidates | grep -Fx "linux-image-$want" || candidates | grep -F -- "$want" | tail -1 ;;
        *) candidates | grep -E "^linux-image-${want//./\\.}[.-]" | tail -1 ;;
    esac
}

# Cached already? (the series -> package answer is remembered with the unpacked tree)
remembered=$cache/$arch-$series.pkg
pkg=
if [ "$list" = 0 ] && [ -f "$remembered" ] && [ -z "${LIBBPF_PY_VM_REFRESH:-}" ]; then
    pkg=$(cat "$remembered")
    [ -f "$cache/$arch/$pkg/.done" ] || pkg=
fi
if [ -z "$pkg" ]; then
    setup_apt
    if [ "$list" = 1 ]; then
        candidates
        exit 0
    fi
    pkg=$(pick "$series" || true)
    if [ -z "$pkg" ]; then
        grep -E "^(Err|W:|E:)" "$apt_dir/update.log" >&2 || true
        die "no $arch kernel package for series '$series' in Debian's indexes (no network, or no such kernel: try --list)"
    fi
fi

root=$cache/$arch/$pkg
# (An unpacked tree without the kernel's config predates fetching linux-base-*: fetch again.)
if [ ! -f "$root/.done" ] || [ -z "$(first "$root"/boot/config-* "$root"/lib/modules/*/config)" ]
then
    setup_apt
    # Where Debian splits the kernel (sid: linux-image-X depends on linux-binary-X,
    # linux-modules-X and linux-base-X, the last with the config libbpf reads), the parts carry
    # the files.
    parts=$(apt-cache "${DEB_APT[@]}" depends "$pkg" 2>/dev/null \
        | sed -n -E 's/^ *Depends: (linux-(base|binary|modules)-[^ ]+).*/\1/p' | sort -u)
    debs=$cache/debs-$arch
    mkdir -p "$debs"
    for p in "$pkg" $parts; do
        if [ -z "$(first "$debs/${p}_"*.deb)" ]; then
            say "downloading $p"
            (cd "$debs" && apt-get "${DEB_APT[@]}" download "$p" >/dev/null) \
                || die "downloading $p failed (network? see $apt_dir/update.log)"
        fi
    done
    rm -rf "$root.tmp"
    mkdir -p "$root.tmp"
    for p in "$pkg" $parts; do
        say "unpacking $p"
        dpkg-deb -x "$(first "$debs/${p}_"*.deb)" "$root.tmp"
    done
    # Debian's /lib may be /usr/lib (merged /usr) inside the packages.
    mods=
    for d in "$root.tmp"/lib/modules/* "$root.tmp"/usr/lib/modules/*; do
        [ -d "$d" ] && { mods=$d; break; }
    done
    [ -n "$mods" ] || die "$pkg has no modules directory"
    release=$(basename "$mods")
    if [ "$mods" != "$root.tmp/lib/modules/$release" ]; then
        mkdir -p "$root.tmp/lib/modules"
        mv "$mods" "$root.tmp/lib/modules/$release"
    fi
    command -v depmod >/dev/null || die "depmod is needed (apt-get install kmod)"
    depmod -b "$root.tmp" "$release"
    rm -f "$debs/${pkg}_"*.deb  # the unpacked tree is what we keep
    for p in $parts; do rm -f "$debs/${p}_"*.deb; done
    rm -rf "$root"
    mv "$root.tmp" "$root"
    touch "$root/.done"
fi
echo "$pkg" >"$remembered"

release=$(basename "$(first "$root"/lib/modules/*)")
image=$(first "$root"/boot/vmlinuz-* "$root"/boot/vmlinux-* "$root/lib/modules/$release/vmlinuz")
[ -n "$image" ] || die "$pkg has no /boot/vmlinuz"
config=$(first "$root"/boot/config-* "$root/lib/modules/$release/config")
printf 'KERNEL_RELEASE=%q\nKERNEL_IMAGE=%q\nKERNEL_MODULES=%q\nKERNEL_CONFIG=%q\n' \
    "$release" "$image" "$root/lib/modules/$release" "$config"
printf 'KERNEL_PACKAGE=%q\nKERNEL_ARCH=%q\n' "$pkg" "$arch"
