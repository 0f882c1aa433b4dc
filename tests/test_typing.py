"""The package as installed type-checks: mypy over libbpf_py, which ships ``py.typed``."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from mypy import api as mypy_api

import libbpf_py


def test_py_typed_is_shipped() -> None:
    assert (resources.files("libbpf_py") / "py.typed").is_file()


def test_mypy_finds_no_errors(tmp_path: Path) -> None:
    # A copy of the Python sources: mypy reports nothing in a package under site-packages.
    src = tmp_path / "src"
    shutil.copytree(Path(libbpf_py.__file__).parent, src / "libbpf_py",
                    ignore=shutil.ignore_patterns("*.so", "*.o", "include", "__pycache__"))
    stdout, stderr, status = mypy_api.run([
        "--cache-dir", str(tmp_path / "mypy-cache"), "--ignore-missing-imports",
        str(src / "libbpf_py")])
    assert status == 0, stdout + stderr
    assert "Success: no issues found" in stdout
