"""Every code example in README.md and docs/*.md runs (as root, against the real kernel).

Per page, in order: each ```c block whose first line names a file (``// name.bpf.c...``) is
compiled into the page's temporary directory; each ```yaml block whose first line names a file
(``# name.yaml``) is written there; each ```python block runs there, all blocks of a page
sharing one namespace (like a notebook). Blocks fenced as ```python-no-run are shown only.
A page that needs a kernel feature says so in a comment, ``<!-- kernel: arena -->``: it runs
where ``libbpf_py.features`` finds the feature, and is skipped (naming it) elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import compile_bpf

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w[\w-]*)\n(.*?)^```", re.M | re.S)
C_FILE = re.compile(r"^//\s*([\w.-]+\.bpf\.c)\b")
YAML_FILE = re.compile(r"^#\s*([\w.-]+\.ya?ml)\b")
NEEDS = re.compile(r"^<!-- kernel: ([\w,]+) -->$", re.M)

pytestmark = [pytest.mark.root, pytest.mark.kernel("tracefs")]


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text())]


def has_python(page: Path) -> bool:
    return any(lang == "python" for lang, _ in blocks(page))


def page_param(page: Path) -> object:
    m = NEEDS.search(page.read_text())
    marks = [pytest.mark.kernel(f) for f in m.group(1).split(",")] if m else []
    return pytest.param(page, marks=marks, id=page.name)


@pytest.mark.parametrize("page", [page_param(p) for p in PAGES if p.exists() and has_python(p)])
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = blocks(page)
    runnable = [(lang, code) for lang, code in found if lang in ("c", "python", "yaml")]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # modules a page generates (skeletons) import
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for lang, code in runnable:
        if lang == "c":
            m = C_FILE.match(code)
            if not m:
                continue
            src = tmp_path / m.group(1)
            src.write_text(code)
            obj = compile_bpf(src, tmp_path)
            os.replace(obj, tmp_path / (m.group(1)[: -len(".c")] + ".o"))
        elif lang == "yaml":
            m = YAML_FILE.match(code)
            if m:
                (tmp_path / m.group(1)).write_text(code)
        else:
            exec(compile(code, f"{page.name}:python-block", "exec"), namespace)
