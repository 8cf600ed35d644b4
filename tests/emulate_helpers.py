"""Helpers for the emulated-board tests."""

from __future__ import annotations

import time

import pytest

WAIT_S = 8.0     # a guard against hangs, never a performance expectation


def wait_for(pred, what: str, timeout: float = WAIT_S):
    """``pred()``'s first true value; the test fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
