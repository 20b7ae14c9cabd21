"""The ledger: every trial in a table, and the metric over trials with the best-so-far line.

Built the first time `t` is pressed; from then on it stays current by binding, whichever
screen is shown: the status line and the ledger flow down from the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

from ..widgets.metric_plot import MetricPlot
from ..widgets.status_bar import LoopStatus, StatusBar
from ..widgets.trials_table import TrialsTable
from .detail import DetailScreen

if TYPE_CHECKING:
    from ...trial import Trial


class TrialsScreen(Screen):
    status: reactive[LoopStatus] = reactive(LoopStatus)
    trials: reactive[list[Trial]] = reactive(list, always_update=True)

    def __init__(self, *, metric: str, goal: str, clock: Callable[[], float], animate: bool) -> None:
        super().__init__(id="trials")
        self.metric = metric
        self.goal = goal
        self.clock = clock
        self.animate = animate

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status", clock=self.clock, animate=self.animate).data_bind(TrialsScreen.status)
        with Vertical(id="trials-body"):
            table = TrialsTable(goal=self.goal, id="trials-table").data_bind(TrialsScreen.trials)
            table.border_title = "Trials"
            yield table
            plot = MetricPlot(metric=self.metric, goal=self.goal, id="metric-plot").data_bind(TrialsScreen.trials)
            plot.border_title = f"{self.metric} over trials ({'higher' if self.goal == 'max' else 'lower'} is better)"
            yield plot
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TrialsTable).focus()

    @on(TrialsTable.Selected)
    def _show_trial(self, event: TrialsTable.Selected) -> None:
        self.app.push_screen(DetailScreen(f"Trial {event.trial.id}", trial_detail(event.trial)))


def trial_detail(t: Trial) -> str:
    """Everything the ledger knows of one trial, for the detail dialog."""
    lines = [f"status    {t.status}" + (f" ({t.label})" if t.label else ""),
             f"metric    {t.metric if t.metric is not None else '–'}",
             f"params    {t.params}", f"command   {t.command}", f"host      {t.host} pid {t.pid}",
             f"log       {t.log_path}", "", "hypothesis", t.hypothesis, "", "decision", t.decision or "–"]
    return "\n".join(lines)
