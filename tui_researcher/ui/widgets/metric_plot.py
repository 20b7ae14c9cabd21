"""The metric over trials, one dot per trial in its status colour, and the best-so-far line.

Drawn in braille dots (four steps per row), over the best quartile's range by default so that
0.9833 → 0.9867 → 0.99 do not look flat beside one outlier at 0.61; ``r`` shows the full range.

It draws a bounded ``Series`` (at most about 500 points, every kept trial among them), read by
the source off the UI thread when the view opens and then grown by the trials the loop finishes:
drawing costs the same at 100,000 trials as at 100.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Iterable

from textual import work
from textual.content import Content
from textual.widget import Widget

from ...trial import TrialStatus, better
from ..series import Point, Series

LIVE = "live"
"""A running trial's provisional point: the metric its log said last."""
DOT_STYLE = {"keep": "bold $trial-keep", "discard": "$trial-discard", "pruned": "$trial-discard",
             LIVE: "bold $trial-running"}
FAIL_STYLE = "$trial-crash"
BEST_STYLE = "$plot-best"


class MetricPlot(Widget):
    """Reads its series once mounted; ``add`` puts in newly finished trials."""

    def __init__(self, series: Callable[[], Awaitable[Series]], *, metric: str = "metric", goal: str = "max",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._read_series = series
        self.metric = metric
        self.goal = goal
        self.series: Series | None = None
        """None until the first read arrives."""
        self._early: list[Point] = []
        """Points that finished while the first read was under way."""
        self.full_range = False
        """False: the y range follows the best quartile (``r`` toggles)."""
        self.live: tuple[tuple[str, float], ...] = ()

    def show_live(self, live: tuple[tuple[str, float], ...]) -> None:
        """Running trials' latest metric: provisional points, drawn after the finished ones."""
        if live != self.live:
            self.live = live
            self.refresh()

    def toggle_range(self) -> None:
        self.full_range = not self.full_range
        self.refresh()

    def on_mount(self) -> None:
        self._load()

    @work(exclusive=True, group="metric-series", exit_on_error=False)
    async def _load(self) -> None:
        series = await self._read_series()
        series.extend(self._early)
        self._early.clear()
        self.series = series
        self.refresh()

    def add(self, points: Iterable[Point]) -> None:
        points = list(points)
        if self.series is None:
            self._early.extend(points)
        elif points:
            self.series.extend(points)
            self.refresh()

    @property
    def points(self) -> list[Point]:
        return self.series.points if self.series else []

    def render(self) -> Content:
        width, height = self.content_size
        points = self.points
        if not points:
            return Content.styled(f"No finished trial with a {self.metric} yet.", "$text-muted")
        last = points[-1].row
        live = [Point(last + k, tid, value, LIVE) for k, (tid, value) in enumerate(self.live, start=1)]
        return Content("\n").join(plot_lines(points + live, self.goal, width, height, full=self.full_range))


def _best_so_far(points: list[Point], goal: str) -> list[float | None]:
    best: float | None = None
    out = []
    for point in points:
        if point.status == TrialStatus.KEEP and better(point.metric, best, goal):
            best = point.metric
        out.append(best)
    return out


BRAILLE = 0x2800
DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
"""Braille dot bits by (sub-row, sub-column): each cell is 2 dots wide and 4 high."""
RANK = {BEST_STYLE: 0, "$text-muted": 1, FAIL_STYLE: 2, DOT_STYLE["discard"]: 3, DOT_STYLE["keep"]: 4,
        DOT_STYLE[LIVE]: 5}
"""Which style a cell takes when dots of several share it: a kept trial shows over the rest."""
FOCUS_MIN_POINTS = 8
"""Fewer trials: the full range (a quartile of a handful says little)."""


def focus_range(values: list[float], goal: str) -> tuple[float, float]:
    """The best quartile's span (padded): where the gains that matter are, without an outlier's squash."""
    ranked = sorted(values, reverse=goal == "max")
    best = ranked[:max(2, -(-len(ranked) // 4))]
    lo, hi = min(best), max(best)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.001 or 0.001
    return lo - pad, hi + pad


def plot_lines(points: list[Point], goal: str, width: int, height: int, *, full: bool = True) -> list[Content]:
    """Dots at each trial's row number (the x axis is the ledger's order), the best-so-far line through them.

    Braille dots: four steps per text row, two per column. ``full=False`` ranges over the best
    quartile; trials outside it sit on the edge in a muted colour, counted in the legend.
    """
    values = [p.metric for p in points]
    lo, hi = min(values), max(values)
    if not full and len(points) >= FOCUS_MIN_POINTS:
        lo, hi = max(lo, focus_range(values, goal)[0]), min(hi, focus_range(values, goal)[1])
    if hi == lo:
        pad = abs(hi) * 0.05 or 0.001
        lo, hi = lo - pad, hi + pad
    labels = [f"{hi:.4g}", f"{(hi + lo) / 2:.4g}", f"{lo:.4g}"]
    label_w = max(len(s) for s in labels)
    plot_w = max(4, width - label_w - 2)
    plot_h = max(3, height - 3)
    dots = [[0] * plot_w for _ in range(plot_h)]
    styles: list[list[str]] = [[""] * plot_w for _ in range(plot_h)]
    outside = 0

    def put(sx: int, value: float, style: str, *, mark: bool = False) -> None:
        """One dot of the line; a trial is a mark two dots high and a cell wide, so it shows."""
        top = plot_h * 4 - (2 if mark else 1)
        sy = min(top, max(0, round((hi - value) / (hi - lo) * top)))
        for y in (sy, sy + 1) if mark else (sy,):
            r, c = y // 4, sx // 2
            dots[r][c] |= (DOT_BITS[y % 4][0] | DOT_BITS[y % 4][1]) if mark else DOT_BITS[y % 4][sx % 2]
            if RANK.get(style, 0) >= RANK.get(styles[r][c], -1):
                styles[r][c] = style

    first, last = points[0].row, points[-1].row

    def sub_col(k: int) -> int:
        return round((points[k].row - first) / max(1, last - first) * (plot_w * 2 - 1))

    best = _best_so_far(points, goal)
    for k, value in enumerate(best):
        if value is not None:
            end = sub_col(k + 1) if k + 1 < len(points) else plot_w * 2
            for sx in range(sub_col(k), max(sub_col(k) + 1, end)):
                put(sx, value, BEST_STYLE)
    for k, point in enumerate(points):
        off = not lo <= point.metric <= hi
        outside += off
        put(sub_col(k), point.metric, "$text-muted" if off else DOT_STYLE.get(point.status, FAIL_STYLE), mark=True)

    lines = []
    for r in range(plot_h):
        label = labels[0] if r == 0 else labels[2] if r == plot_h - 1 else labels[1] if r == (plot_h - 1) // 2 else ""
        parts: list = [(f"{label:>{label_w}} ┤" if label else " " * label_w + " │", "$text-muted")]
        parts.extend(_runs([(chr(BRAILLE + bits) if bits else " ", styles[r][c]) for c, bits in enumerate(dots[r])]))
        lines.append(Content.assemble(*parts))
    lines.append(Content.styled(" " * label_w + " └" + "─" * plot_w, "$text-muted"))
    first_id, last_id = points[0].trial_id, points[-1].trial_id
    gap = " " * max(1, plot_w - len(first_id) - len(last_id))
    axis = f"{first_id}{gap}{last_id}" if len(points) > 1 else first_id
    lines.append(Content.styled(" " * (label_w + 2) + axis, "$text-muted"))
    legend: list = [" " * (label_w + 2), ("⠶ keep", DOT_STYLE["keep"]), "  ", ("⠶ discard", DOT_STYLE["discard"]),
                    "  ", ("⠶ failed", FAIL_STYLE), "  ", ("⠒ best so far", BEST_STYLE)]
    if any(p.status == LIVE for p in points):
        legend += ["  ", ("⠶ running (so far)", DOT_STYLE[LIVE])]
    if outside:
        legend += ["  ", (f"{outside} off the range (r: full range)", "$text-muted")]
    elif not full and len(points) >= FOCUS_MIN_POINTS:
        legend += ["  ", ("r: full range", "$text-muted")]
    lines.append(Content.assemble(*legend))
    return lines


def _runs(cells: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge neighbouring cells of one style: fewer spans to draw."""
    runs: list[tuple[str, str]] = []
    for char, style in cells:
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + char, style)
        else:
            runs.append((char, style))
    return runs
