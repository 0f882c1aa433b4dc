#!/bin/sh
# The guest's /proc/sys/kernel/modprobe (scripts/vm/guest.sh): the kernel's module requests
# (veth, sch_ingress, ...) resolved from the unpacked kernel package named in
# /run/lbpy-kernel-root, since the shared host root has no /lib/modules for the guest's kernel.
exec /sbin/modprobe -d "$(cat /run/lbpy-kernel-root)" "$@"
