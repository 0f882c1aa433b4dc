"""The package's import graph has no cycle, counting imports inside functions (issue 14).

Read from the installed sources' AST: every ``import``/``from ... import`` of a libbpf_py module,
at module level or inside a function, except under ``if TYPE_CHECKING:`` (never run). A cycle
found here is a layering mistake even when lazy imports keep it from failing at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import libbpf_py

ROOT = Path(libbpf_py.__file__).resolve().parent

#: Cycles known today (the test fails when one disappears, so the list only shrinks): none.
KNOWN: list[set[str]] = []


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return mods


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere but under TYPE_CHECKING)."""
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and getattr(node.test, "id", None) == "TYPE_CHECKING"
                for sub in node.body for n in ast.walk(sub)}
        here = m.split(".") if is_pkg else m.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = (".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module
                                                                       else []))
                        if node.level else node.module or "")
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                targets = subs if node.module is None and subs else [base, *subs]
            else:
                continue
            edges[m].update(t for t in targets if t in mods and t != m)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_lazy_imports() -> None:
    """The graph counts an import inside a function: object.py imports maps only lazily."""
    assert "libbpf_py.maps" in import_graph()["libbpf_py.object"]


def test_no_import_cycle_but_the_known_ones() -> None:
    found = cycles(import_graph())
    new = [sorted(c) for c in found if c not in KNOWN]
    assert new == [], f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN if c not in found]
    assert gone == [], f"cycles removed: drop them from KNOWN: {gone}"
