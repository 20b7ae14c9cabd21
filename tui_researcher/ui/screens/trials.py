"""The ledger: every trial in a virtual table, and the metric over trials with the best-so-far line.

Built the first time `t` is pressed; from then on it stays current by binding, whichever screen
is shown: the status line and the ledger's news (the count, the trials that changed) flow down
from the app. The table and the plot read what they draw from the source themselves, a page or
a bounded series at a time, so opening the view costs the same at any ledger size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen


from ..arrange import SORTS, Arrangement
from ..reads import TrialNews
from ..series import Point
from ..widgets.metric_plot import MetricPlot
from ..widgets.key_bar import KeyBar
from ..widgets.search_bar import SearchBar
from ..widgets.status_bar import LoopStatus, StatusBar
from ..widgets.trials_table import TrialsTable
from .detail import DetailScreen

if TYPE_CHECKING:
    from ...trial import Trial
    from ..source import Source


class TrialsScreen(Screen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", tooltip="Show the trials whose id, status, hypothesis or params say it"),
        Binding("s", "sort", "Sort", tooltip="Sort by the next column (S: the other way round)"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("r", "toggle_range", "Range", tooltip="The plot's y range: the best quartile, or every trial"),
    ]

    status: reactive[LoopStatus] = reactive(LoopStatus)
    trials: reactive[TrialNews] = reactive(TrialNews, always_update=True)
    live: reactive[tuple[tuple[str, float], ...]] = reactive(())

    def __init__(self, source: Source, *, metric: str, goal: str, clock: Callable[[], float], animate: bool) -> None:
        super().__init__(id="trials")
        self.source = source
        self.clock = clock
        self.animate = animate
        self.search_bar = SearchBar(id="trials-filter")
        self.arrangement = Arrangement()
        self.table = TrialsTable(source.trial_page, id="trials-table")
        self.table.border_title = "Trials"
        self.plot = MetricPlot(source.metric_series, metric=metric, goal=goal, id="metric-plot")
        self.plot.border_title = f"{metric} over trials ({'higher' if goal == 'max' else 'lower'} is better)"

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status", clock=self.clock, animate=self.animate).data_bind(TrialsScreen.status)
        with Vertical(id="trials-body"):
            yield self.table
            yield self.plot
        yield self.search_bar
        yield KeyBar()

    # sort and filter -------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.search_bar.open(self.table, "filter the trials (enter; empty: all)")

    @on(SearchBar.Submitted)
    def _filtered(self, event: SearchBar.Submitted) -> None:
        self.apply_arrangement(replace(self.arrangement, text=event.value.strip()))

    def action_sort(self) -> None:
        keys = list(SORTS)
        following = keys[(keys.index(self.arrangement.key) + 1) % len(keys)]
        self.apply_arrangement(replace(self.arrangement, key=following, descending=False))

    @on(TrialsTable.HeaderClicked)
    def _sort_by_header(self, event: TrialsTable.HeaderClicked) -> None:
        same = event.column == self.arrangement.key
        self.apply_arrangement(replace(self.arrangement, key=event.column,
                                       descending=not self.arrangement.descending if same else False))

    def action_reverse(self) -> None:
        self.apply_arrangement(replace(self.arrangement, descending=not self.arrangement.descending))

    def apply_arrangement(self, arrangement: Arrangement) -> None:
        self.arrangement = arrangement
        self._read_order(arrangement, fresh=True)

    @work(exclusive=True, group="trial-order", exit_on_error=False)
    async def _read_order(self, arrangement: Arrangement, *, fresh: bool = False) -> None:
        """The rows in the arrangement's order, read off the UI thread (none for the ledger's own order)."""
        order = None if arrangement.natural else await self.source.trial_order(arrangement)
        if arrangement != self.arrangement:
            return
        if fresh or order != self.table.order:
            self.table.show_order(order, (arrangement.key, arrangement.descending))
        what = arrangement.describe()
        shown = f" · {len(order)} of {self.table.ledger_count}" if order is not None and arrangement.text else ""
        self.table.border_title = f"Trials · {what}{shown}" if what else "Trials"

    def on_mount(self) -> None:
        self.table.focus()

    def action_toggle_range(self) -> None:
        self.plot.toggle_range()

    def watch_status(self, status: LoopStatus) -> None:
        self.table.show_best(status.best[0] if status.best else None)

    def watch_live(self, live: tuple[tuple[str, float], ...]) -> None:
        self.plot.show_live(live)

    def watch_trials(self, news: TrialNews) -> None:
        self.table.show_count(news.count)
        self.table.show_rows(list(news.rows))
        if not self.arrangement.natural and news.rows:   # a new or changed trial may move, enter or leave
            self._read_order(self.arrangement)
        self.plot.add(point for row, trial in news.rows if (point := Point.of(row, trial)))

    @on(TrialsTable.Selected)
    def _show_trial(self, event: TrialsTable.Selected) -> None:
        self._open_detail(event.trial.id)

    @work(exclusive=True, group="trial-detail", exit_on_error=False)
    async def _open_detail(self, trial_id: str) -> None:
        """The full record with its tool calls and dry-run output, read off the UI thread."""
        trial = await self.source.trial_detail(trial_id)
        if trial is not None:
            log = await self.source.trial_log(trial)
            await self.app.push_screen(DetailScreen(f"Trial {trial.id}", trial_detail(trial, log)))


LOG_LINES = 40
"""Of a past trial's log, the last this many lines in its detail."""


def trial_detail(t: Trial, log: str = "") -> str:
    """Everything the ledger knows of one trial, for the detail dialog: params as a table, its diff and log."""
    lines = [f"status    {t.status}" + (f" ({t.label})" if t.label else ""),
             f"metric    {t.metric if t.metric is not None else '–'}",
             f"command   {t.command}", f"host      {t.host} pid {t.pid}", f"log       {t.log_path}",
             *([f"role      {t.role}"] if t.role else []),
             "", "params", *params_table(t.params), "", "hypothesis", t.hypothesis, "", "decision", t.decision or "–"]
    if t.tool_calls:
        lines += ["", f"tool calls ({len(t.tool_calls)})"]
        lines += [f"  {call.get('tool', '?')} {'ok' if call.get('ok', True) else 'failed'}" for call in t.tool_calls]
    diff, source = code_diff(t)
    if diff:
        lines += ["", f"diff ({source})", *diff]
    output = (t.dry_run or {}).get("output", "")
    if output:
        lines += ["", "dry-run output", output.rstrip()]
    if log:
        tail = log.splitlines()[-LOG_LINES:]
        lines += ["", f"log (last {len(tail)} lines)", *tail]
    return "\n".join(lines)


def params_table(params: dict) -> list[str]:
    """``  lr      0.05``: one parameter a row, names aligned."""
    if not params:
        return ["  –"]
    width = max(len(str(key)) for key in params)
    return [f"  {str(key):<{width}}  {value}" for key, value in params.items()]


def code_diff(t: Trial) -> tuple[list[str], str]:
    """Its code's diff against its parent (the snapshot's, ``tui-researcher diff`` has it whole), or, for a trial
    run before trees, the diffs its worker's file writes recorded."""
    if t.diff:
        return t.diff.rstrip("\n").splitlines(), "against its parent's code"
    written = [line for call in t.tool_calls or () if isinstance(call.get("diff"), str)
               for line in call["diff"].rstrip("\n").splitlines()]
    return written, "its worker's file writes"
