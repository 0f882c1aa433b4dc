#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine, as root: set-up (scripts/bootstrap.sh),
# the tests against the real kernel (the installed package, not the source tree), then the wheel
# check (build, auditwheel repair, install in a fresh venv, run a BPF program from there).
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
