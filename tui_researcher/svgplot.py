"""The metric over trials as a self-contained SVG: no script, no font file, no stylesheet, so it renders the
same on GitHub, in Obsidian and in a browser. Written by hand (a few dozen elements) rather than by a
plotting library the controller would otherwise never need.

Each point is a ``<circle>`` carrying ``data-trial`` and ``data-metric``, with a ``<title>`` tooltip,
so a reader (and a test) can match every point to its trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 45
COLOURS = {"keep": "#2e7d32", "discard": "#757575", "gated": "#ef6c00"}
FAILED = "#c62828"


@dataclass(frozen=True)
class Point:
    trial: str
    x: int
    """The trial's position in the ledger (1 = the first trial)."""
    metric: float
    status: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def metric_svg(points: list[Point], metric: str, goal: str, title: str = "") -> str:
    """The SVG text: every point, and the best-so-far line of kept trials."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">')
    parts = [head, f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
             f'<text x="{LEFT}" y="18" font-size="14">{escape(title or f"{metric} over trials ({goal})")}</text>']
    if not points:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no trial has a {escape(metric)} '
                     f'yet</text>')
        return "\n".join([*parts, "</svg>"]) + "\n"
    ys = [p.metric for p in points]
    low, high = min(ys), max(ys)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    x_max = max(p.x for p in points)
    x_span = max(1, x_max - 1)

    def sx(x: int) -> float:
        return round(LEFT + (x - 1) / x_span * (WIDTH - LEFT - RIGHT), 2) if x_max > 1 else (LEFT + WIDTH - RIGHT) / 2

    def sy(y: float) -> float:
        return round(TOP + (high - y) / (high - low) * (HEIGHT - TOP - BOTTOM), 2)

    parts += _axes(low, high, x_max, sx, sy, metric)
    parts += _best_line(points, goal, sx, sy)
    for p in points:
        colour = COLOURS.get(p.status, FAILED)
        parts.append(f'<circle cx="{sx(p.x)}" cy="{sy(p.metric)}" r="3.5" fill="{colour}" '
                     f'data-trial={quoteattr(p.trial)} data-metric="{p.metric!r}" data-status={quoteattr(p.status)}>'
                     f'<title>{escape(p.trial)} {escape(p.status)} {escape(metric)}={_fmt(p.metric)}</title></circle>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" fill="#555">'
                 f'<tspan fill="{COLOURS["keep"]}">● kept</tspan> <tspan fill="{COLOURS["discard"]}">● discarded</tspan> '
                 f'<tspan fill="{FAILED}">● failed</tspan> · line: best so far</text>')
    return "\n".join([*parts, "</svg>"]) + "\n"


def _axes(low: float, high: float, x_max: int, sx, sy, metric: str) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>']
    for tick in nice_ticks(low, high):
        y = sy(tick)
        parts += [f'<line x1="{LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="#e0e0e0"/>',
                  f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{_fmt(tick)}</text>']
    for tick in nice_ticks(1, x_max) if x_max > 1 else [1]:
        x = sx(int(tick))
        parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{int(tick)}</text>')
    parts += [f'<text x="{(LEFT + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle">trial</text>',
              f'<text x="16" y="{(TOP + bottom) / 2}" text-anchor="middle" '
              f'transform="rotate(-90 16 {(TOP + bottom) / 2})">{escape(metric)}</text>']
    return parts


def _best_line(points: list[Point], goal: str, sx, sy) -> list[str]:
    """A step line through each new best among kept trials, carried to the last trial."""
    best, steps = None, []
    for p in points:
        if p.status == "keep" and (best is None or (p.metric > best if goal == "max" else p.metric < best)):
            if best is not None:
                steps.append((sx(p.x), sy(best)))
            best = p.metric
            steps.append((sx(p.x), sy(best)))
    if not steps:
        return []
    steps.append((sx(max(p.x for p in points)), steps[-1][1]))
    coords = " ".join(f"{x},{y}" for x, y in steps)
    return [f'<polyline points="{coords}" fill="none" stroke="#2e7d32" stroke-width="1.5"/>']
