"""What ports of third-party BPF tools need, kept working in the suite (issue 11, "keep it honest").

The ports themselves (bcc's libbpf-tools and libbpf-bootstrap rewritten on libbpf_py) live
outside the project. Each pattern they needed is tested here or in the concept's own file;
``PATTERNS`` says where, and ``test_every_port_pattern_has_its_test`` fails when one of those
tests is renamed or removed. The built-in tools (tests/test_tools.py) use the same patterns
end to end: rodata knobs set before load, typed events, struct-keyed maps through the dict API
(``pop_all()``), a variable-length event (execsnoop).

Tested here: the attach kind chosen before load, from feature probes (fentry where trampolines
work, else a kprobe, else a tracepoint), as libbpf-tools' opensnoop, biosnoop and others do.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import libbpf_py
from libbpf_py import features

HERE = Path(__file__).resolve().parent
ARCH_PREFIX = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}[os.uname().machine]

#: pattern -> the tests that cover it ("file::function")
PATTERNS = {
    "variable-length event (fixed part + tail)": [
        "test_ringbuf.py::test_variable_length_records_fixed_part_and_tail",
        "test_perfbuf.py::test_variable_length_samples_fixed_part_and_tail",
        "test_tools.py::test_execsnoop_variable_length_args_are_cut_like_libbpf_tools"],
    "union event": ["test_ringbuf.py::test_union_events"],
    "struct keys as dict keys, pop_all": [
        "test_map.py::test_struct_keys_are_hashable_and_equal_by_value",
        "test_map.py::test_pop_all_with_struct_keys_returns_every_element",
        "test_tools.py::test_runqlat_per_thread_and_per_process"],
    "int128 key": ["test_map.py::test_int128_keys_and_values_are_lossless_ints"],
    "USDT and uprobes in a shared library": [
        "test_attach_uprobe.py::test_uprobe_and_usdt_in_a_shared_library_of_this_process",
        "test_attach_uprobe.py::test_uprobe_in_a_shared_library_of_another_process"],
    "fallback chosen before load": [
        "test_ports.py::test_attach_kind_fallback_chosen_before_load",
        "test_map_setters.py::test_libbpf_tools_compat_pattern"],
    "rodata knobs set before load": [
        "test_skeleton.py::test_packaged_object_is_checked_by_layout",
        "test_tools.py::test_execsnoop_text_columns_and_pid_filter"],
}


def test_every_port_pattern_has_its_test() -> None:
    missing = []
    for tests in PATTERNS.values():
        for ref in tests:
            file, _, func = ref.partition("::")
            tree = ast.parse((HERE / file).read_text())
            names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            if func not in names:
                missing.append(ref)
    assert missing == []


@pytest.mark.root
def test_attach_kind_fallback_chosen_before_load(bpf_path) -> None:
    target = ARCH_PREFIX + "getpgid"
    # what the probes say this kernel serves, best first (Linux 6.18 with lockdown here: no
    # trampolines, no kprobes, so the tracepoint; a VM kernel without lockdown: fentry)
    kinds = [("by_fentry", features.fentry(target)),
             ("by_kprobe", features.has("kprobes") and features.kernel_function(target)),
             ("by_tracepoint", features.tracepoint("syscalls", "sys_enter_getpgid"))]
    chosen = next((name for name, served in kinds if served), None)
    assert chosen is not None, f"no way to count getpgid() on this kernel: {kinds}"
    with libbpf_py.Object.open(bpf_path("attach_fallback")) as opened:
        opened.rodata.targ_tgid = os.getpid()
        for name, prog in opened.programs.items():
            prog.autoload = name == chosen  # the others are never loaded: no refusal to handle
        if chosen == "by_fentry":
            opened.programs.by_fentry.set_attach_target(target)
        obj = opened.load()
    with obj:
        for name, prog in obj.programs.items():
            if name != chosen:
                with pytest.raises(libbpf_py.BpfError, match="not loaded"):
                    prog.fd
        prog = obj.programs[chosen]
        link = (prog.attach_trace() if chosen == "by_fentry" else
                prog.attach_kprobe(target) if chosen == "by_kprobe" else prog.attach())
        with link:
            for _ in range(3):
                os.getpgid(0)
        os.getpgid(0)  # detached: not counted
        want = [3 if name == chosen else 0 for name, _served in kinds]
        assert obj.bss.hits.tolist() == want
