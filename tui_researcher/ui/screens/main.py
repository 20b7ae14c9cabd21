"""The dashboard: plan, tool calls and memory on the left; GPUs, running trials and the training log on the right.

The screen owns its panes. What every screen shares (the status line, the ledger's news) arrives
as reactive data bound down from the app; the loop's news for one pane arrives as a call from
the app (``show_plan``, ``add_lines``, ...), and the screen decides which pane shows it. Which
trial's log is shown is decided here too: the two panes involved never know of each other.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget

from ...progress import metric_points
from ..widgets.gpu_meters import GpuMeters
from ..widgets.key_bar import KeyBar
from ..widgets.memory_log import MemoryPane
from ..widgets.plan import PlanPane
from ..widgets.running_trials import RunningTrials
from ..widgets.search_bar import SearchBar
from ..widgets.status_bar import LoopStatus, StatusBar
from ..widgets.tool_calls import ToolCallsTable
from ..reads import TrialNews
from ..widgets.training_log import TrainingLog
from .detail import DetailScreen

if TYPE_CHECKING:
    from ...events import Event, MonitorSample, PlanProposed, Reflected, TrialLaunched
    from ...trial import RunningTrial

LOG_TITLE = "Training log"

Method = TypeVar("Method", bound=Callable[..., None])


def _while_showing(method: Method) -> Method:
    """News that arrives while the app closes goes nowhere: the panes are being taken down."""

    @functools.wraps(method)
    def guarded(self: "MainScreen", *args: object, **kwargs: object) -> None:
        if self.showing:
            method(self, *args, **kwargs)

    return guarded  # type: ignore[return-value]


class MainScreen(Screen):
    """Owns the dashboard's panes; made once by the app, and kept for the app's life."""

    BINDINGS = [Binding("slash", "search_log", "Search", tooltip="Search the training log (n / N: next, previous)")]

    status: reactive[LoopStatus] = reactive(LoopStatus)
    """Bound from the app; bound on to the status bar."""
    trials: reactive[TrialNews] = reactive(TrialNews, always_update=True)
    """The ledger's news, bound from the app: hypotheses and the plan shown before any plan event."""

    def __init__(self, hosts: tuple[str, ...], *, log_max_lines: int, clock: Callable[[], float],
                 animate: bool) -> None:
        super().__init__(id="main")
        self.plan_pane = PlanPane(id="plan")
        self.tool_calls = ToolCallsTable(id="tools")
        self.memory_pane = MemoryPane(id="memory")
        self.gpu_meters = GpuMeters(hosts, id="gpus")
        self.running_trials = RunningTrials(id="running", clock=clock, animate=animate)
        self.training_log = TrainingLog(max_lines=log_max_lines, id="log")
        self._status_bar = StatusBar(id="status", clock=clock, animate=animate)
        self.search_bar = SearchBar(id="log-search")
        self._log_title = LOG_TITLE
        self._best_id = ""

    def compose(self) -> ComposeResult:
        yield self._status_bar.data_bind(MainScreen.status)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield _titled(self.plan_pane, "Leader plan")
                yield _titled(self.tool_calls, "Worker tool calls")
                yield _titled(self.memory_pane, "Memory log")
            with Vertical(id="right"):
                yield _titled(self.gpu_meters, "GPUs")
                yield self.running_trials
                yield _titled(self.training_log, LOG_TITLE)
        yield self.search_bar
        yield KeyBar()

    def action_search_log(self) -> None:
        self.search_bar.open(self.training_log, "search the log (enter; n / N next, previous)")

    @on(SearchBar.Submitted)
    def _search(self, event: SearchBar.Submitted) -> None:
        if not self.training_log.search(event.value) and event.value.strip():
            self.app.notify(f"not in the log: {event.value.strip()}", severity="warning", timeout=3, markup=False)

    def on_mount(self) -> None:
        self.training_log.focus()
        self.call_after_refresh(lambda: self.watch_status(self.status))   # a best known before the panes were up

    # the loop's news, handed on by the app -----------------------------------------------------

    @property
    def showing(self) -> bool:
        """The panes are up: composed, and not being taken down with the app."""
        return self.is_mounted and self.is_attached

    def watch_status(self, status: LoopStatus) -> None:
        best = status.best[1] if status.best else ""
        if best != self._best_id and self.showing:
            self._best_id = best
            self._load_best_curve(best)

    @work(exclusive=True, group="best-curve", exit_on_error=False)
    async def _load_best_curve(self, trial_id: str) -> None:
        """The best run's curve, read once per new best: the running trials are drawn beside it."""
        rows = await self.app.source.trial_rows([trial_id]) if trial_id else []
        curve = metric_points(rows[0][1].curve) if rows else []
        self.running_trials.show_best(trial_id, curve)

    def watch_trials(self, news: TrialNews) -> None:
        if not self.showing:
            return
        self.running_trials.from_ledger([trial for _, trial in news.rows])
        newest = next((trial for row, trial in news.rows if row == news.count), None)
        if newest is not None:
            self.plan_pane.show_trial(newest)

    @_while_showing
    def show_running(self, running: dict[str, RunningTrial]) -> None:
        """The controller's own list of running trials (``state.running``)."""
        self.running_trials.from_state(running)
        self._sync_log()

    @_while_showing
    def show_plan(self, plan: PlanProposed) -> None:
        self.plan_pane.show_plan(plan)
        self.running_trials.planned(plan.trial_id, plan.hypothesis)

    @_while_showing
    def show_decision(self, reflection: Reflected) -> None:
        self.plan_pane.show_decision(reflection)

    @_while_showing
    def show_memory(self, text: str) -> None:
        self.memory_pane.show(text)

    @_while_showing
    def add_sample(self, sample: MonitorSample, utilisation: dict[int, tuple[float, ...]]) -> None:
        self.gpu_meters.add_sample(sample, utilisation)
        if sample.trials:
            self.running_trials.sampled(sample.host, sample.trials, sample.ts)
            self._sync_log()

    @_while_showing
    def add_lines(self, lines: list[tuple[str, str]], dropped: int) -> None:
        self.training_log.add_lines(lines, dropped)

    @_while_showing
    def add_tool_events(self, events: Iterable[Event]) -> None:
        self.tool_calls.add_events(list(events))

    @_while_showing
    def trial_started(self, launched: TrialLaunched, hypothesis: str) -> None:
        self.running_trials.launched(launched.trial_id, launched.host, gpus=launched.gpus, job_id=launched.job_id,
                              at=launched.ts, reattached=launched.reattached, hypothesis=hypothesis)
        self._sync_log()

    @_while_showing
    def trial_ended(self, trial_id: str) -> None:
        self.running_trials.finished(trial_id)
        self._sync_log()

    def toggle_follow(self) -> None:
        self.training_log.follow = not self.training_log.follow

    @property
    def shown_trial(self) -> str | None:
        """The trial whose log is on screen (what `k` offers to stop)."""
        return self.training_log.shown

    # which trial's log --------------------------------------------------------------------------

    @on(RunningTrials.Chosen)
    def _trial_chosen(self) -> None:
        self._sync_log(chosen=True)

    def _sync_log(self, *, chosen: bool = False) -> None:
        """The log pane shows the trial the running-trials pane highlights, and its title says which and where.

        When the shown trial has ended, the next one's lines go below its last ones (as with one
        trial at a time); otherwise the pane is redrawn with the other trial's lines. A reader who
        scrolled up is not pulled away by a launch: the trial being read stays chosen.
        """
        table, log = self.running_trials, self.training_log
        wanted, current = table.shown, log.shown
        if wanted is not None and wanted != current:
            still_running = current is not None and current in table.trials
            if still_running and not chosen and not log.follow:
                table.choose(current)
            else:
                log.show_trial(wanted, keep=not still_running)
        if log.shown is None:
            title = LOG_TITLE
        elif log.shown in table.trials:
            title = f"{LOG_TITLE} · {table.describe(log.shown)}"
        else:
            title = f"{LOG_TITLE} · {log.shown} · ended"
        if title != self._log_title:   # host names and ids are text, never markup
            self._log_title = title
            log.border_title = Content(title)

    @on(ToolCallsTable.Selected)
    def _show_tool_call(self, event: ToolCallsTable.Selected) -> None:
        self.app.push_screen(DetailScreen(f"Tool call {event.record.call_id}", event.record.detail()))


def _titled(widget: Widget, title: str) -> Widget:
    widget.border_title = title
    return widget
