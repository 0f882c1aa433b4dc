#!/bin/sh
# PID 1 inside the VM runner's guest, executed by init.c on the host's root (shared read-only):
# mounts what BPF programs and the tests need, runs the job the host wrote (/run/job/cmd, the
# host's job directory shared read-write over 9p), records its exit status in /run/job/status,
# and powers the guest off. Every mount a test could need is made here, so that the tests run
# as they do on a host: proc, sys, dev, tracefs, debugfs, securityfs, bpffs, cgroup2, tmpfs for
# everything that is written (/tmp, /run, /var/tmp, /dev/shm).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp/home TMPDIR=/tmp LANG=C.UTF-8

off() {
    sync
    echo 1 >/proc/sys/kernel/sysrq 2>/dev/null
    echo o >/proc/sysrq-trigger 2>/dev/null
    sleep 30  # the power-off is asynchronous; PID 1 exiting would panic (qemu exits on that too)
    exit 1
}
trap off EXIT

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm 2>/dev/null
mount -t devpts devpts /dev/pts
for d in /tmp /run /var/tmp /dev/shm; do mount -t tmpfs -o mode=1777 tmpfs "$d"; done
mkdir -p "$HOME" /run/job
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,access=any job /run/job || {
    echo "guest.sh: the job directory (9p tag job) did not mount" >&2
    off
}
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up 2>/dev/null
hostname vm 2>/dev/null

# Modules come from the unpacked kernel package (the host has no /lib/modules for this kernel):
# the kernel's own requests (veth, sch_ingress ...) go through a modprobe that looks there.
. /run/job/env
# A checkout under a path the tmpfs mounts above hide (a CI clone in /tmp) comes on its own.
if [ -n "${TOP_SHARE:-}" ]; then
    mkdir -p "$TOP_SHARE" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro top "$TOP_SHARE" || {
        echo "guest.sh: the checkout $TOP_SHARE (9p tag top) did not mount" >&2
        off
    }
fi
echo "$KERNEL_ROOT" >/run/lbpy-kernel-root
echo "$VM_DIR/modprobe.sh" >/proc/sys/kernel/modprobe
for m in $PRELOAD_MODULES; do modprobe -q -d "$KERNEL_ROOT" "$m" 2>/dev/null; done

# A Debian system keeps its kernel's config in /boot (libbpf reads it for __kconfig externs;
# Debian's kernels have no /proc/config.gz): the package's, on a tmpfs over the host's /boot
# (sid's kernels ship it as /usr/lib/modules/<release>/config, in linux-base-*).
for config in "$KERNEL_ROOT/boot/config-$(uname -r)" "$KERNEL_ROOT/lib/modules/$(uname -r)/config"; do
    if [ -f "$config" ]; then
        mount -t tmpfs -o mode=0755 tmpfs /boot && cp "$config" "/boot/config-$(uname -r)"
        break
    fi
done

echo "guest.sh: kernel $(uname -r), LSMs $(cat /sys/kernel/security/lsm 2>/dev/null)"
sh /run/job/cmd </dev/null
echo $? >/run/job/status
off
