"""Static checks of the package as installed: mypy (it ships ``py.typed``) and ruff, with the
settings of the repository's pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import libbpf_py

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the installed package's Python sources (mypy reports nothing in a package
    under site-packages)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(Path(libbpf_py.__file__).parent, src / "libbpf_py",
                    ignore=shutil.ignore_patterns("*.so", "*.o", "include", "__pycache__"))
    return src / "libbpf_py"


def test_py_typed_is_shipped() -> None:
    assert (resources.files("libbpf_py") / "py.typed").is_file()


def test_mypy_finds_no_errors(sources: Path, tmp_path: Path) -> None:
    # In a child process: mypy's objects would slow every later test's gc.collect() (fd check).
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"),
                          "--ignore-missing-imports", str(sources)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout


def test_ruff_finds_no_errors(sources: Path) -> None:
    assert PYPROJECT.is_file(), "the repository's pyproject.toml holds ruff's settings"
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                          str(PYPROJECT), str(sources)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
