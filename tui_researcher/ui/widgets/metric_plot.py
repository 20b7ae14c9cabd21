"""The metric over trials, one dot per trial in its status colour, and the best-so-far line.

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

DOT_STYLE = {"keep": "bold $trial-keep", "discard": "$trial-discard"}
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
        return Content("\n").join(plot_lines(points, self.goal, width, height))


def _best_so_far(points: list[Point], goal: str) -> list[float | None]:
    best: float | None = None
    out = []
    for point in points:
        if point.status == TrialStatus.KEEP and better(point.metric, best, goal):
            best = point.metric
        out.append(best)
    return out


def plot_lines(points: list[Point], goal: str, width: int, height: int) -> list[Content]:
    """Dots at each trial's row number (the x axis is the ledger's order), the best-so-far line through them."""
    values = [p.metric for p in points]
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = abs(hi) * 0.05 or 0.001
        lo, hi = lo - pad, hi + pad
    labels = [f"{hi:.4g}", f"{(hi + lo) / 2:.4g}", f"{lo:.4g}"]
    label_w = max(len(s) for s in labels)
    plot_w = max(4, width - label_w - 2)
    plot_h = max(3, height - 3)
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * plot_w for _ in range(plot_h)]

    def row(value: float) -> int:
        return round((hi - value) / (hi - lo) * (plot_h - 1))

    first, last = points[0].row, points[-1].row

    def col(k: int) -> int:
        return round((points[k].row - first) / max(1, last - first) * (plot_w - 1))

    best = _best_so_far(points, goal)
    for k, value in enumerate(best):
        if value is None:
            continue
        end = col(k + 1) if k + 1 < len(points) else plot_w
        for c in range(col(k), max(col(k) + 1, end)):
            grid[row(value)][c] = ("─", BEST_STYLE)
    for k, point in enumerate(points):
        grid[row(point.metric)][col(k)] = ("●", DOT_STYLE.get(point.status, FAIL_STYLE))

    lines = []
    for r, cells in enumerate(grid):
        label = labels[0] if r == 0 else labels[2] if r == plot_h - 1 else labels[1] if r == (plot_h - 1) // 2 else ""
        parts: list = [(f"{label:>{label_w}} ┤" if label else " " * label_w + " │", "$text-muted")]
        parts.extend(_runs(cells))
        lines.append(Content.assemble(*parts))
    lines.append(Content.styled(" " * label_w + " └" + "─" * plot_w, "$text-muted"))
    first_id, last_id = points[0].trial_id, points[-1].trial_id
    gap = " " * max(1, plot_w - len(first_id) - len(last_id))
    axis = f"{first_id}{gap}{last_id}" if len(points) > 1 else first_id
    lines.append(Content.styled(" " * (label_w + 2) + axis, "$text-muted"))
    lines.append(Content.assemble(" " * (label_w + 2), ("● keep", DOT_STYLE["keep"]), "  ",
                                  ("● discard", DOT_STYLE["discard"]), "  ", ("● failed", FAIL_STYLE), "  ",
                                  ("─ best so far", BEST_STYLE)))
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
