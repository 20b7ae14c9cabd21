"""The ledger: every trial in a table, and the metric over trials with the best-so-far line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer

from ..widgets.metric_plot import MetricPlot
from ..widgets.status_bar import StatusBar
from ..widgets.trials_table import TrialsTable


class TrialsScreen(Screen):
    def __init__(self, *, metric: str, goal: str, status: dict) -> None:
        super().__init__(id="trials")
        self.metric = metric
        self.goal = goal
        self.status_options = status

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status", **self.status_options)
        with Vertical(id="trials-body"):
            table = TrialsTable(goal=self.goal, id="trials-table")
            table.border_title = "Trials"
            yield table
            plot = MetricPlot(metric=self.metric, goal=self.goal, id="metric-plot")
            plot.border_title = f"{self.metric} over trials ({'higher' if self.goal == 'max' else 'lower'} is better)"
            yield plot
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TrialsTable).focus()
