"""Bars and history graphs as plain strings: Unicode (eighth blocks, braille) or ASCII (#, -, |).

ASCII mode exists for slow SSH links and fonts without braille; every function
takes ``ascii`` and then uses only printable ASCII.
"""

from __future__ import annotations

import numpy as np

_EIGHTHS = " ▏▎▍▌▋▊▉█"
# braille dots filled from the bottom: left column (dots 7,3,2,1) and right column (8,6,5,4)
_LEFT = np.array([0, 0x40, 0x44, 0x46, 0x47], dtype=np.int64)
_RIGHT = np.array([0, 0x80, 0xA0, 0xB0, 0xB8], dtype=np.int64)


def bar(fraction: float, width: int, ascii: bool = False) -> tuple[str, str]:
    """A horizontal bar split into (filled, empty) strings of total ``width`` cells."""
    if width <= 0:
        return "", ""
    f = 0.0 if fraction != fraction else min(max(fraction, 0.0), 1.0)  # NaN -> 0
    if ascii:
        n = int(round(f * width))
        return "#" * n, "-" * (width - n)
    eighths = int(round(f * width * 8))
    full, part = divmod(eighths, 8)
    filled = "█" * full + (_EIGHTHS[part] if part and full < width else "")
    return filled, "░" * (width - len(filled))


def graph_rows(values: np.ndarray, height: int, top: float, ascii: bool = False) -> list[str]:
    """Rows (top first) of a filled area graph of ``values`` scaled to ``top``.

    Unicode: braille, two values per cell; the caller passes ``2 * width`` values.
    ASCII: one value per cell with ``#``; the caller passes ``width`` values.
    """
    if height <= 0 or values.size == 0:
        return [""] * max(height, 0)
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    scale = top if top > 0 else 1.0
    if ascii:
        cells = np.rint(np.clip(v / scale, 0, 1) * height).astype(np.int64)
        rows = []
        for r in range(height):
            level = height - r                 # 1-based level of this row from the bottom
            rows.append("".join("#" if c >= level else " " for c in cells.tolist()))
        return rows
    if v.size % 2:
        v = np.append(v, 0.0)
    dots = np.rint(np.clip(v / scale, 0, 1) * height * 4).astype(np.int64)
    # show any non-zero value with at least one dot so a slow second never looks like a stall
    dots = np.where((v > 0) & (dots == 0), 1, dots)
    left, right = dots[0::2], dots[1::2]
    rows = []
    for r in range(height):
        base = (height - 1 - r) * 4
        codes = 0x2800 + _LEFT[np.clip(left - base, 0, 4)] + _RIGHT[np.clip(right - base, 0, 4)]
        rows.append("".join(map(chr, codes.tolist())))
    return rows


_SPARK = "▁▂▃▄▅▆▇█"
_SPARK_ASCII = "_.-:=+*#"


def spark(levels: np.ndarray, ascii: bool = False) -> str:
    """One character per level ``0..7`` (``-1``: no data, a space); see ``edgemon.view.trend.levels``."""
    chars = _SPARK_ASCII if ascii else _SPARK
    return "".join(chars[v] if v >= 0 else " " for v in levels.tolist())


def timeline_chars(ascii: bool) -> dict[str, str]:
    """The replay timeline: track before/after the playhead, the playhead, throttled shading, marks."""
    if ascii:
        return {"done": "=", "track": "-", "head": "|", "shade": "#",
                "crash": "X", "mode": "*", "mark": "v", "control": "+"}
    return {"done": "━", "track": "─", "head": "┃", "shade": "▒",
            "crash": "✖", "mode": "◆", "mark": "▼", "control": "•"}


def frame_chars(ascii: bool) -> dict[str, str]:
    """Separators and markers that change in ASCII mode."""
    if ascii:
        return {"sep": "|", "dot": "*", "play": ">", "pause": "=", "arrow": "->", "marker": "<", "cross": "x",
                "track": "-", "head": "|", "done": "="}
    return {"sep": "│", "dot": "●", "play": "▶", "pause": "⏸", "arrow": "→", "marker": "◀", "cross": "✖",
            "track": "─", "head": "┃", "done": "━"}


def truncate(text, width: int, ascii: bool) -> None:
    """Cut a rich Text to ``width`` cells in place, ending in an ellipsis ("..." in ASCII mode)."""
    if not ascii or text.cell_len <= width:
        text.truncate(width, overflow="ellipsis")
        return
    text.truncate(max(0, width - 3))
    text.append("..."[:width])
