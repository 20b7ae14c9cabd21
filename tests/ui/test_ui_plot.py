"""The trials plot: braille resolution and a y range that follows the best quartile (``r``: full range)."""

from __future__ import annotations

from tests.ui.helpers import open_trials_view, settle, wait_until

from tui_researcher.ui.series import Point
from tui_researcher.ui.widgets.metric_plot import MetricPlot, focus_range, plot_lines

VALUES = [0.61, 0.95, 0.96, 0.97, 0.975, 0.98, 0.9833, 0.9867, 0.99]


def points() -> list[Point]:
    return [Point(row=i + 1, trial_id=f"t{i + 1:04d}", metric=v, status="keep" if v >= 0.98 else "discard")
            for i, v in enumerate(VALUES)]


def mark_rows(lines, width: int) -> list[int]:
    """The text row of each trial's mark: the top non-blank cell of its column (the best-so-far line runs below)."""
    grid = [line.plain for line in lines[:-3]]
    label_w = grid[0].index("┤") + 1
    plot_w = len(grid[0]) - label_w
    found = []
    for k in range(len(VALUES)):
        col = label_w + round(k / (len(VALUES) - 1) * (plot_w * 2 - 1)) // 2
        found.append(min(r for r, line in enumerate(grid) if col < len(line) and line[col] not in " "))
    return found


def test_the_gains_that_matter_do_not_look_flat_beside_an_outlier():
    full = plot_lines(points(), "max", 60, 10, full=True)
    focus = plot_lines(points(), "max", 60, 10, full=False)
    full_rows, focus_rows = mark_rows(full, 60), mark_rows(focus, 60)
    assert full_rows[-3] == full_rows[-2] == full_rows[-1], "the full range squashes 0.9833 → 0.99 into one row"
    assert focus_rows[-3] > focus_rows[-2] > focus_rows[-1], "the best quartile's range tells them apart"
    assert "off the range (r: full range)" in focus[-1].plain
    assert "off the range" not in full[-1].plain
    lo, hi = focus_range(VALUES, "max")
    assert 0.98 < lo < 0.9833 and 0.99 < hi < 1.0


def test_a_minimised_metric_focuses_on_its_lowest_values():
    lo, hi = focus_range([5.0, 0.31, 0.30, 0.29, 0.5, 0.6, 0.7, 0.8], "min")
    assert 0.28 < lo < 0.29 and 0.30 < hi < 0.31


async def test_r_toggles_the_full_range(replay_app):
    app = replay_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = await open_trials_view(pilot, MetricPlot)
        assert plot.full_range is False
        await pilot.press("r")
        assert plot.full_range is True
        await pilot.press("r")
        assert plot.full_range is False
