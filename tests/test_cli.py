"""python -m fastconv info / check."""

import subprocess
import sys

from fastconv.__main__ import main


def test_check_passes(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert " 0 failed" in out and "FAIL" not in out


def test_check_reports_a_broken_op(monkeypatch, capsys):
    import fastconv

    real = fastconv.conv2d
    monkeypatch.setattr(fastconv, "conv2d", lambda *a, **k: real(*a, **k) * 1.01)
    assert main(["check"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_info_runs():
    r = subprocess.run([sys.executable, "-m", "fastconv", "info"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for key in ("numba", "threading layer", "SIMD width", "backend cpu", "backend cuda", "numba cache"):
        assert key in r.stdout
