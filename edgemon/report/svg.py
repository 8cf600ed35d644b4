"""A small SVG chart writer: lines, scatter, histogram bars, shaded spans, vertical markers.

Enough for the session report without matplotlib (which would add ~40 MB to
``pip install edgemon`` and seconds of import time): one ``Chart`` per plot, rendered to
an ``<svg>`` string that the HTML report inlines. Callers pass plain sequences (numpy
arrays work); NaN breaks a line. Values are rounded to 0.1 px, so a 1500-point line
costs ~15 kB.
"""

from __future__ import annotations

import html
import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#393b79", "#637939")
# Throttling causes, in Okabe-Ito colours (the figures of edgemon plot use the same).
CAUSE_COLORS = {"thermal": "#D55E00", "power": "#E69F00", "power_mode": "#CC79A7", "user_action": "#009E73",
                "thermal_or_power": "#F0E442", "unknown": "#999999"}


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks at 1, 2, 5 x 10^k between 10^lo and 10^hi (lo, hi in log10)."""
    out = []
    for k in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** k
            if lo - 1e-9 <= math.log10(v) <= hi + 1e-9:
                out.append(v)
    if len(out) > 8:
        out = [v for v in out if str(v).lstrip("0.").startswith("1")]
    if len(out) < 3:  # less than a decade: plain round numbers, placed on the log axis
        out = [v for v in nice_ticks(10 ** lo, 10 ** hi, 6) if v > 0]
    return out


def fmt_num(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 10000:
        return f"{v / 1000:g}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.4g}"
    return f"{v:.3g}"


@dataclass
class _Series:
    kind: str                 # line | scatter | bars | step
    x: list[float]
    y: list[float]
    label: str | None
    color: str
    axis: str = "left"
    dash: str | None = None
    width: float = 1.4
    opacity: float = 1.0


@dataclass
class Chart:
    title: str
    width: int = 960
    height: int = 260
    x_label: str = "time since session start (s)"
    y_label: str = ""
    y2_label: str | None = None
    log_x: bool = False
    y_min: float | None = None
    y_max: float | None = None        # clip the left axis here (outliers would squash the rest)
    x_range: tuple[float, float] | None = None
    series: list[_Series] = field(default_factory=list)
    spans: list[tuple[float, float, str, str]] = field(default_factory=list)      # x0, x1, color, tooltip
    vlines: list[tuple[float, str, str, str | None]] = field(default_factory=list)  # x, color, tooltip, dash
    notes: list[str] = field(default_factory=list)

    def _color(self) -> str:
        return PALETTE[len([s for s in self.series if s.label]) % len(PALETTE)]

    def line(self, x: Sequence[float], y: Sequence[float], label: str | None = None, *, color: str | None = None,
             axis: str = "left", dash: str | None = None, width: float = 1.4) -> "Chart":
        self.series.append(_Series("line", _floats(x), _floats(y), label, color or self._color(), axis, dash, width))
        return self

    def scatter(self, x: Sequence[float], y: Sequence[float], label: str | None = None, *, color: str | None = None,
                opacity: float = 0.35) -> "Chart":
        self.series.append(_Series("scatter", _floats(x), _floats(y), label, color or self._color(), opacity=opacity))
        return self

    def bars(self, edges: Sequence[float], counts: Sequence[float], label: str | None = None, *,
             color: str | None = None) -> "Chart":
        """Histogram: ``len(edges) == len(counts) + 1``."""
        self.series.append(_Series("bars", _floats(edges), _floats(counts), label, color or self._color()))
        return self

    def span(self, x0: float, x1: float, color: str, tooltip: str = "") -> "Chart":
        self.spans.append((float(x0), float(x1), color, tooltip))
        return self

    def vline(self, x: float, color: str = "#555", tooltip: str = "", dash: str | None = "3,3") -> "Chart":
        self.vlines.append((float(x), color, tooltip, dash))
        return self

    @property
    def empty(self) -> bool:
        return not any(any(math.isfinite(v) for v in s.y) for s in self.series)

    # ----------------------------------------------------------------- rendering

    def render(self) -> str:
        W, H = self.width, self.height
        left, right = 64, (64 if any(s.axis == "right" for s in self.series) else 20)
        top, bottom = 30, 40
        pw, ph = W - left - right, H - top - bottom
        tx = (lambda v: math.log10(v) if v > 0 else float("nan")) if self.log_x else (lambda v: v)

        xs = [tx(v) for s in self.series for v in s.x if math.isfinite(v)]
        if self.x_range:
            x0, x1 = tx(self.x_range[0]), tx(self.x_range[1])
        else:
            xs += [tx(v) for sp in self.spans for v in sp[:2]] + [tx(v[0]) for v in self.vlines]
            xs = [v for v in xs if math.isfinite(v)]
            x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x1 + 0.5

        def y_range(axis: str) -> tuple[float, float]:
            ys = [v for s in self.series if s.axis == axis for v in s.y if math.isfinite(v)]
            if not ys:
                return 0.0, 1.0
            lo, hi = min(ys), max(ys)
            if self.y_min is not None and axis == "left":
                lo = min(lo, self.y_min)
            if self.y_max is not None and axis == "left" and lo < self.y_max < hi:
                hi = self.y_max
            if any(s.kind == "bars" for s in self.series):
                lo = 0.0
            pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
            return (lo - pad if lo != 0 else 0.0), hi + pad

        yl = y_range("left")
        yr = y_range("right")

        def px(v: float) -> float:
            return left + (tx(v) - x0) / (x1 - x0) * pw

        def py(v: float, axis: str = "left") -> float:
            lo, hi = yl if axis == "left" else yr
            return top + ph - (v - lo) / (hi - lo) * ph

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" '
               f'class="chart" role="img" aria-label="{_e(self.title)}">',
               f'<text x="{left}" y="18" class="t">{_e(self.title)}</text>',
               f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#bbb"/>']
        clip = f"c{zlib.crc32(f'{self.title}{W}x{H}'.encode()):08x}"
        out.append(f'<clipPath id="{clip}"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/></clipPath>')
        # grid + ticks
        xt = log_ticks(x0, x1) if self.log_x else nice_ticks(x0, x1, 8)
        for v in xt:
            X = px(v)
            if left - 0.5 <= X <= left + pw + 0.5:
                out.append(f'<line x1="{X:.1f}" y1="{top}" x2="{X:.1f}" y2="{top + ph}" class="g"/>'
                           f'<text x="{X:.1f}" y="{top + ph + 14}" class="xl">{fmt_num(v)}</text>')
        for v in nice_ticks(*yl, 5):
            Y = py(v)
            if top - 0.5 <= Y <= top + ph + 0.5:
                out.append(f'<line x1="{left}" y1="{Y:.1f}" x2="{left + pw}" y2="{Y:.1f}" class="g"/>'
                           f'<text x="{left - 5}" y="{Y + 4:.1f}" class="yl">{fmt_num(v)}</text>')
        if any(s.axis == "right" for s in self.series):
            for v in nice_ticks(*yr, 5):
                Y = py(v, "right")
                if top - 0.5 <= Y <= top + ph + 0.5:
                    out.append(f'<text x="{left + pw + 5}" y="{Y + 4:.1f}" class="yr">{fmt_num(v)}</text>')
        out.append(f'<text x="{left + pw / 2:.0f}" y="{H - 6}" class="al">{_e(self.x_label)}</text>')
        if self.y_label:
            out.append(f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" class="al">'
                       f'{_e(self.y_label)}</text>')
        if self.y2_label:
            out.append(f'<text transform="translate({W - 8} {top + ph / 2:.0f}) rotate(90)" class="al">'
                       f'{_e(self.y2_label)}</text>')
        out.append(f'<g clip-path="url(#{clip})">')
        for a, b, color, tip in self.spans:
            X0, X1 = px(a), px(b)
            out.append(f'<rect x="{X0:.1f}" y="{top}" width="{max(X1 - X0, 1.0):.1f}" height="{ph}" fill="{color}" '
                       f'fill-opacity="0.16"><title>{_e(tip)}</title></rect>')
        for s in self.series:
            out += _render_series(s, px, py)
        for x, color, tip, dash in self.vlines:
            X = px(x)
            d = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line x1="{X:.1f}" y1="{top}" x2="{X:.1f}" y2="{top + ph}" stroke="{color}" '
                       f'stroke-width="1.2"{d}><title>{_e(tip)}</title></line>')
        out.append("</g>")
        # legend
        lx: float = left + 8
        for s in self.series:
            if not s.label:
                continue
            label = s.label + (" (right axis)" if s.axis == "right" else "")
            w = 14 + 7.2 * len(label)  # swatch + ~11 px sans-serif text, generous so labels never overlap
            out.append(f'<rect x="{lx - 3:.0f}" y="{top + 3}" width="{w + 6:.0f}" height="16" fill="#fff" '
                       f'fill-opacity="0.8"/><rect x="{lx:.0f}" y="{top + 6}" width="10" height="10" '
                       f'fill="{s.color}"/><text x="{lx + 14:.0f}" y="{top + 15}" class="lg">{_e(label)}</text>')
            lx += w + 14
        out.append("</svg>")
        return "\n".join(out)


def _render_series(s: _Series, px, py) -> list[str]:
    out = []
    if s.kind == "bars":
        pts = []
        for k in range(len(s.y)):
            a, b, c = s.x[k], s.x[k + 1], s.y[k]
            if c > 0 and math.isfinite(c):
                X0, X1 = px(a), px(b)
                Y, Y0 = py(c, s.axis), py(0.0, s.axis)
                pts.append(f'M{X0:.1f} {Y0:.1f}V{Y:.1f}H{X1:.1f}V{Y0:.1f}Z')
        if pts:
            out.append(f'<path d="{"".join(pts)}" fill="{s.color}" fill-opacity="0.75" stroke="none"/>')
        return out
    if s.kind == "scatter":
        parts = []
        for x, y in zip(s.x, s.y):
            if math.isfinite(x) and math.isfinite(y):
                X, Y = px(x), py(y, s.axis)
                parts.append(f"M{X:.1f} {Y:.1f}h0")
        if parts:
            out.append(f'<path d="{"".join(parts)}" stroke="{s.color}" stroke-opacity="{s.opacity}" '
                       f'stroke-width="2.2" stroke-linecap="round" fill="none"/>')
        return out
    segs: list[list[str]] = [[]]
    for x, y in zip(s.x, s.y):
        if math.isfinite(x) and math.isfinite(y):
            segs[-1].append(f"{px(x):.1f},{py(y, s.axis):.1f}")
        elif segs[-1]:
            segs.append([])
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    for seg in segs:
        if len(seg) == 1:
            seg = seg * 2
        if seg:
            out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{s.color}" '
                       f'stroke-width="{s.width}"{dash}/>')
    return out


def _floats(v: Any) -> list[float]:
    try:
        return [float(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
    except TypeError:
        return []


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


CSS = """
svg.chart { max-width: 1100px; display: block; margin: 6px 0 18px; font-family: sans-serif; }
svg.chart .t { font-size: 14px; font-weight: bold; fill: #222; }
svg.chart .g { stroke: #eee; stroke-width: 1; }
svg.chart .xl { font-size: 11px; fill: #555; text-anchor: middle; }
svg.chart .yl { font-size: 11px; fill: #555; text-anchor: end; }
svg.chart .yr { font-size: 11px; fill: #555; text-anchor: start; }
svg.chart .al { font-size: 11px; fill: #333; text-anchor: middle; }
svg.chart .lg { font-size: 11px; fill: #222; }
"""
