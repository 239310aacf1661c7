"""Small server-drawn SVG charts: no script, no external assets."""

from __future__ import annotations

from html import escape

from baton.org.model import Organisation

COLOURS = {"autonomous": "#2f855a", "approval": "#b7791f", "denied": "#c53030",
           "none": "#a0aec0"}


def stacked_bars(buckets: list[tuple[str, dict[str, int]]], *, width: int = 640,
                 height: int = 160) -> str:
    """Bars per bucket stacked by key (e.g. decisions per hour by verdict)."""
    if not buckets:
        return '<p class="muted">No decisions yet.</p>'
    top = max(1, max(sum(v.values()) for _, v in buckets))
    bar = width / len(buckets)
    parts = [f'<svg viewBox="0 0 {width} {height + 18}" class="chart" role="img" '
             f'aria-label="decisions over time">']
    for i, (label, counts) in enumerate(buckets):
        y = float(height)
        for key in ("autonomous", "approval", "denied", "none"):
            n = counts.get(key, 0)
            if not n:
                continue
            h = n / top * (height - 4)
            y -= h
            parts.append(f'<rect x="{i * bar + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[key]}"><title>{escape(label)}: '
                         f'{n} {key}</title></rect>')
        if i % max(1, len(buckets) // 8) == 0:
            parts.append(f'<text x="{i * bar + 1:.1f}" y="{height + 14}" '
                         f'class="tick">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: list[float], edges: list[float], *, unit: str, width: int = 640,
              height: int = 140) -> str:
    """A histogram of values over fixed bucket edges (the last bucket is open)."""
    if not values:
        return '<p class="muted">No measurements yet.</p>'
    counts = [0] * len(edges)
    for v in values:
        i = next((j for j, edge in enumerate(edges) if v <= edge), len(edges) - 1)
        counts[i] += 1
    top = max(counts) or 1
    bar = width / len(edges)
    parts = [f'<svg viewBox="0 0 {width} {height + 18}" class="chart" role="img" '
             f'aria-label="latency histogram">']
    for i, n in enumerate(counts):
        h = n / top * (height - 4)
        label = f"≤{edges[i]:g}{unit}" if i < len(edges) - 1 else f">{edges[-2]:g}{unit}"
        parts.append(f'<rect x="{i * bar + 2:.1f}" y="{height - h:.1f}" width="{bar - 4:.1f}" '
                     f'height="{h:.1f}" fill="#3182ce"><title>{label}: {n}</title></rect>'
                     f'<text x="{i * bar + 2:.1f}" y="{height + 14}" class="tick">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def dependency_graph(org: Organisation, *, highlight: set[str] | None = None) -> str:
    """Services in columns by tier (0 on the left), an edge from each to its dependencies."""
    highlight = highlight or set()
    columns: dict[int, list[str]] = {}
    for s in sorted(org.services, key=lambda s: (s.tier, s.team, s.id)):
        columns.setdefault(s.tier, []).append(s.id)
    col_w, row_h, pad = 260, 16, 20
    rows = max((len(c) for c in columns.values()), default=1)
    width, height = col_w * max(1, len(columns)) + pad, rows * row_h + 2 * pad
    pos = {sid: (pad + tier * col_w, pad + i * row_h)
           for tier, ids in columns.items() for i, sid in enumerate(ids)}
    parts = [f'<svg viewBox="0 0 {width} {height}" class="graph" role="img" '
             f'aria-label="service dependency graph">']
    for s in org.services:
        x1, y1 = pos[s.id]
        for dep in s.dependencies:
            x2, y2 = pos[dep]
            hot = s.id in highlight or dep in highlight
            parts.append(f'<line x1="{x1 + 150}" y1="{y1 - 4}" x2="{x2}" y2="{y2 - 4}" '
                         f'class="{"edge hot" if hot else "edge"}"/>')
    for tier in sorted(columns):
        parts.append(f'<text x="{pad + tier * col_w}" y="12" class="tier">tier {tier}</text>')
    for sid, (x, y) in pos.items():
        cls = "node hot" if sid in highlight else "node"
        parts.append(f'<text x="{x}" y="{y}" class="{cls}">{escape(sid)}</text>')
    parts.append("</svg>")
    return "".join(parts)
