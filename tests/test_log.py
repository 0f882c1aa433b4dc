"""libbpf's print output reaches logging.getLogger("libbpf_py") at matching levels."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import libbpf_py
from libbpf_py import VerifierError


def test_debug_messages_are_formatted(bpf_path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="libbpf_py"):
        libbpf_py.Object.open(bpf_path("getppid")).close()
    debug = [r for r in caplog.records if r.name == "libbpf_py" and r.levelno == logging.DEBUG]
    # va_list formatting happened in C: the object's path and section names are filled in.
    assert any("getppid.bpf" in r.getMessage() for r in debug)
    assert any("tracepoint/syscalls/sys_enter_getppid" in r.getMessage() for r in debug)
    assert all("%s" not in r.getMessage() for r in debug)


def test_nothing_below_the_logger_level(bpf_path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="libbpf_py"):
        libbpf_py.Object.open(bpf_path("getppid")).close()
    assert [r for r in caplog.records if r.name == "libbpf_py"] == []


@pytest.mark.root
def test_verifier_failure_is_a_warning(bpf_path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="libbpf_py"):
        with pytest.raises(VerifierError):
            libbpf_py.load(bpf_path("bad_access"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("prog 'unchecked_deref': BPF program load failed" in m for m in warnings)


@pytest.mark.root
def test_verifier_log_is_printed_once(bpf_path, caplog: pytest.LogCaptureFixture) -> None:
    """The verifier log is in the VerifierError; logging gets a line saying so, not a copy."""
    with caplog.at_level(logging.DEBUG, logger="libbpf_py"):
        with pytest.raises(VerifierError) as e:
            libbpf_py.load(bpf_path("bad_access"))
    assert "R0 invalid mem access 'map_value_or_null'" in e.value.log
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "libbpf_py")
    assert "invalid mem access" not in logged
    lines = len(e.value.log.splitlines())
    assert (f"prog 'unchecked_deref': verifier log ({lines} lines) in VerifierError.log, not "
            "repeated here") in logged


def test_import_does_not_import_logging() -> None:
    code = "import sys, libbpf_py; print('logging' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
