"""The ledger as a table: id, hypothesis, status in its colour, metric, delta vs the best, duration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from ..formats import format_duration
from ...trial import TrialStatus, better

if TYPE_CHECKING:
    from ...trial import Trial

STATUS_VARIABLE = {
    TrialStatus.KEEP: "trial-keep", TrialStatus.DISCARD: "trial-discard", TrialStatus.RUNNING: "trial-running",
    TrialStatus.PENDING: "trial-pending",
}
"""Statuses with their own colour; every failure (crash, nan, stalled, ...) uses ``trial-crash``."""


def best_metric(trials: "list[Trial]", goal: str) -> float | None:
    best: float | None = None
    for t in trials:
        if t.status == TrialStatus.KEEP and better(t.metric, best, goal):
            best = t.metric
    return best


class TrialsTable(DataTable):
    """One row per trial, oldest first; the screen binds ``trials`` to the ledger."""

    trials: reactive[list[Trial]] = reactive(list, always_update=True)
    """The ledger, folded by id (a new list each time the ledger is read)."""

    class Selected(Message):
        def __init__(self, trial: "Trial") -> None:
            super().__init__()
            self.trial = trial

    def __init__(self, *, goal: str = "max", id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.goal = goal
        self._rendered: dict[str, tuple] = {}

    def on_mount(self) -> None:
        for label, key in (("id", "id"), ("hypothesis", "hypothesis"), ("status", "status"), ("metric", "metric"),
                           ("Δ best", "delta"), ("duration", "duration")):
            self.add_column(label, key=key)
        self.watch(self.app, "theme", self._rebuild, init=False)
        self._rebuild()

    def watch_trials(self) -> None:
        if self.columns:   # before mount the columns are not there yet: on_mount draws the rows
            self._rebuild()

    def _rebuild(self) -> None:
        """Add new rows, update changed ones: a long ledger is not redrawn for every trial."""
        at_end = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        best = best_metric(self.trials, self.goal)
        keys = ("id", "hypothesis", "status", "metric", "delta", "duration")
        seen = set()
        for trial in self.trials:
            seen.add(trial.id)
            cells = self._cells(trial, best)
            signature = tuple((c.plain, str(c.style)) for c in cells)
            previous = self._rendered.get(trial.id)
            if previous is None:
                self.add_row(*cells, key=trial.id)
            elif previous != signature:
                for key, cell in zip(keys, cells, strict=True):
                    self.update_cell(trial.id, key, cell, update_width=key != "hypothesis")
            self._rendered[trial.id] = signature
        for gone in set(self._rendered) - seen:
            del self._rendered[gone]
            self.remove_row(gone)
        if at_end and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def _cells(self, trial: "Trial", best: float | None) -> list[Text]:
        variables = self.app.theme_variables
        colour = variables.get(STATUS_VARIABLE.get(trial.status, "trial-crash"), "")
        status = Text(trial.status, style=f"bold {colour}")
        hypothesis = " ".join(trial.hypothesis.split())
        if len(hypothesis) > 60:
            hypothesis = hypothesis[:59] + "…"
        metric = "–" if trial.metric is None else f"{trial.metric:.4g}"
        if trial.metric is None or best is None:
            delta = Text("–")
        elif trial.metric == best and trial.status == TrialStatus.KEEP:
            delta = Text("best", style=f"bold {variables.get('trial-keep', '')}")
        else:
            delta = Text(f"{trial.metric - best:+.4g}")
        duration = "–" if trial.duration is None else (
            f"{trial.duration:.1f}s" if trial.duration < 60 else format_duration(trial.duration))
        return [Text(trial.id, style="bold"), Text(hypothesis), status, Text(metric, justify="right"), delta,
                Text(duration, justify="right")]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        trial = next((t for t in self.trials if t.id == event.row_key.value), None)
        if trial is not None:
            self.post_message(self.Selected(trial))
