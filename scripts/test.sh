#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine, as root: set-up (scripts/bootstrap.sh),
# the tests against the real kernel (the installed package, not the source tree), then the wheel
# check (build, auditwheel repair, install in a fresh venv, run a BPF program from there), then
# the suite's kernel-dependent part on Debian's 5.10 and newest 7.x kernels in VMs.
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
# The kernel matrix's CI part: the oldest and newest kernels in VMs (scripts/vmtest.sh --ci).
# Opt-in (LIBBPF_PY_VM_CI=1) until the selection is green on 5.10: there most test objects do
# not load yet (see docs/kernels.md), and a red step would block every landing.
if [ -n "${LIBBPF_PY_VM_CI:-}" ] && [ "$(uname -m)" = x86_64 ]; then
    bash scripts/vmtest.sh --ci
else
    echo "test.sh: kernel matrix not run (LIBBPF_PY_VM_CI=1 runs it; x86_64 hosts only so far)"
fi
