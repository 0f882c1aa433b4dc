#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine, as root: set-up (scripts/bootstrap.sh),
# the tests against the real kernel (the installed package, not the source tree), then the wheel
# check (build, auditwheel repair, install in a fresh venv, run a BPF program from there), the
# release wheel (zig-built manylinux2014, compared with cibuildwheel's configuration, run in a
# Debian 11 chroot), then the suite's kernel-dependent part on Debian's 5.10 and newest 7.x
# kernels in VMs.
# Extra arguments go to pytest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/bootstrap.sh
if [ "$(id -u)" = 0 ] && [ ! -d /sys/kernel/tracing/events ]; then
    mount -t tracefs nodev /sys/kernel/tracing || true
fi
# .venv/bin/pytest (not `python -m pytest`) so that the source tree is not on sys.path.
# Exit status 5 (no test ran) fails like any other non-zero status.
(cd tests && ../.venv/bin/pytest -v -p no:cacheprovider "$@")
bash scripts/check-wheel.sh
# The release wheels (docs/install.md): the x86_64 manylinux2014 and musllinux_1_2 wheels built
# with zig and checked by auditwheel, the same manylinux wheel from cibuildwheel's configuration,
# the manylinux wheel pip-installed and run in a Debian 11 userspace (glibc 2.31, Python 3.9) in
# a chroot, and the musllinux wheel's library run under Debian's musl.
wheels=$(mktemp -d "${TMPDIR:-/tmp}/libbpf_py-ci-wheels.XXXXXX")
bash scripts/build-wheels.sh --arch "$(uname -m)" --libc all --out "$wheels"
bash scripts/check-cibuildwheel.sh --against "$wheels"
bash scripts/wheel-chroot.sh --suite bullseye --wheel "$(ls "$wheels"/libbpf_py-*manylinux*.whl)"
bash scripts/wheel-musl.sh --wheel "$(ls "$wheels"/libbpf_py-*musllinux*.whl)"
# The aarch64 wheel in an arm64 guest on Debian's 6.1 kernel (qemu, TCG). Opt-in
# (LIBBPF_PY_ARM64_CI=1): about 10 minutes with empty caches on an idle machine, 25 on a busy one
# (the arm64 root is made under qemu-user), on top of the x86 kernel matrix's VMs.
if [ -n "${LIBBPF_PY_ARM64_CI:-}" ] && [ "$(uname -m)" = x86_64 ]; then
    bash scripts/build-wheels.sh --arch aarch64 --libc all --out "$wheels"
    bash scripts/wheel-arm64.sh --wheel "$(ls "$wheels"/libbpf_py-*manylinux*_aarch64*.whl)" \
        --musl-wheel "$(ls "$wheels"/libbpf_py-*musllinux*_aarch64.whl)"
else
    echo "test.sh: arm64 wheel guest not run (LIBBPF_PY_ARM64_CI=1 runs it)"
fi
rm -rf "$wheels"
# The kernel matrix's CI part: the oldest and newest kernels in VMs (scripts/vmtest.sh --ci;
# docs/kernels.md): both guests at once, about 21 minutes warm on a 2-core TCG machine, 2.5 more
# cold. On by default; LIBBPF_PY_VM_CI=0 leaves it out (x86_64 hosts only so far).
if [ "${LIBBPF_PY_VM_CI:-1}" != 0 ] && [ "$(uname -m)" = x86_64 ]; then
    bash scripts/vmtest.sh --ci
else
    echo "test.sh: kernel matrix not run (LIBBPF_PY_VM_CI=0, or not an x86_64 host)"
fi
