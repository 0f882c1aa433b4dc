"""BPF arenas: a linked list a BPF program builds in arena memory, walked and edited from Python
through ctypes and numpy views (no copies), then seen by the program; views are leases."""

from __future__ import annotations

import ctypes
from typing import Any, Callable

import pytest

import libbpf_py
from libbpf_py.arena import Arena

from conftest import python_child

pytestmark = [pytest.mark.root, pytest.mark.kernel("arena")]

N = 8


class Node(ctypes.Structure):
    _fields_ = [("next", ctypes.c_uint64), ("value", ctypes.c_uint64)]


def built(path: Any) -> libbpf_py.Object:
    obj = libbpf_py.load(path)
    try:
        assert obj.programs["build"].test_run().retval == 0
    except BaseException:
        obj.close()
        raise
    return obj


def walk(arena: Arena, head: int) -> list[int]:
    values, node = [], arena.follow(Node, head)
    while node is not None:
        values.append(node.value)
        node = arena.follow(Node, node.next)
    return values


def test_python_walks_and_edits_the_programs_list(bpf_path: Callable[[str], Any]) -> None:
    with built(bpf_path("arena_list")) as obj:
        arena = Arena(obj.maps["arena"])
        head = obj.bss.head
        assert head >> 32 == arena.address >> 32  # a user address of the mapping
        assert walk(arena, head) == [10 * (i + 1) for i in range(N)]
        # edit: change the 3rd value, unlink the 4th, append a node of our own in the same page
        nodes = [arena.follow(Node, head)]
        for _ in range(N - 1):
            nodes.append(arena.follow(Node, nodes[-1].next))
        nodes[2].value = 999
        nodes[2].next = nodes[3].next
        new_off = arena.offset(obj.bss.page) + N * ctypes.sizeof(Node)
        new = arena.view(Node, new_off)
        new.value, new.next = 5, 0
        nodes[-1].next = arena.pointer(new_off)
        assert obj.programs["walk"].test_run().retval == 0
        expected = [10, 20, 999] + [10 * (i + 1) for i in range(4, N)] + [5]
        assert (obj.bss.count, obj.bss.sum) == (len(expected), sum(expected))
        assert walk(arena, head) == expected


def test_numpy_view_without_copy(bpf_path: Callable[[str], Any]) -> None:
    np = pytest.importorskip("numpy")
    with built(bpf_path("arena_list")) as obj:
        arena = Arena(obj.maps["arena"])
        nodes = arena.array([("next", "<u8"), ("value", "<u8")], obj.bss.page, N)
        assert nodes["value"].tolist() == [10 * (i + 1) for i in range(N)]
        nodes["value"] *= 3  # written in place: the program sees it
        assert obj.programs["walk"].test_run().retval == 0
        assert obj.bss.sum == 3 * 10 * N * (N + 1) // 2
        assert np.shares_memory(nodes, arena.array("<u8", obj.bss.page, 2 * N))
        typed = arena.array("struct node", obj.bss.page, N)  # the dtype from the object's BTF
        assert typed.dtype.names == ("next", "value") and typed.dtype.itemsize == 16
        assert typed["value"].tolist() == [30 * (i + 1) for i in range(N)]
        assert typed["next"][0] == arena.pointer(arena.offset(obj.bss.page) + 16)
        assert np.shares_memory(typed, nodes)


def test_views_by_btf_type_name(bpf_path: Callable[[str], Any]) -> None:
    """No ctypes declaration: the program's own ``struct node``, from its BTF."""
    with built(bpf_path("arena_list")) as obj:
        arena = Arena(obj.maps["arena"])
        node_t = arena.ctype("struct node")
        assert ctypes.sizeof(node_t) == 16 and [f[0] for f in node_t._fields_] == ["next", "value"]
        values, node = [], arena.follow("struct node", obj.bss.head)
        while node is not None:
            values.append(node.value)
            node = arena.follow("struct node", node.next)
        assert values == [10 * (i + 1) for i in range(N)]
        first = arena.view("struct node", obj.bss.head)
        assert isinstance(first, node_t)
        first.value = 1000
        assert obj.programs["walk"].test_run().retval == 0
        assert obj.bss.sum == 1000 + sum(10 * (i + 1) for i in range(1, N))
        with pytest.raises(ValueError, match="struct nope"):
            arena.view("struct nope", 0)
        with pytest.raises(ValueError, match="BTF type name"):
            arena.ctype(" ")
    with pytest.raises(libbpf_py.errors.ClosedError):
        arena.ctype("struct node")


def test_arena_global_and_bad_pointers(bpf_path: Callable[[str], Any]) -> None:
    with built(bpf_path("arena_list")) as obj:
        arena = Arena(obj.maps["arena"])
        with pytest.raises(ValueError, match="NULL"):
            arena.offset(0)
        with pytest.raises(ValueError, match="outside the arena"):
            arena.view(Node, arena.size - 8)
        with pytest.raises(TypeError, match="not an ARENA"):
            Arena(next(m for m in obj.maps.values() if m.type != libbpf_py.MapType.ARENA))


def test_views_outlive_close_safely() -> None:
    # A child process: a bug here would be a segfault, which the parent reports by name.
    out = python_child(r'''
import ctypes, sys, gc
import libbpf_py
from libbpf_py.arena import Arena
class Node(ctypes.Structure):
    _fields_ = [("next", ctypes.c_uint64), ("value", ctypes.c_uint64)]
obj = libbpf_py.load(sys.argv[1])
obj.programs["build"].test_run()
arena = Arena(obj.maps["arena"])
root = arena.memory
kept = arena.follow(Node, obj.bss.head)
addr = arena.address
obj.close()
try:
    root[0]
except ValueError as e:
    print("root:", type(e).__name__)
print("kept:", kept.value)
maps = lambda: any(line.startswith(f"{addr:x}-") for line in open("/proc/self/maps"))
print("mapped while kept:", maps())
del kept; gc.collect()
print("mapped after:", maps())
try:
    arena.view(Node, 0)
except libbpf_py.errors.ClosedError:
    print("closed: ClosedError")
''', str(_arena_obj()))
    assert out.split("\n")[:5] == ["root: ValueError", "kept: 10", "mapped while kept: True",
                                   "mapped after: False", "closed: ClosedError"]


def _arena_obj() -> Any:
    from conftest import BPF_SRC, compile_bpf

    return compile_bpf(BPF_SRC / "arena_list.bpf.c")
