"""Dashboard panels, one module each; every panel renders from a :class:`ViewState`."""

from __future__ import annotations
