"""W1 cold start, peer bcc (Debian python3-bpfcc, bcc 0.26): import + compile the C source at run
time + load + attach, then detach/cleanup, exit. The bcc way of doing bpf/coldstart.bpf.c.

    python coldstart_bcc.py [--phases|--check]

--check (untimed sanity run) also sets config[0] = getpid(), calls getppid() and checks
counts[getpid()] == 1.

bcc compiles the program with its embedded clang/LLVM on every start (no precompiled object)
and needs kernel headers: /lib/modules/$(uname -r)/build, /sys/kernel/kheaders.tar.xz
(CONFIG_IKHEADERS), or a header tree named by BCC_KERNEL_SOURCE (bench/run.py sets the latter
when the running kernel has neither; see its docstring). The program uses only helpers and bcc's
map macros, and TRACEPOINT_PROBE reads the tracepoint's layout from tracefs, so headers of
another kernel version do not change what it does.

Phases: bcc does compile + load + attach inside BPF(text=...); the checkpoints are taken around
its steps (after compile and map creation, after loading the function, after the tracepoint
attach) so they line up with the other columns: open = compile C + create maps.
"""
from time import process_time_ns as _now

_t = [_now()]
import sys  # noqa: E402
import ctypes  # noqa: E402
from bcc import BPF  # noqa: E402

_t.append(_now())

# Same logic as bpf/coldstart.bpf.c. bcc has no CO-RE (no BTF relocation of task_struct
# offsets against the running kernel), so the tgid comes from bpf_get_current_pid_tgid() >> 32
# instead of a CO-RE read of task->tgid. Ring buffer: 64 pages = 256 KiB, as in the C version.
PROGRAM = r"""
struct event {
    u32 tgid;
    u32 pad;
    u64 count;
};

BPF_ARRAY(config, u32, 1);
BPF_HASH(counts, u32, u64, 1024);
BPF_RINGBUF_OUTPUT(events, 64);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;
    u32 *target = config.lookup(&zero);
    u64 one = 1, n = 1, *count;
    struct event *e;

    if (!target || *target != tgid)
        return 0;
    count = counts.lookup(&tgid);
    if (count)
        n = __sync_fetch_and_add(count, 1) + 1;
    else
        counts.insert(&tgid, &one);
    e = events.ringbuf_reserve(sizeof(*e));
    if (!e)
        return 0;
    e->tgid = tgid;
    e->pad = 0;
    e->count = n;
    events.ringbuf_submit(e, 0);
    return 0;
}
"""
# Debian's kernel headers trip clang's -Wignored-attributes (nocf_check); keep stderr quiet.
CFLAGS = ["-Wno-ignored-attributes"]


class PhasedBPF(BPF):
    """BPF with checkpoints between its internal steps (behaviour unchanged)."""

    def _trace_autoload(self) -> None:
        _t.append(_now())  # compiled, maps created
        super()._trace_autoload()

    def load_func(self, *args, **kwargs):
        fn = super().load_func(*args, **kwargs)  # attach_tracepoint calls it again (cached)
        if len(_t) == 3:
            _t.append(_now())  # program loaded (verifier)
        return fn


def check(bpf: BPF) -> None:
    """The program ran once for this process: config[0] <- own pid, getppid(), counts[pid]."""
    import os

    bpf["config"][ctypes.c_uint32(0)] = ctypes.c_uint32(os.getpid())
    os.getppid()
    count = bpf["counts"][ctypes.c_uint32(os.getpid())].value
    if count != 1:
        sys.exit(f"check failed: count={count}")
    print("check ok")


bpf = PhasedBPF(text=PROGRAM, cflags=CFLAGS)  # compile + load + attach (TRACEPOINT_PROBE)
_t.append(_now())
if len(_t) != 5 or len(bpf.tracepoint_fds) != 1:
    sys.exit(f"expected one auto-attached tracepoint, got {list(bpf.tracepoint_fds)}")
if "--check" in sys.argv:
    check(bpf)
bpf.cleanup()  # detach the tracepoint, close fds, destroy the module
_t.append(_now())
if "--phases" in sys.argv:
    names = ("import", "open", "load", "attach", "close")
    print("PHASES startup=%d " % (_t[0] // 1000)
          + " ".join(f"{n}={(b - a) // 1000}" for n, a, b in zip(names, _t, _t[1:])))
