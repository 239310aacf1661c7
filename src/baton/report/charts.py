"""SVG charts for reports: lines (optionally log-log), distributions as CDFs, bars."""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#718096")
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 640, 300, 64, 44, 16, 16


def _scale(lo: float, hi: float, log: bool) -> tuple[float, float]:
    if log:
        lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _pos(v: float, lo: float, hi: float, log: bool, size: float) -> float:
    x = math.log10(max(v, 1e-12)) if log else v
    return (x - lo) / (hi - lo) * size


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** e for e in range(math.floor(lo), math.ceil(hi) + 1)]
    step = 10 ** math.floor(math.log10((hi - lo) / 4 or 1))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= 6:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.0e}"
    return f"{v:g}"


def line_chart(series: dict[str, list[tuple[float, float]]], *, x_label: str, y_label: str,
               log_x: bool = False, log_y: bool = False, title: str = "") -> str:
    """Lines with markers, one per series; log axes on request."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return '<p class="muted">No data.</p>'
    x0, x1 = _scale(min(p[0] for p in points), max(p[0] for p in points), log_x)
    y0, y1 = _scale(min(0.0 if not log_y else min(p[1] for p in points),
                        min(p[1] for p in points)), max(p[1] for p in points) * 1.05, log_y)
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    out = [f'<svg viewBox="0 0 {W} {H}" class="chart" role="img" aria-label="{escape(title)}">']
    for t in _ticks(y0, y1, log_y):
        y = PAD_T + ph - _pos(t, y0, y1, log_y, ph)
        if PAD_T - 1 <= y <= PAD_T + ph + 1:
            out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
                       f'class="grid"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" '
                       f'class="tick" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(x0, x1, log_x):
        x = PAD_L + _pos(t, x0, x1, log_x, pw)
        if PAD_L - 1 <= x <= W - PAD_R + 1:
            out.append(f'<text x="{x:.1f}" y="{H - PAD_B + 16}" class="tick" '
                       f'text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{PAD_L + pw / 2}" y="{H - 6}" class="axis" text-anchor="middle">'
               f'{escape(x_label)}</text><text x="14" y="{PAD_T + ph / 2}" class="axis" '
               f'text-anchor="middle" transform="rotate(-90 14 {PAD_T + ph / 2})">'
               f'{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        xy = [(PAD_L + _pos(x, x0, x1, log_x, pw), PAD_T + ph - _pos(y, y0, y1, log_y, ph))
              for x, y in sorted(pts)]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + '"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy]
        out.append(f'<rect x="{PAD_L + 10}" y="{PAD_T + 6 + 16 * i}" width="10" height="10" '
                   f'fill="{colour}"/><text x="{PAD_L + 26}" y="{PAD_T + 15 + 16 * i}" '
                   f'class="legend">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def cdf_chart(samples: dict[str, list[float]], *, x_label: str, log_x: bool = True,
              title: str = "") -> str:
    """Empirical cumulative distributions, one line per sample set."""
    series: dict[str, list[tuple[float, float]]] = {}
    for name, values in samples.items():
        ordered = sorted(v for v in values if not log_x or v > 0)
        if not ordered:
            continue
        step = max(1, len(ordered) // 200)
        pts = [(ordered[i], (i + 1) / len(ordered)) for i in range(0, len(ordered), step)]
        pts.append((ordered[-1], 1.0))
        series[name] = pts
    return line_chart(series, x_label=x_label, y_label="share of cases at or below",
                      log_x=log_x, title=title)


def bar_chart(bars: list[tuple[str, float]], *, y_label: str, title: str = "") -> str:
    """Labelled vertical bars."""
    if not bars:
        return '<p class="muted">No data.</p>'
    top = max(v for _, v in bars) or 1.0
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    bw = pw / len(bars)
    out = [f'<svg viewBox="0 0 {W} {H}" class="chart" role="img" aria-label="{escape(title)}">',
           f'<text x="14" y="{PAD_T + ph / 2}" class="axis" text-anchor="middle" '
           f'transform="rotate(-90 14 {PAD_T + ph / 2})">{escape(y_label)}</text>']
    for i, (label, v) in enumerate(bars):
        h = v / top * ph
        x = PAD_L + i * bw
        out.append(f'<rect x="{x + 4:.1f}" y="{PAD_T + ph - h:.1f}" width="{bw - 8:.1f}" '
                   f'height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{x + bw / 2:.1f}" y="{PAD_T + ph - h - 4:.1f}" class="tick" '
                   f'text-anchor="middle">{_fmt(v)}</text>'
                   f'<text x="{x + bw / 2:.1f}" y="{H - PAD_B + 16}" class="tick" '
                   f'text-anchor="middle">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
