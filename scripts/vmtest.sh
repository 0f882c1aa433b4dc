#!/usr/bin/env bash
# The test suite on real Debian kernels, each booted in a VM (qemu), against this checkout's
# installed package (.venv) and the same compiled BPF objects: the proof that one object runs on
# every kernel (CO-RE), and the place where kprobes and trampolines are tested (the development
# machine's kernel refuses them).
#
#   bash scripts/vmtest.sh [--kernel SERIES[,SERIES...]|all] [options] [--] [pytest args]
#
#   --kernel K     5.10, 6.1, 6.12, 7 (the newest 7.x), all (= 5.10,6.1,6.12,7); default 6.12;
#                  host: the same selection natively, on this machine's kernel (no VM)
#   --timeout S    per-kernel limit in seconds, boot included (default 5400); the guest is killed
#   --accel A      kvm, tcg or auto (default: KVM if a short boot check passes, else TCG)
#   --cpus N       guest CPUs (default: the host's, at most 4)   --memory MB (default 3072)
#   --jobs N       boot up to N kernels at once (default 1; --ci: 2 on a host with 2+ CPUs). With
#                  more than one, the guests' consoles go to their console.log files only
#   --results DIR  where each kernel's junit.xml, features.json and console.log go
#                  (default .vmtest/results/<series>); scripts/vm/kernels_md.py reads them
#   --cmd 'SHELL'  run this instead of pytest (in tests/, CI=true, as root)
#   --ci           what CI runs (scripts/test.sh): the oldest and newest kernels (5.10,7) at
#                  once with a selection covering every attach kind, the tools, ring/perf
#                  buffers, globals, maps, arenas and tokens ($CI_SELECTION below)
#
# pytest arguments default to the whole suite except the static checks (test_static_checks.py
# and tests marked `static`: mypy/ruff check the code, not the kernel); paths are relative to tests/. Kernels come from Debian's archive
# (scripts/vm/kernel.sh: downloaded and unpacked into a cache, never installed). The guest: a
# static init (scripts/vm/init.c) in a generated initramfs mounts the host's root read-only
# over 9p and runs scripts/vm/guest.sh, which mounts tracefs, debugfs, securityfs, bpffs,
# cgroup2 and tmpfs scratch dirs, with `bpf` in the kernel's LSM list. No guest outlives this
# command (Ctrl-C, a timeout, an error). Exit status: 0 when every kernel passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
vm=$top/scripts/vm
say() { printf 'vmtest: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

# The CI selection: every attach kind (tracing, kprobes, trampolines, LSM, uprobes, USDT, perf
# events, iterators, cgroups, networking, struct_ops), the tools, ring/perf buffers, globals, maps,
# and what only the VMs prove: arenas (this machine's kernel refuses them) and BPF tokens.
CI_SELECTION=(test_features.py test_attach_tracing.py test_attach_kprobe.py test_attach_uprobe.py
    test_attach_perf_iter.py test_attach_cgroup.py test_attach_net.py test_attach_struct_ops.py
    test_ringbuf.py test_perfbuf.py test_globals.py test_map.py test_tools.py test_arena.py
    test_token.py)
ci=0
kernels=6.12 timeout=5400 accel=auto cpus= memory=3072 results= cmd= jobs=
while [ $# -gt 0 ]; do
    case "$1" in
        --ci) ci=1; kernels=5.10,7; jobs=${jobs:-$([ "$(nproc)" -ge 2 ] && echo 2 || echo 1)}; shift ;;
        --jobs) jobs=$2; shift 2 ;;
        --kernel) kernels=$2; shift 2 ;;
        --kernel=*) kernels=${1#*=}; shift ;;
        --timeout) timeout=$2; shift 2 ;;
        --accel) accel=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        --cmd) cmd=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ "$kernels" = all ] && kernels=5.10,6.1,6.12,7
results=${results:-$top/.vmtest/results}
mkdir -p "$results" && results=$(cd "$results" && pwd)  # absolute: the host run works from tests/
cpus=${cpus:-$(n=$(nproc); echo $((n > 4 ? 4 : n)))}
jobs=${jobs:-1}

case "$(uname -m)" in
    x86_64) qemu=qemu-system-x86_64 ;;
    *) die "the VM runner supports x86_64 hosts only, not yet $(uname -m) (scripts/vm/kernel.sh --arch arm64 fetches arm64 kernels)" ;;
esac
command -v "$qemu" >/dev/null || die "$qemu is missing: run scripts/bootstrap.sh (Debian package qemu-system-x86)"
[ -x "$top/.venv/bin/python" ] || die "no .venv: run scripts/bootstrap.sh first"
# The guest mounts its own tmpfs on /tmp, /run, /var/tmp and /dev/shm, hiding the host's files
# there: a checkout under one of them (a CI clone in /tmp) is shared with the guest on its own
# (9p tag "top", read-only) and mounted back at the same path.
top_share=
case "$top/" in
    /tmp/* | /run/* | /var/tmp/* | /dev/shm/*) top_share=$top ;;
esac
command -v gcc >/dev/null || die "gcc is missing: run scripts/bootstrap.sh"

cache=${LIBBPF_PY_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libbpf_py/vm}
mkdir -p "$cache" "$results"

# The init, statically linked (the initramfs has no libc).
init=$cache/init-$(sha256sum "$vm/init.c" | cut -c1-16)
if [ ! -x "$init" ]; then
    gcc -static -O2 -Wall -o "$init.tmp" "$vm/init.c" || die "building the guest's init failed (static libc: libc6-dev)"
    mv "$init.tmp" "$init"
fi

# Every test program compiled here, once: the guests run these very objects.
host_cache=${LIBBPF_PY_TEST_CACHE:-$top/tests/.cache}
(cd "$top/tests" && LIBBPF_PY_TEST_CACHE=$host_cache "$top/.venv/bin/python" -c '
import conftest
for src in sorted(conftest.BPF_SRC.glob("*.bpf.c")):
    try:
        conftest.compile_bpf(src)
    except BaseException:  # a program its test builds its own way (btf_core: a vmlinux.h)
        pass
') || die "compiling the test programs failed"

# `timeout` leads a process group of its own with qemu in it: killing the group ends both (a
# SIGKILL to timeout alone would leave qemu running).
qemu_pid=
cleanup() { [ -n "$qemu_pid" ] && kill -9 -- "-$qemu_pid" 2>/dev/null; qemu_pid=; }
runners=()
stop_all() {
    cleanup
    local p
    for p in "${runners[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${runners[@]}"; do wait "$p" 2>/dev/null; done
    runners=()
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

# boot IMAGE INITRD APPEND ACCEL LIMIT LOG [JOBDIR]: run one guest to its end (or the limit).
boot() {
    local image=$1 initrd=$2 append=$3 how=$4 limit=$5 log=$6 job=${7:-} rc=0
    local args=(-m "$memory" -smp "$cpus" -display none -monitor none -serial stdio -no-reboot
        -nic none -device virtio-rng-pci -kernel "$image" -initrd "$initrd" -append "$append"
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
    [ -n "$job" ] && args+=(-virtfs "local,path=$job,mount_tag=job,security_model=none")
    [ -n "$top_share" ] && args+=(
        -virtfs "local,path=$top_share,mount_tag=top,security_model=none,readonly=on,multidevs=remap")
    case "$how" in
        kvm) args+=(-accel kvm -cpu host) ;;
        tcg) args+=(-accel tcg,thread=multi -cpu max) ;;
    esac
    timeout -k 5 "$limit" "$qemu" "${args[@]}" </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    if [ -n "$job" ] && [ "$jobs" = 1 ]; then
        tail -n +1 -f --pid="$qemu_pid" "$log" 2>/dev/null || true
    fi
    wait "$qemu_pid" || rc=$?
    qemu_pid=
    return "$rc"
}

# KVM where it works: /dev/kvm exists on nested VMs whose KVM cannot run a stock kernel (the
# guest stops at once with an emulation failure, or qemu refuses the CPU): a 60 s boot check that
# ends as soon as the console says how it went.
choose_accel() {
    local image=$1 initrd=$2 log pid i verdict=
    if [ "$accel" != auto ]; then echo "$accel"; return; fi
    if [ ! -w /dev/kvm ]; then say "no usable /dev/kvm: TCG (emulation, slow)"; echo tcg; return; fi
    log=$(mktemp)
    timeout -k 5 60 "$qemu" -m 512 -smp 1 -display none -monitor none -serial stdio -no-reboot \
        -nic none -accel kvm -cpu host -kernel "$image" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 lbpy.probe" </dev/null >"$log" 2>&1 &
    pid=$!
    for i in $(seq 120); do
        if grep -q LBPY-BOOT-OK "$log"; then verdict=kvm; break; fi
        if ! kill -0 "$pid" 2>/dev/null || grep -qiE 'emulation failure|internal error|error:' "$log"; then
            break
        fi
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    if [ "$verdict" = kvm ]; then
        say "KVM works"; echo kvm
    else
        say "KVM cannot boot a stock kernel here ($(grep -m1 -iE 'emulation failure|internal error|error:' "$log" || echo 'no boot in 60 s')): TCG (emulation, slow)"
        echo tcg
    fi
    rm -f "$log"
}

if [ "$ci" = 1 ] && [ $# -eq 0 ]; then
    set -- "${CI_SELECTION[@]}"
elif [ $# -eq 0 ] && [ -z "$cmd" ]; then
    set -- --ignore test_static_checks.py -m "not static"
fi
pytest_args=$(printf ' %q' "$@")

# run_host: the selection natively, on this machine's kernel (no VM); a summary line in $sums.
run_host() {
    local out=$results/host start status=0
    rm -rf "$out"
    mkdir -p "$out"
    start=$(date +%s)
    (cd "$top/tests" && export CI=true && JOB=$out && "$top/.venv/bin/python" -m libbpf_py features --json >"$out/features.json" \
        && if [ -n "$cmd" ]; then bash -c "$cmd"; else eval "\"$top/.venv/bin/python\" -m pytest -p no:cacheprovider -rfEs --junitxml=\"$out/junit.xml\"$pytest_args"; fi) || status=$?
    uname -r >"$out/release"
    echo "$status" >"$out/status"
    echo "host ($(uname -r), $(( $(date +%s) - start ))s): $([ "$status" = 0 ] && echo passed || echo "failed (exit $status)")" >"$sums/host"
    [ "$status" = 0 ]
}

# prepare SERIES: the kernel (downloaded once into the cache) and its initramfs; sets the
# KERNEL_* variables and $initrd. One kernel at a time (downloads, apt's index cache).
prepare() {
    local vars
    vars=$(bash "$vm/kernel.sh" "$1") || return 1
    eval "$vars"
    initrd=$cache/initrd-$KERNEL_RELEASE-$(basename "$init").cpio
    if [ ! -f "$initrd" ]; then
        python3 "$vm/initramfs.py" "$KERNEL_MODULES" "$init" "$initrd" || die "initramfs for $KERNEL_RELEASE failed"
    fi
}

# run_guest SERIES: boot the prepared kernel and run the job in it; results in
# $results/SERIES, a summary line in $sums/SERIES. Status 0 when the job passed.
run_guest() {
    local series=$1 final out job start rc=0 took status result counts=
    local append="console=ttyS0 panic=-1 quiet mitigations=off lsm=lockdown,yama,bpf lbpy.init=$vm/guest.sh"
    # A kernel's previous results stay until this run of it ends (a cut-short run keeps them).
    final=$results/$series
    out=$final.new
    rm -rf "$out"
    mkdir -p "$out"
    job=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-job.XXXXXX")
    {
        echo "KERNEL_ROOT=${KERNEL_MODULES%/lib/modules/*}"
        echo "VM_DIR=$vm"
        echo 'PRELOAD_MODULES="loop veth sch_ingress"'
        echo "TOP_SHARE=$(printf %q "$top_share")"
    } >"$job/env"
    {
        echo "cd $(printf %q "$top/tests") || exit 1"
        echo "export CI=true PYTHONDONTWRITEBYTECODE=1 LIBBPF_PY_TEST_CACHE=/tmp/testcache"
        echo "cp -r $(printf %q "$host_cache") /tmp/testcache"
        echo "../.venv/bin/python -m libbpf_py features --json >/run/job/features.json"
        if [ -n "$cmd" ]; then
            echo "$cmd"
        else
            echo "exec ../.venv/bin/python -m pytest -p no:cacheprovider -rfEs --junitxml=/run/job/junit.xml$pytest_args"
        fi
    } >"$job/cmd"
    start=$(date +%s)
    boot "$KERNEL_IMAGE" "$initrd" "$append" "$chosen_accel" "$timeout" "$out/console.log" "$job" || rc=$?
    if [ ! -f "$job/status" ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] && [ "$rc" != 130 ]; then
        # The guest died without a result (a 6.12 guest once oopsed in __schedule under
        # multi-threaded TCG, far from any BPF code): boot it once more, keeping the first
        # console. A crash our programs cause comes back and fails the run.
        mv "$out/console.log" "$out/console.crashed.log"
        say "$series: the guest ended without a result (qemu exit $rc); the console's tail, then one more boot:"
        tail -n 40 "$out/console.crashed.log" >&2
        rm -f "$job/status" "$job/junit.xml" "$job/features.json"
        rc=0
        boot "$KERNEL_IMAGE" "$initrd" "$append" "$chosen_accel" "$timeout" "$out/console.log" "$job" || rc=$?
    fi
    took=$(( $(date +%s) - start ))
    for f in junit.xml features.json; do [ -f "$job/$f" ] && cp "$job/$f" "$out/"; done
    echo "$KERNEL_RELEASE" >"$out/release"
    if [ -f "$job/status" ]; then
        status=$(cat "$job/status")
        result=$([ "$status" = 0 ] && echo passed || echo "failed (exit $status)")
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status=timeout; result="timed out after ${timeout}s (console: $final/console.log)"
    else
        status=noboot; result="the guest ended without a result (qemu exit $rc)"
    fi
    echo "$status" >"$out/status"
    rm -rf "$job" "$final"
    mv "$out" "$final"
    [ -f "$final/junit.xml" ] && counts=$(junit_counts "$final/junit.xml")
    if [ "$status" != 0 ]; then
        say "$series ($KERNEL_RELEASE) $result; the console's tail:"
        tail -n 40 "$final/console.log" >&2
    fi
    echo "$series ($KERNEL_RELEASE, $chosen_accel, ${took}s): $result${counts:+: $counts}" >"$sums/$series"
    [ "$status" = 0 ]
}

junit_counts() {
    python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
t, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
print(f"{t - f - e - k} passed, {f + e} failed, {k} skipped")' "$1"
}

sums=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-summary.XXXXXX")
failed=0
started=$(date +%s)
IFS=, read -r -a list <<<"$kernels"
for series in "${list[@]}"; do
    if [ "$series" = host ]; then
        say "kernel host"
        run_host || failed=1
        continue
    fi
    if ! prepare "$series"; then
        echo "$series: no kernel (see above)" >"$sums/$series"
        failed=1
        continue
    fi
    [ -n "${chosen_accel:-}" ] || chosen_accel=$(choose_accel "$KERNEL_IMAGE" "$initrd")
    if [ "$jobs" = 1 ]; then
        say "kernel $series"
        run_guest "$series" || failed=1
        continue
    fi
    # Several guests at once: wait for a free slot, then run this one in a background subshell
    # (it has the prepared KERNEL_* variables; its own trap ends its guest).
    while [ "${#runners[@]}" -ge "$jobs" ]; do
        wait -n "${runners[@]}" || true
        alive=()
        for p in "${runners[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
        runners=("${alive[@]}")
    done
    say "kernel $series: started (console: $results/$series.new/console.log)"
    (
        runners=()
        trap cleanup EXIT
        trap 'cleanup; exit 130' INT TERM
        run_guest "$series" || exit 1
    ) &
    runners+=("$!")
done
for p in "${runners[@]}"; do wait "$p" || failed=1; done
runners=()

say "summary ($(( $(date +%s) - started ))s in all; results in $results):"
for series in "${list[@]}"; do [ -f "$sums/$series" ] && say "  $(cat "$sums/$series")"; done
rm -rf "$sums"
exit "$failed"
