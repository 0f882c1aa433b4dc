#!/usr/bin/env bash
# Run the aarch64 wheel in an arm64 guest on a Debian kernel, from this x86_64 machine: pip
# install it into an arm64 Debian userspace and run the wheel smoke there (load, maps, globals,
# ring buffer, a tracepoint and a uprobe firing with exact counts, the tools opensnoop,
# execsnoop and syscount), with BPF objects compiled for arm64.
#
#   bash scripts/wheel-arm64.sh --wheel WHEEL [--musl-wheel WHEEL] [--kernel 6.1]
#                               [--suite bookworm] [--timeout 1800]
#
# --musl-wheel: also run the aarch64 musllinux wheel's library under musl in the guest
# (scripts/wheel_musl_check.c, built with zig for aarch64-linux-musl, with Debian's arm64 `musl`
# package unpacked into the root): no musl Python exists here, so this is its native half only.
#
# The parts, all from Debian's archive through this machine's mirror (no host name written here):
#   - kernel: scripts/vm/kernel.sh --arch arm64 SERIES (linux-image-<series>-*-arm64, unpacked
#     into a cache, never installed; its modules indexed with depmod);
#   - initramfs: scripts/vm/init.c compiled for aarch64 with zig (static, musl) and the virtio/9p
#     modules, by scripts/vm/initramfs.py, as the x86 kernel matrix does;
#   - root: `mmdebstrap --arch=arm64 --variant=minbase --include=python3,python3-venv SUITE`
#     (the arm64 packages' scripts run under qemu-user-static through binfmt_misc; no kernel
#     package in it), cached as a tarball, unpacked into a directory that the guest mounts
#     read-only over 9p as its root, with the wheel, wheel_smoke.py and its object under
#     /opt/smoke;
#   - qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on (TCG; plain `-cpu max` is 3-4 times
#     slower: its pointer authentication is emulated with QARMA);
#   - in the guest, /opt/smoke/guest.sh: mounts, `python3 -m venv` on a tmpfs, `pip install
#     --no-index WHEEL`, then `python -I wheel_smoke.py run`; its status line
#     (WHEEL-SMOKE-STATUS: N) on the console decides this script's exit status.
#
# Needs root, qemu-system-arm, qemu-user-static (binfmt_misc for arm64), mmdebstrap, arch-test,
# clang, dpkg-deb and kmod (depmod), linux-libc-dev-arm64-cross (the object's asm/ headers), and
# zig (the build-wheels tools venv, or PyPI's ziglang in any Python). Under TCG on 2 shared cores:
# about 4 minutes for the root the first time, then a few minutes a run.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LIBBPF_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py}
series=6.1
suite=bookworm
limit=1800
wheel=""
musl_wheel=""
tools=opensnoop,execsnoop,syscount

say() { printf 'wheel-arm64: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '7,8p' "$0" | sed 's/^#  *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --wheel) wheel=${2:-}; shift 2 ;;
    --musl-wheel) musl_wheel=${2:-}; shift 2 ;;
    --kernel) series=${2:-}; shift 2 ;;
    --suite) suite=${2:-}; shift 2 ;;
    --timeout) limit=${2:-}; shift 2 ;;
    --tools) tools=${2:-}; shift 2 ;;
    *) usage ;;
    esac
done
[ -f "$wheel" ] || usage
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
case "$(basename "$wheel")" in *manylinux*aarch64*.whl) ;; *) die "$(basename "$wheel") is not a manylinux aarch64 wheel" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, binfmt_misc)"
for cmd in qemu-system-aarch64 mmdebstrap "${CLANG:-clang}" dpkg-deb depmod; do
    command -v "$cmd" >/dev/null || die "$cmd not found (Debian: qemu-system-arm mmdebstrap clang dpkg kmod)"
done
[ -x /usr/bin/qemu-aarch64-static ] || die "qemu-user-static is not installed (apt-get install qemu-user-static)"

work=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-wheel-arm64.XXXXXX")
qemu_pid=""
cleanup() {
    [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- zig, for the guest's static init ----------------------------------------------------------
zig=""
for py in "$cache/wheel-tools/bin/python" python3; do
    if "$py" -c 'import ziglang' 2>/dev/null; then zig="$py -m ziglang"; break; fi
done
if [ -z "$zig" ]; then
    say "installing ziglang into $cache/zig-venv"
    python3 -m venv "$cache/zig-venv"
    "$cache/zig-venv/bin/python" -m pip install -q --disable-pip-version-check ziglang==0.17.1
    zig="$cache/zig-venv/bin/python -m ziglang"
fi
export ZIG_GLOBAL_CACHE_DIR=$cache/zig

# --- binfmt_misc for arm64 (mmdebstrap runs the arm64 packages' scripts) ------------------------
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || die "cannot enable binfmt_misc for qemu-aarch64"
fi

# --- kernel, init, initramfs -------------------------------------------------------------------
eval "$(bash "$top/scripts/vm/kernel.sh" --arch arm64 "$series")"
say "kernel: $KERNEL_PACKAGE ($KERNEL_RELEASE)"
init=$cache/arm64-init-$(sha256sum "$top/scripts/vm/init.c" | cut -c1-16)
if [ ! -x "$init" ]; then
    $zig cc -target aarch64-linux-musl -static -O2 -Wall -o "$init.tmp" "$top/scripts/vm/init.c"
    mv "$init.tmp" "$init"
fi
python3 "$top/scripts/vm/initramfs.py" "$KERNEL_MODULES" "$init" "$work/initrd.cpio"

# --- the arm64 root ----------------------------------------------------------------------------
# shellcheck source=scripts/debian-apt.sh
source "$top/scripts/debian-apt.sh"
mirror=$(deb_apt_mirror_uris | grep -v -- '-security' | head -n 1)
[ -n "$mirror" ] || die "no Debian mirror URI in this machine's apt sources"
rootball=$cache/roots/$suite-aarch64-python3+python3-venv.tar
if [ ! -f "$rootball" ]; then
    say "mmdebstrap --arch=arm64 $suite (minbase + python3, python3-venv), under qemu-user"
    mkdir -p "$cache/roots"
    mmdebstrap --arch=arm64 --variant=minbase --include=python3,python3-venv \
        --aptopt='Acquire::Check-Valid-Until "false"' "$suite" "$rootball.part.tar" "$mirror" \
        >"$work/mmdebstrap.log" 2>&1 || { tail -n 30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
    mv "$rootball.part.tar" "$rootball"
fi
root=$work/root
mkdir -p "$root"
tar -C "$root" -xf "$rootball"

# --- what the guest runs -----------------------------------------------------------------------
smoke=$root/opt/smoke
mkdir -p "$smoke/wheel" "$smoke/obj" "$work/whl"
cp "$wheel" "$smoke/wheel/"
cp "$top/scripts/wheel_smoke.py" "$smoke/"
(cd "$work/whl" && python3 -m zipfile -e "$wheel" .)
python3 "$top/scripts/wheel_smoke.py" compile --arch aarch64 --include "$work/whl/libbpf_py/include" \
    --out "$smoke/obj" >/dev/null
musl_run=":"
if [ -n "$musl_wheel" ]; then
    case "$(basename "$musl_wheel")" in *musllinux*_aarch64.whl) ;; *) die "$musl_wheel is not a musllinux aarch64 wheel" ;; esac
    deb_apt_setup "$work/apt-arm64" deb "$suite" arm64 || die "no apt mirror URI"
    (cd "$work" && apt-get "${DEB_APT[@]}" download musl >/dev/null) || die "apt-get download musl (arm64) failed"
    # (keeping the root's merged-/usr symlinks /lib -> usr/lib: dpkg-deb -x would replace them)
    dpkg-deb --fsys-tarfile "$(ls "$work"/musl_*_arm64.deb)" | tar -x -C "$root" --keep-directory-symlink
    mkdir -p "$smoke/musl" "$work/mwhl"
    (cd "$work/mwhl" && python3 -m zipfile -e "$musl_wheel" .)
    cp "$work/mwhl/libbpf_py/_ffi/_libbpf.so" "$smoke/musl/"
    $zig cc -target aarch64-linux-musl -dynamic -O2 -Wall -o "$smoke/musl/check" "$top/scripts/wheel_musl_check.c"
    musl_run="/opt/smoke/musl/check /opt/smoke/musl/_libbpf.so /opt/smoke/obj/wheel_smoke.bpf.o"
    say "musl: $(basename "$musl_wheel")'s library, under Debian's arm64 musl $(dpkg-deb -f "$(ls "$work"/musl_*_arm64.deb)" Version)"
fi
cat >"$smoke/guest.sh" <<EOF
# PID 1 in the arm64 guest (exec'd by scripts/vm/init.c on the 9p root, read-only).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for d in /tmp /run /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "\$d"; done
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf
echo "guest: \$(uname -srm), \$(python3 --version), \$(ldd --version | head -n 1)"
(
    set -e
    t0=\$(date +%s)
    python3 -m venv /tmp/venv
    /tmp/venv/bin/python -m pip install --no-index --disable-pip-version-check /opt/smoke/wheel/$(basename "$wheel")
    t1=\$(date +%s)
    echo "guest: venv + pip install: \$((t1 - t0)) s"
    cd /tmp
    /tmp/venv/bin/python -I /opt/smoke/wheel_smoke.py run --objects /opt/smoke/obj --tools "$tools"
    echo "guest: smoke: \$((\$(date +%s) - t1)) s"
    $musl_run
)
echo "WHEEL-SMOKE-STATUS: \$?"
sync
echo o >/proc/sysrq-trigger
sleep 30
EOF

# --- boot --------------------------------------------------------------------------------------
log=$work/console.log
say "booting $KERNEL_RELEASE under qemu-system-aarch64 (TCG), limit ${limit}s"
start=$(date +%s)
timeout -k 5 "$limit" qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -smp 2 -m 2048 \
    -display none -monitor none -serial stdio -no-reboot -nic none -device virtio-rng-pci \
    -kernel "$KERNEL_IMAGE" -initrd "$work/initrd.cpio" \
    -append "console=ttyAMA0 panic=-1 quiet lbpy.init=/opt/smoke/guest.sh" \
    -virtfs "local,path=$root,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    </dev/null >"$log" 2>&1 &
qemu_pid=$!
tail -n +1 -f --pid="$qemu_pid" "$log" 2>/dev/null | grep --line-buffered -E '^(guest|wheel-smoke|WHEEL-SMOKE|Processing|Successfully|Traceback|AssertionError|lbpy-init|libbpf .* under musl|FAIL)|Error' >&2 || true
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=""
status=$(sed -n 's/^WHEEL-SMOKE-STATUS: \([0-9]*\).*/\1/p' "$log" | tr -d '\r' | tail -n 1)
if [ "$status" != 0 ]; then
    tail -n 60 "$log" >&2
    die "the guest did not pass (status '${status:-none}', qemu exit $rc)"
fi
extra=""
[ -n "$musl_wheel" ] && extra=" (and the library of $(basename "$musl_wheel") under musl)"
say "PASS: $(basename "$wheel")$extra on $KERNEL_RELEASE (arm64, TCG) in $(($(date +%s) - start)) s"
