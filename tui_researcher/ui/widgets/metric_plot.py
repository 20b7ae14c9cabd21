"""The metric over trials, one dot per trial in its status colour, and the best-so-far line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from ...trial import TrialStatus, better

if TYPE_CHECKING:
    from ...trial import Trial

DOT_STYLE = {"keep": "bold $trial-keep", "discard": "$trial-discard"}
FAIL_STYLE = "$trial-crash"
BEST_STYLE = "$plot-best"


class MetricPlot(Widget):
    """Redrawn whenever ``trials`` (bound to the ledger by the screen) changes."""

    trials: reactive[list[Trial]] = reactive(list, always_update=True)

    def __init__(self, *, metric: str = "metric", goal: str = "max", id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self.goal = goal

    @property
    def points(self) -> list[tuple[str, float, str]]:
        """(trial id, metric, status) of every finished trial with a metric."""
        return [(t.id, t.metric, t.status) for t in self.trials if t.metric is not None and not t.active]

    def render(self) -> Content:
        width, height = self.content_size
        points = self.points
        if not points:
            return Content.styled(f"No finished trial with a {self.metric} yet.", "$text-muted")
        return Content("\n").join(plot_lines(points, self.goal, width, height))


def _best_so_far(points: list[tuple[str, float, str]], goal: str) -> list[float | None]:
    best: float | None = None
    out = []
    for _, value, status in points:
        if status == TrialStatus.KEEP and better(value, best, goal):
            best = value
        out.append(best)
    return out


def plot_lines(points: list[tuple[str, float, str]], goal: str, width: int, height: int) -> list[Content]:
    values = [v for _, v, _ in points]
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

    def col(k: int) -> int:
        return round(k / max(1, len(points) - 1) * (plot_w - 1))

    best = _best_so_far(points, goal)
    for k, value in enumerate(best):
        if value is None:
            continue
        end = col(k + 1) if k + 1 < len(points) else plot_w
        for c in range(col(k), max(col(k) + 1, end)):
            grid[row(value)][c] = ("─", BEST_STYLE)
    for k, (_, value, status) in enumerate(points):
        grid[row(value)][col(k)] = ("●", DOT_STYLE.get(status, FAIL_STYLE))

    lines = []
    for r, cells in enumerate(grid):
        label = labels[0] if r == 0 else labels[2] if r == plot_h - 1 else labels[1] if r == (plot_h - 1) // 2 else ""
        parts: list = [(f"{label:>{label_w}} ┤" if label else " " * label_w + " │", "$text-muted")]
        parts.extend(_runs(cells))
        lines.append(Content.assemble(*parts))
    lines.append(Content.styled(" " * label_w + " └" + "─" * plot_w, "$text-muted"))
    first, last = points[0][0], points[-1][0]
    axis = f"{first}{' ' * max(1, plot_w - len(first) - len(last))}{last}" if len(points) > 1 else first
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
