"""Short number formats: a latency keeps 3 significant figures down to sub-microsecond loops."""

from __future__ import annotations

import math

import pytest

from edgemon.view import fmt


@pytest.mark.parametrize("value, text", [
    (153.2, "153"), (12.34, "12.3"), (6.512, "6.51"), (0.1234, "0.123"),
    (0.0786, "0.0786"),          # the default model: ~79 us
    (0.00123, "0.00123"),        # a loop of ~1 us (edgemon_probe around a small function)
    (0.000312, "0.000312"),      # a loop of 312 ns
    (0.0, "0.000"), (None, "-"), (math.nan, "-"), (math.inf, "-"),
])
def test_ms_keeps_three_significant_figures(value, text):
    assert fmt.ms(value) == text


def test_a_time_that_is_not_zero_never_reads_as_zero():
    for exponent in range(-9, 4):
        value = 1.234 * 10.0 ** exponent
        assert float(fmt.ms(value)) == pytest.approx(value, rel=0.01), value


def test_analyze_tables_keep_sub_microsecond_latencies():
    from edgemon.analysis.summary import _fmt

    assert _fmt(0.000312) == "0.000312" and _fmt(0.0786) == "0.0786"
    assert _fmt(6.5123) == "6.512" and _fmt(1234.5, 1) == "1234.5" and _fmt(0.0) == "0.000"
