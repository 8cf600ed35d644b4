"""What every bad-input test checks: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations


def assert_one_line_error(proc, *needles: str) -> str:
    """``proc`` (a CompletedProcess, text) failed with exit 2 and one line holding every needle."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
