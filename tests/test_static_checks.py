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


def test_mypy_sees_typed_lib_calls(sources: Path, tmp_path: Path) -> None:
    """Calls through ``_ffi.lib`` are typed (``_ffi/_lib.pyi``): a wrong argument type and a
    wrong argument count are mypy errors, not ``Any``."""
    probe = tmp_path / "lbpy_typed_probe.py"
    probe.write_text("from libbpf_py._ffi import lib\n\n"
                     "lib.bpf_map_get_fd_by_id('1')\n"
                     "lib.bpf_map_get_fd_by_id(1, 2)\n"
                     "reveal_type(lib.bpf_map_get_fd_by_id(1))\n")
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"),
                          "--ignore-missing-imports", str(probe)], capture_output=True,
                         text=True, cwd=sources.parent)
    assert 'incompatible type "str"; expected "int"  [arg-type]' in out.stdout, out.stdout
    assert 'Too many arguments for "bpf_map_get_fd_by_id" of "Lib"' in out.stdout, out.stdout
    assert 'Revealed type is "int"' in out.stdout, out.stdout
