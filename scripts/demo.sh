#!/usr/bin/env bash
# The main job on a fresh Debian/Ubuntu machine, as root: set up (scripts/bootstrap.sh), then run
# the execsnoop tool on the real kernel for a few seconds while a small workload runs commands,
# so there are live events to see. SECONDS_TO_TRACE=N changes the duration.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/bootstrap.sh
seconds=${SECONDS_TO_TRACE:-5}
(
    sleep 1
    for i in 1 2 3; do
        uname -r >/dev/null
        ls / >/dev/null
        sh -c "echo workload round $i" >/dev/null
        sleep 1
    done
) &
cd /
"$top/.venv/bin/python" -m libbpf_py execsnoop --time --duration "$seconds"
wait
