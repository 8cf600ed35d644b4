"""SVG snapshots of the dashboard on scripted FakeFeed sessions (no wall clock in the text).

Update after a deliberate change with
``.venv/bin/pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest

from tui_helpers import make_app

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
CASES = {
    "linux": dict(scenario="linux"),
    "jetson": dict(scenario="jetson"),
    "crashed": dict(scenario="crashed"),
    "replay": dict(scenario="replay"),
    "ascii": dict(scenario="jetson", ascii=True),
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("case", list(CASES))
def test_dashboard_snapshot(snap_compare, case, size):
    kw = dict(CASES[case])
    app, _ = make_app(kw.pop("scenario"), **kw)
    assert snap_compare(app, terminal_size=SIZES[size])
