"""C declarations for attach points, links and programs by fd (libbpf.h, bpf.h).

Every ``bpf_program__attach_*`` and its opts, program loads and test runs by fd, kernel object
ids and info. Exact libbpf spellings. ``STRUCTS``: mirrored ``*_opts`` structures (sizes/offsets
checked by tests/test_ffi.py); ``SIGNATURES``: rows of the signature table, same format and
checks as ``core.py``. ``INFO_STRUCTS``: kernel UAPI structures and opts with anonymous
unions that test_ffi's generic check can't read (``bpf_prog_info``, ``bpf_iter_attach_opts``,
``bpf_prog_query_opts`` ...); tests/test_program.py checks their layout against the C compiler.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, c_bool, c_char, c_char_p, c_int, c_int32, c_size_t
from ctypes import c_uint8, c_uint32, c_uint64, c_ulong, c_void_p

from .core import INT, NONE, PTR, link_p, map_p, prog_p

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class bpf_tracepoint_opts(Structure):
    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64)]


class bpf_raw_tracepoint_opts(Structure):
    _fields_ = [("sz", c_size_t), ("cookie", c_uint64)]


class bpf_kprobe_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("bpf_cookie", c_uint64),
        ("offset", c_size_t),
        ("retprobe", c_bool),
        ("attach_mode", c_int),  # enum probe_attach_mode
    ]


class bpf_uprobe_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("ref_ctr_offset", c_size_t),
        ("bpf_cookie", c_uint64),
        ("retprobe", c_bool),
        ("func_name", c_char_p),
        ("attach_mode", c_int),  # enum probe_attach_mode
    ]


class bpf_kprobe_multi_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("syms", POINTER(c_char_p)),
        ("addrs", POINTER(c_ulong)),
        ("cookies", POINTER(c_uint64)),
        ("cnt", c_size_t),
        ("retprobe", c_bool),
        ("session", c_bool),
        ("unique_match", c_bool),
    ]


class bpf_prog_load_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("attempts", c_int),
        ("expected_attach_type", c_int),  # enum bpf_attach_type
        ("prog_btf_fd", c_uint32),
        ("prog_flags", c_uint32),
        ("prog_ifindex", c_uint32),
        ("kern_version", c_uint32),
        ("attach_btf_id", c_uint32),
        ("attach_prog_fd", c_uint32),
        ("attach_btf_obj_fd", c_uint32),
        ("fd_array", POINTER(c_int)),
        ("func_info", c_void_p),
        ("func_info_cnt", c_uint32),
        ("func_info_rec_size", c_uint32),
        ("line_info", c_void_p),
        ("line_info_cnt", c_uint32),
        ("line_info_rec_size", c_uint32),
        ("log_level", c_uint32),
        ("log_size", c_uint32),
        ("log_buf", c_char_p),
        ("log_true_size", c_uint32),
        ("token_fd", c_uint32),
        ("fd_array_cnt", c_uint32),
    ]


class bpf_test_run_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("data_in", c_void_p),
        ("data_out", c_void_p),
        ("data_size_in", c_uint32),
        ("data_size_out", c_uint32),
        ("ctx_in", c_void_p),
        ("ctx_out", c_void_p),
        ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32),
        ("retval", c_uint32),
        ("repeat", c_int),
        ("duration", c_uint32),
        ("flags", c_uint32),
        ("cpu", c_uint32),
        ("batch_size", c_uint32),
    ]


class bpf_perf_event_opts(Structure):
    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64), ("force_ioctl_attach", c_bool),
                ("dont_enable", c_bool)]


class bpf_uprobe_multi_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("syms", POINTER(c_char_p)),
        ("offsets", POINTER(c_ulong)),
        ("ref_ctr_offsets", POINTER(c_ulong)),
        ("cookies", POINTER(c_uint64)),
        ("cnt", c_size_t),
        ("retprobe", c_bool),
        ("session", c_bool),
    ]


class bpf_ksyscall_opts(Structure):
    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64), ("retprobe", c_bool)]


class bpf_usdt_opts(Structure):
    _fields_ = [("sz", c_size_t), ("usdt_cookie", c_uint64)]


class bpf_trace_opts(Structure):
    _fields_ = [("sz", c_size_t), ("cookie", c_uint64)]


class bpf_raw_tp_opts(Structure):
    _fields_ = [("sz", c_size_t), ("tp_name", c_char_p), ("cookie", c_uint64)]


class _link_create_union(ctypes.Union):
    """The anonymous union of ``struct bpf_link_create_opts``: only the members libbpf_py uses
    (uprobe_multi is the largest: the union's size; tests/test_program.py checks the struct's
    size against the C compiler). Members are nested classes: not handles, not opts."""

    class tracing_t(Structure):
        _fields_ = [("cookie", c_uint64)]

    class kprobe_multi_t(Structure):
        _fields_ = [("flags", c_uint32), ("cnt", c_uint32), ("syms", POINTER(c_char_p)),
                    ("addrs", POINTER(c_ulong)), ("cookies", POINTER(c_uint64))]

    class uprobe_multi_t(Structure):
        _fields_ = [("flags", c_uint32), ("cnt", c_uint32), ("path", c_char_p),
                    ("offsets", POINTER(c_ulong)), ("ref_ctr_offsets", POINTER(c_ulong)),
                    ("cookies", POINTER(c_uint64)), ("pid", c_uint32)]

    _fields_ = [("tracing", tracing_t), ("kprobe_multi", kprobe_multi_t),
                ("uprobe_multi", uprobe_multi_t)]


class bpf_link_create_opts(Structure):
    # The anonymous union (tracing, kprobe_multi ...) follows target_btf_id.
    _anonymous_ = ("_u",)
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("iter_info", c_void_p),
                ("iter_info_len", c_uint32), ("target_btf_id", c_uint32),
                ("_u", _link_create_union)]


class bpf_netfilter_opts(Structure):
    _fields_ = [("sz", c_size_t), ("pf", c_uint32), ("hooknum", c_uint32),
                ("priority", c_int32), ("flags", c_uint32)]


class bpf_tcx_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("relative_fd", c_uint32),
                ("relative_id", c_uint32), ("expected_revision", c_uint64)]


class bpf_netkit_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("relative_fd", c_uint32),
                ("relative_id", c_uint32), ("expected_revision", c_uint64)]


class bpf_cgroup_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("relative_fd", c_uint32),
                ("relative_id", c_uint32), ("expected_revision", c_uint64)]


class bpf_xdp_attach_opts(Structure):
    _fields_ = [("sz", c_size_t), ("old_prog_fd", c_int)]


class bpf_xdp_query_opts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("prog_id", c_uint32),
        ("drv_prog_id", c_uint32),
        ("hw_prog_id", c_uint32),
        ("skb_prog_id", c_uint32),
        ("attach_mode", c_uint8),
        ("feature_flags", c_uint64),
        ("xdp_zc_max_segs", c_uint32),
    ]


class bpf_tc_hook(Structure):
    _fields_ = [("sz", c_size_t), ("ifindex", c_int), ("attach_point", c_int),
                ("parent", c_uint32), ("handle", c_uint32), ("qdisc", c_char_p)]


class bpf_tc_opts(Structure):
    _fields_ = [("sz", c_size_t), ("prog_fd", c_int), ("flags", c_uint32),
                ("prog_id", c_uint32), ("handle", c_uint32), ("priority", c_uint32)]


class bpf_link_update_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("old_prog_fd", c_uint32),
                ("old_map_fd", c_uint32)]


class bpf_prog_detach_opts(Structure):
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("relative_fd", c_int),
                ("relative_id", c_uint32), ("expected_revision", c_uint64)]


# --- structures test_ffi's generic check can't read (anonymous unions, no sz): INFO_STRUCTS


class bpf_prog_attach_opts(Structure):
    # union { int replace_prog_fd; int replace_fd; } is the anonymous member at offset 12.
    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("replace_prog_fd", c_int),
                ("relative_fd", c_int), ("relative_id", c_uint32),
                ("expected_revision", c_uint64)]


class bpf_prog_query_opts(Structure):
    # union { __u32 prog_cnt; __u32 count; } is the anonymous member at offset 24.
    _fields_ = [
        ("sz", c_size_t),
        ("query_flags", c_uint32),
        ("attach_flags", c_uint32),
        ("prog_ids", POINTER(c_uint32)),
        ("prog_cnt", c_uint32),
        ("prog_attach_flags", POINTER(c_uint32)),
        ("link_ids", POINTER(c_uint32)),
        ("link_attach_flags", POINTER(c_uint32)),
        ("revision", c_uint64),
    ]


class bpf_iter_attach_opts(Structure):
    # link_info is a `union bpf_iter_link_info *`: a buffer of BPF_ITER_LINK_INFO_SIZE bytes.
    _fields_ = [("sz", c_size_t), ("link_info", c_void_p), ("link_info_len", c_uint32)]


#: sizeof(union bpf_iter_link_info): { __u32 order; __u32 cgroup_fd; __u64 cgroup_id; }
BPF_ITER_LINK_INFO_SIZE = 16


class bpf_prog_info(Structure):
    _fields_ = [
        ("type", c_uint32),
        ("id", c_uint32),
        ("tag", c_uint8 * 8),
        ("jited_prog_len", c_uint32),
        ("xlated_prog_len", c_uint32),
        ("jited_prog_insns", c_uint64),
        ("xlated_prog_insns", c_uint64),
        ("load_time", c_uint64),
        ("created_by_uid", c_uint32),
        ("nr_map_ids", c_uint32),
        ("map_ids", c_uint64),
        ("name", c_char * 16),
        ("ifindex", c_uint32),
        ("_flags", c_uint32),  # __u32 gpl_compatible:1; __u32 :31;
        ("netns_dev", c_uint64),
        ("netns_ino", c_uint64),
        ("nr_jited_ksyms", c_uint32),
        ("nr_jited_func_lens", c_uint32),
        ("jited_ksyms", c_uint64),
        ("jited_func_lens", c_uint64),
        ("btf_id", c_uint32),
        ("func_info_rec_size", c_uint32),
        ("func_info", c_uint64),
        ("nr_func_info", c_uint32),
        ("nr_line_info", c_uint32),
        ("line_info", c_uint64),
        ("jited_line_info", c_uint64),
        ("nr_jited_line_info", c_uint32),
        ("line_info_rec_size", c_uint32),
        ("jited_line_info_rec_size", c_uint32),
        ("nr_prog_tags", c_uint32),
        ("prog_tags", c_uint64),
        ("run_time_ns", c_uint64),
        ("run_cnt", c_uint64),
        ("recursion_misses", c_uint64),
        ("verified_insns", c_uint32),
        ("attach_btf_obj_id", c_uint32),
        ("attach_btf_id", c_uint32),
    ]
    _align_ = 8  # __attribute__((aligned(8))): size rounds up to 8


class bpf_link_info(Structure):
    """``struct bpf_link_info`` (linux/bpf.h), filled by ``bpf_link_get_info_by_fd``: the
    common head, then one member of the anonymous union per link type (``raw_tracepoint``,
    ``tracing``, ``cgroup``, ``iter``, ``netns``, ``xdp``, ``struct_ops``, ``netfilter``,
    ``kprobe_multi``, ``uprobe_multi``, ``perf_event``, ``tcx``, ``netkit``, ``sockmap``).
    The ``__u32 :32`` holes are ``_pad`` fields; pointer fields (``tp_name`` ...) are u64s the
    caller sets to a buffer's address, with the length next to them."""

    class raw_tracepoint_t(Structure):
        _fields_ = [("tp_name", c_uint64), ("tp_name_len", c_uint32), ("_pad0", c_uint32),
                    ("cookie", c_uint64)]

    class tracing_t(Structure):
        _fields_ = [("attach_type", c_uint32), ("target_obj_id", c_uint32),
                    ("target_btf_id", c_uint32), ("_pad0", c_uint32), ("cookie", c_uint64)]

    class cgroup_t(Structure):
        _fields_ = [("cgroup_id", c_uint64), ("attach_type", c_uint32)]

    class iter_t(Structure):
        class map_u(ctypes.Union):
            class map_t(Structure):
                _fields_ = [("map_id", c_uint32)]

            _fields_ = [("map", map_t)]

        class target_u(ctypes.Union):
            class cgroup_t(Structure):
                _fields_ = [("cgroup_id", c_uint64), ("order", c_uint32)]

            class task_t(Structure):
                _fields_ = [("tid", c_uint32), ("pid", c_uint32)]

            _fields_ = [("cgroup", cgroup_t), ("task", task_t)]

        _anonymous_ = ("_u0", "_u1")
        _fields_ = [("target_name", c_uint64), ("target_name_len", c_uint32), ("_u0", map_u),
                    ("_u1", target_u)]

    class netns_t(Structure):
        _fields_ = [("netns_ino", c_uint32), ("attach_type", c_uint32)]

    class xdp_t(Structure):
        _fields_ = [("ifindex", c_uint32)]

    class struct_ops_t(Structure):
        _fields_ = [("map_id", c_uint32)]

    class netfilter_t(Structure):
        _fields_ = [("pf", c_uint32), ("hooknum", c_uint32), ("priority", c_int32),
                    ("flags", c_uint32)]

    class kprobe_multi_t(Structure):
        _fields_ = [("addrs", c_uint64), ("count", c_uint32), ("flags", c_uint32),
                    ("missed", c_uint64), ("cookies", c_uint64)]

    class uprobe_multi_t(Structure):
        _fields_ = [("path", c_uint64), ("offsets", c_uint64), ("ref_ctr_offsets", c_uint64),
                    ("cookies", c_uint64), ("path_size", c_uint32), ("count", c_uint32),
                    ("flags", c_uint32), ("pid", c_uint32)]

    class perf_event_t(Structure):
        class event_u(ctypes.Union):
            class uprobe_t(Structure):
                _fields_ = [("file_name", c_uint64), ("name_len", c_uint32),
                            ("offset", c_uint32), ("cookie", c_uint64),
                            ("ref_ctr_offset", c_uint64)]

            class kprobe_t(Structure):
                _fields_ = [("func_name", c_uint64), ("name_len", c_uint32),
                            ("offset", c_uint32), ("addr", c_uint64), ("missed", c_uint64),
                            ("cookie", c_uint64)]

            class tracepoint_t(Structure):
                _fields_ = [("tp_name", c_uint64), ("name_len", c_uint32), ("_pad0", c_uint32),
                            ("cookie", c_uint64)]

            class event_t(Structure):
                _fields_ = [("config", c_uint64), ("type", c_uint32), ("_pad0", c_uint32),
                            ("cookie", c_uint64)]

            _fields_ = [("uprobe", uprobe_t), ("kprobe", kprobe_t),
                        ("tracepoint", tracepoint_t), ("event", event_t)]

        _anonymous_ = ("_u",)
        _fields_ = [("type", c_uint32), ("_pad0", c_uint32), ("_u", event_u)]

    class ifindex_attach_t(Structure):  # tcx and netkit
        _fields_ = [("ifindex", c_uint32), ("attach_type", c_uint32)]

    class sockmap_t(Structure):
        _fields_ = [("map_id", c_uint32), ("attach_type", c_uint32)]

    class info_u(ctypes.Union):
        pass

    info_u._fields_ = [
        ("raw_tracepoint", raw_tracepoint_t), ("tracing", tracing_t), ("cgroup", cgroup_t),
        ("iter", iter_t), ("netns", netns_t), ("xdp", xdp_t), ("struct_ops", struct_ops_t),
        ("netfilter", netfilter_t), ("kprobe_multi", kprobe_multi_t),
        ("uprobe_multi", uprobe_multi_t), ("perf_event", perf_event_t),
        ("tcx", ifindex_attach_t), ("netkit", ifindex_attach_t), ("sockmap", sockmap_t),
    ]
    _anonymous_ = ("_u",)
    _fields_ = [("type", c_uint32), ("id", c_uint32), ("prog_id", c_uint32), ("_u", info_u)]
    _align_ = 8  # __attribute__((aligned(8)))


STRUCTS: tuple[type[ctypes.Structure], ...] = (
    bpf_tracepoint_opts,
    bpf_raw_tracepoint_opts,
    bpf_raw_tp_opts,
    bpf_kprobe_opts,
    bpf_uprobe_opts,
    bpf_kprobe_multi_opts,
    bpf_prog_load_opts,
    bpf_test_run_opts,
    bpf_perf_event_opts,
    bpf_uprobe_multi_opts,
    bpf_ksyscall_opts,
    bpf_usdt_opts,
    bpf_trace_opts,
    bpf_netfilter_opts,
    bpf_tcx_opts,
    bpf_netkit_opts,
    bpf_cgroup_opts,
    bpf_xdp_attach_opts,
    bpf_xdp_query_opts,
    bpf_tc_hook,
    bpf_tc_opts,
    bpf_link_update_opts,
    bpf_prog_detach_opts,
)

INFO_STRUCTS: tuple[type[ctypes.Structure], ...] = (
    bpf_link_create_opts,
    bpf_tracepoint_opts,
    bpf_raw_tracepoint_opts,
    bpf_kprobe_opts,
    bpf_uprobe_opts,
    bpf_kprobe_multi_opts,
    bpf_prog_load_opts,
    bpf_test_run_opts,
    bpf_prog_attach_opts,
    bpf_prog_query_opts,
    bpf_iter_attach_opts,
    bpf_prog_info,
    bpf_link_info,
)

#: Kernel structures (linux/bpf.h) the kernel fills: every field, nested ones by their C path
#: (``perf_event.uprobe.cookie``), checked against the C compiler by tests/test_ffi.py.
KERNEL_STRUCTS: tuple[type[ctypes.Structure], ...] = (bpf_prog_info, bpf_link_info)

P = POINTER

SIGNATURES: list[tuple[str, Any, list[Any], str]] = [
    # --- libbpf.h: bpf_program configuration (before load)
    ("bpf_program__flags", c_uint32, [prog_p], NONE),
    ("bpf_program__set_flags", c_int, [prog_p, c_uint32], INT),
    ("bpf_program__set_attach_target", c_int, [prog_p, c_int, c_char_p], INT),
    ("bpf_program__set_ifindex", None, [prog_p, c_uint32], NONE),
    # --- libbpf.h: attach
    ("bpf_program__attach_tracepoint_opts", link_p,
     [prog_p, c_char_p, c_char_p, P(bpf_tracepoint_opts)], PTR),
    ("bpf_program__attach_raw_tracepoint_opts", link_p,
     [prog_p, c_char_p, P(bpf_raw_tracepoint_opts)], PTR),
    ("bpf_program__attach_kprobe_opts", link_p, [prog_p, c_char_p, P(bpf_kprobe_opts)],
     PTR),
    ("bpf_program__attach_uprobe_opts", link_p,
     [prog_p, c_int, c_char_p, c_size_t, P(bpf_uprobe_opts)], PTR),
    ("bpf_program__attach_perf_event_opts", link_p, [prog_p, c_int, P(bpf_perf_event_opts)],
     PTR),
    ("bpf_program__attach_kprobe_multi_opts", link_p,
     [prog_p, c_char_p, P(bpf_kprobe_multi_opts)], PTR),
    ("bpf_program__attach_uprobe_multi", link_p,
     [prog_p, c_int, c_char_p, c_char_p, P(bpf_uprobe_multi_opts)], PTR),
    ("bpf_program__attach_ksyscall", link_p, [prog_p, c_char_p, P(bpf_ksyscall_opts)], PTR),
    ("bpf_program__attach_usdt", link_p,
     [prog_p, c_int, c_char_p, c_char_p, c_char_p, P(bpf_usdt_opts)], PTR),
    ("bpf_program__attach_trace_opts", link_p, [prog_p, P(bpf_trace_opts)], PTR),
    ("bpf_program__attach_lsm", link_p, [prog_p], PTR),
    ("bpf_program__attach_cgroup_opts", link_p, [prog_p, c_int, P(bpf_cgroup_opts)], PTR),
    ("bpf_program__attach_netns", link_p, [prog_p, c_int], PTR),
    ("bpf_program__attach_sockmap", link_p, [prog_p, c_int], PTR),
    ("bpf_program__attach_freplace", link_p, [prog_p, c_int, c_char_p], PTR),
    ("bpf_program__attach_netfilter", link_p, [prog_p, P(bpf_netfilter_opts)], PTR),
    ("bpf_program__attach_tcx", link_p, [prog_p, c_int, P(bpf_tcx_opts)], PTR),
    ("bpf_program__attach_netkit", link_p, [prog_p, c_int, P(bpf_netkit_opts)], PTR),
    ("bpf_program__attach_iter", link_p, [prog_p, c_void_p], PTR),
    ("bpf_map__attach_struct_ops", link_p, [map_p], PTR),
    ("bpf_link__update_map", c_int, [link_p, map_p], INT),
    # --- libbpf.h: XDP and TC without links (netlink)
    ("bpf_xdp_attach", c_int, [c_int, c_int, c_uint32, P(bpf_xdp_attach_opts)], INT),
    ("bpf_xdp_detach", c_int, [c_int, c_uint32, P(bpf_xdp_attach_opts)], INT),
    ("bpf_xdp_query", c_int, [c_int, c_int, P(bpf_xdp_query_opts)], INT),
    ("bpf_tc_hook_create", c_int, [P(bpf_tc_hook)], INT),
    ("bpf_tc_hook_destroy", c_int, [P(bpf_tc_hook)], INT),
    ("bpf_tc_attach", c_int, [P(bpf_tc_hook), P(bpf_tc_opts)], INT),
    ("bpf_tc_detach", c_int, [P(bpf_tc_hook), P(bpf_tc_opts)], INT),
    ("bpf_tc_query", c_int, [P(bpf_tc_hook), P(bpf_tc_opts)], INT),
    # --- bpf.h: program load and test runs (by fd)
    ("bpf_prog_test_run_opts", c_int, [c_int, P(bpf_test_run_opts)], INT),
    ("bpf_prog_load", c_int,
     [c_int, c_char_p, c_char_p, c_void_p, c_size_t, P(bpf_prog_load_opts)], INT),
    # --- bpf.h: low-level attach, query, links, iterators, stats
    ("bpf_prog_attach_opts", c_int, [c_int, c_int, c_int, c_void_p], INT),
    ("bpf_prog_detach_opts", c_int, [c_int, c_int, c_int, P(bpf_prog_detach_opts)], INT),
    ("bpf_prog_query_opts", c_int, [c_int, c_int, c_void_p], INT),
    ("bpf_link_update", c_int, [c_int, c_int, P(bpf_link_update_opts)], INT),
    ("bpf_link_detach", c_int, [c_int], INT),
    ("bpf_iter_create", c_int, [c_int], INT),
    ("bpf_enable_stats", c_int, [c_int], INT),
    # int bpf_token_create(int bpffs_fd, struct bpf_token_create_opts *opts) (opts may be NULL)
    ("bpf_token_create", c_int, [c_int, c_void_p], INT),
    ("bpf_prog_get_fd_by_id", c_int, [c_uint32], INT),
    ("bpf_link_get_fd_by_id", c_int, [c_uint32], INT),
    ("bpf_prog_get_info_by_fd", c_int, [c_int, P(bpf_prog_info), P(c_uint32)], INT),
    ("bpf_link_get_info_by_fd", c_int, [c_int, c_void_p, P(c_uint32)], INT),
    ("bpf_link_create", c_int, [c_int, c_int, c_int, P(bpf_link_create_opts)], INT),
    ("bpf_raw_tracepoint_open_opts", c_int, [c_int, P(bpf_raw_tp_opts)], INT),
    ("bpf_obj_get_info_by_fd", c_int, [c_int, c_void_p, P(c_uint32)], INT),
    # int bpf_{prog,map,link}_get_next_id(__u32 start_id, __u32 *next_id): -ENOENT at the end
    ("bpf_prog_get_next_id", c_int, [c_uint32, P(c_uint32)], INT),
    ("bpf_map_get_next_id", c_int, [c_uint32, P(c_uint32)], INT),
    ("bpf_link_get_next_id", c_int, [c_uint32, P(c_uint32)], INT),
]
