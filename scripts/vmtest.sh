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
#   --results DIR  where each kernel's junit.xml, features.json and console.log go
#                  (default .vmtest/results/<series>); scripts/vm/kernels_md.py reads them
#   --cmd 'SHELL'  run this instead of pytest (in tests/, CI=true, as root)
#   --ci           what CI runs (scripts/test.sh): the oldest and newest kernels (5.10,7) with a
#                  selection covering every attach kind, the tools, ring/perf buffers, globals,
#                  maps, arenas and tokens ($CI_SELECTION below)
#
# pytest arguments default to the whole suite except the static checks (mypy/ruff check the
# code, not the kernel); paths are relative to tests/. Kernels come from Debian's archive
# (scripts/vm/kernel.sh: downloaded and unpacked into a cache, never installed). The guest: a
# static init (scripts/vm/init.c) in a generated initramfs mounts the host's root read-only
# over 9p and runs scripts/vm/guest.sh, which mounts tracefs, debugfs, securityfs, bpffs,
# cgroup2 and tmpfs scratch dirs, with `bpf` in the kernel's LSM list. One guest at a time;
# no guest outlives this command. Exit status: 0 when every kernel passed.
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
kernels=6.12 timeout=5400 accel=auto cpus= memory=3072 results= cmd=
while [ $# -gt 0 ]; do
    case "$1" in
        --ci) ci=1; kernels=5.10,7; shift ;;
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
cpus=${cpus:-$(n=$(nproc); echo $((n > 4 ? 4 : n)))}

case "$(uname -m)" in
    x86_64) qemu=qemu-system-x86_64 ;;
    *) die "the VM runner supports x86_64 hosts only, not yet $(uname -m) (scripts/vm/kernel.sh --arch arm64 fetches arm64 kernels)" ;;
esac
command -v "$qemu" >/dev/null || die "$qemu is missing: run scripts/bootstrap.sh (Debian package qemu-system-x86)"
[ -x "$top/.venv/bin/python" ] || die "no .venv: run scripts/bootstrap.sh first"
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

qemu_pid=
cleanup() { [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null; qemu_pid=; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# boot IMAGE INITRD APPEND ACCEL LIMIT LOG [JOBDIR]: run one guest to its end (or the limit).
boot() {
    local image=$1 initrd=$2 append=$3 how=$4 limit=$5 log=$6 job=${7:-} rc=0
    local args=(-m "$memory" -smp "$cpus" -display none -monitor none -serial stdio -no-reboot
        -nic none -device virtio-rng-pci -kernel "$image" -initrd "$initrd" -append "$append"
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
    [ -n "$job" ] && args+=(-virtfs "local,path=$job,mount_tag=job,security_model=none")
    case "$how" in
        kvm) args+=(-accel kvm -cpu host) ;;
        tcg) args+=(-accel tcg,thread=multi -cpu max) ;;
    esac
    timeout -k 5 "$limit" "$qemu" "${args[@]}" </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    if [ -n "$job" ]; then
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
    set -- --ignore test_static_checks.py
fi
pytest_args=$(printf ' %q' "$@")

summary=()
failed=0
IFS=, read -r -a list <<<"$kernels"
for series in "${list[@]}"; do
    say "kernel $series"
    if [ "$series" = host ]; then
        out=$results/host
        rm -rf "$out"
        mkdir -p "$out"
        start=$(date +%s)
        status=0
        (cd "$top/tests" && export CI=true && JOB=$out && "$top/.venv/bin/python" -m libbpf_py features --json >"$out/features.json" \
            && if [ -n "$cmd" ]; then bash -c "$cmd"; else eval "\"$top/.venv/bin/pytest\" -p no:cacheprovider -rfEs --junitxml=\"$out/junit.xml\"$pytest_args"; fi) || status=$?
        uname -r >"$out/release"
        echo "$status" >"$out/status"
        [ "$status" = 0 ] || failed=1
        summary+=("host ($(uname -r), $(( $(date +%s) - start ))s): $([ "$status" = 0 ] && echo passed || echo "failed (exit $status)")")
        continue
    fi
    vars=$(bash "$vm/kernel.sh" "$series") || { summary+=("$series: no kernel (see above)"); failed=1; continue; }
    eval "$vars"
    initrd=$cache/initrd-$KERNEL_RELEASE-$(basename "$init").cpio
    if [ ! -f "$initrd" ]; then
        python3 "$vm/initramfs.py" "$KERNEL_MODULES" "$init" "$initrd" || die "initramfs for $KERNEL_RELEASE failed"
    fi
    [ -n "${chosen_accel:-}" ] || chosen_accel=$(choose_accel "$KERNEL_IMAGE" "$initrd")
    # A kernel's previous results stay until this run of it ends (a cut-short run keeps them).
    final=$results/$series
    out=$final.new
    rm -rf "$out"
    mkdir -p "$out"
    job=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-job.XXXXXX")
    cat >"$job/env" <<EOF
KERNEL_ROOT=${KERNEL_MODULES%/lib/modules/*}
VM_DIR=$vm
PRELOAD_MODULES="loop veth sch_ingress"
EOF
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
    append="console=ttyS0 panic=-1 quiet mitigations=off lsm=lockdown,yama,bpf lbpy.init=$vm/guest.sh"
    start=$(date +%s)
    rc=0
    boot "$KERNEL_IMAGE" "$initrd" "$append" "$chosen_accel" "$timeout" "$out/console.log" "$job" || rc=$?
    took=$(( $(date +%s) - start ))
    for f in junit.xml features.json; do [ -f "$job/$f" ] && cp "$job/$f" "$out/"; done
    echo "$KERNEL_RELEASE" >"$out/release"
    if [ -f "$job/status" ]; then
        status=$(cat "$job/status")
        result=$([ "$status" = 0 ] && echo passed || echo "failed (exit $status)")
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status=timeout; result="timed out after ${timeout}s (console: $out/console.log)"
    else
        status=noboot; result="the guest ended without a result (qemu exit $rc)"
    fi
    echo "$status" >"$out/status"
    rm -rf "$job" "$final"
    mv "$out" "$final"
    out=$final
    counts=
    if [ -f "$out/junit.xml" ]; then
        counts=$(python3 - "$out/junit.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
t, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
print(f"{t - f - e - k} passed, {f + e} failed, {k} skipped")
EOF
)
    fi
    if [ "$status" != 0 ]; then
        failed=1
        say "$series ($KERNEL_RELEASE) $result; the console's tail:"
        tail -n 40 "$out/console.log" >&2
    fi
    summary+=("$series ($KERNEL_RELEASE, $chosen_accel, ${took}s): $result${counts:+: $counts}")
done

say "summary (results in $results):"
for line in "${summary[@]}"; do say "  $line"; done
exit "$failed"
