"""ResearcherApp: the full-screen face of the loop, wired to a ``Source`` through the bridge.

It renders what the source reports and sends the same commands as every other face; it owns
no loop logic. With a ``LiveSource`` it runs the controller in a worker of its own event loop;
with a ``FileSource`` it follows a loop that runs elsewhere.

Data flows down: what every screen shows (``status``, the ledger's ``trials`` news) is reactive
data of the app that the screens bind to, and news for one pane goes to the screen that owns the pane. What
each key does is in ``actions.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from textual import on, work
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..errors import ResearcherError
from ..settings import Settings, load_settings
from . import messages as m
from .actions import MAIN, TRIALS, LoopActions
from .bridge import Bridge
from .gauges import short_eta
from .screens.main import MainScreen
from .screens.trials import TrialsScreen
from .reads import TrialNews
from .source import Source
from .themes import VARIABLE_DEFAULTS, choose_theme, load_themes
from .widgets.status_bar import LoopStatus
from ..progress import Progress
from ..trial import TrialStatus


class ResearcherApp(LoopActions):
    CSS_PATH = "app.tcss"
    TITLE = "tui-researcher"
    DEFAULT_MODE = MAIN

    trials: reactive[TrialNews] = reactive(TrialNews, always_update=True)
    """The ledger's latest news: the trial count and the records that just changed (never the whole ledger)."""
    live: reactive[tuple[tuple[str, float], ...]] = reactive(())
    """(trial id, the metric its log said last) for each running trial: the plot's provisional points."""

    def __init__(self, source: Source, *, settings: Settings | None = None, settings_path: Path | None = None,
                 theme_dirs: list[Path] | None = None, clock: Callable[[], float] = time.time,
                 animate: bool = True) -> None:
        problem = ""
        if settings is None:
            settings, problem = load_settings(settings_path)
        super().__init__(source, settings, settings_path)
        self._startup_problems = [problem] if problem else []
        self._themes = load_themes(theme_dirs)   # before the app runs: no file is read on the UI thread
        self.source_ended = False
        info = source.info
        self.set_reactive(ResearcherApp.status, LoopStatus(project=info.project, hosts=info.hosts,
                                                           metric=info.metric, attached=source.attached,
                                                           read_only=source.read_only))
        self.dashboard = MainScreen(info.hosts, log_max_lines=settings.log_max_lines, clock=clock, animate=animate)
        self.add_mode(MAIN, lambda: self.dashboard.data_bind(ResearcherApp.status, ResearcherApp.trials))
        self.add_mode(TRIALS, lambda: self._styled(TrialsScreen(source, metric=info.metric, goal=info.goal,
                                                                clock=clock, animate=animate))
                      .data_bind(ResearcherApp.status, ResearcherApp.trials, ResearcherApp.live))
        self.bridge = Bridge(self, source, max_pending_lines=settings.log_max_lines)

    # start ------------------------------------------------------------------------------------

    def _styled(self, screen: Screen) -> Screen:
        """A mode's new screen is styled as its widgets mount; Textual would also restyle the whole app for
        it (reparsing every stylesheet: a third of the trials view's opening) and never mark it done, so
        every later switch restyled again. Mark it current: a theme changed meanwhile still restyles it."""
        screen._css_update_count = self._css_update_count
        return screen


    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self._register_themes()
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.sub_title = self.source.info.project
        for problem in self._startup_problems:
            self.notify(problem, title="Settings", severity="warning", timeout=10, markup=False)

    def on_unmount(self) -> None:
        self.source.release()

    def on_ready(self) -> None:
        """After the first frame: every pane exists, so events may start to arrive."""
        self._run_bridge()
        if not self.source.attached:
            self._run_loop()

    def _register_themes(self) -> None:
        for theme in self._themes.themes:
            self.register_theme(theme)
        self.theme_names = self._themes.names
        if self._themes.failures:
            self.notify("\n".join(self._themes.failures), title="Theme files not loaded", severity="warning",
                        timeout=15, markup=False)
        theme, problem = choose_theme(self.settings.theme, self.available_themes)
        if problem:
            self.notify(problem, title="Theme", severity="warning", markup=False)
        self.theme = theme
        self.theme_chosen = True   # from now on a change of theme is the user's, and is remembered

    @work(exclusive=True, group="bridge", exit_on_error=False)
    async def _run_bridge(self) -> None:
        await self.bridge.run()

    @work(exclusive=True, group="loop", exit_on_error=False)
    async def _run_loop(self) -> int | None:
        return await self.source.run()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's end or failure is handled."""
        worker = event.worker
        if worker.group == "loop" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._loop_finished(worker)
        elif event.state == WorkerState.ERROR:
            self.notify(f"{worker.name}: {type(worker.error).__name__}: {worker.error}", severity="error",
                        timeout=30, markup=False)

    def _loop_finished(self, worker: Worker) -> None:
        self.loop_alive = False
        self.loop_ended = True
        error = worker.error
        if isinstance(error, ResearcherError):
            self.exit(return_code=error.exit_code, message=f"tui-researcher: {error}")
            return
        if error is not None:
            self.exit_code = 1
            self.notify(f"the loop stopped with an error: {type(error).__name__}: {error}",
                        title="Loop error", severity="error", timeout=30, markup=False)
        else:
            self.exit_code = worker.result or 0
        if self.quitting:
            self.exit(self.exit_code, return_code=self.exit_code)

    # the bridge's messages: set what is shared, hand the rest to the dashboard ----------------------

    def on_loop_phase(self, message: m.LoopPhase) -> None:
        self.set_status(phase=message.phase, cycle=message.cycle, detail=message.detail)

    def on_loop_state(self, message: m.LoopState) -> None:
        state = message.state
        self.paused = state.paused
        if self.source.attached:
            self.loop_alive = message.alive
        self.running = tuple(state.running)
        self.dashboard.show_running(state.running)
        running = tuple((tid, place.started) for tid, place in state.running.items())
        progress = tuple((tid, short_eta(Progress.from_dict(place.progress))) for tid, place in state.running.items()
                         if place.progress)
        best = (state.best_metric, state.best_trial) if state.best_trial and state.best_metric is not None else None
        self.set_status(phase=state.phase, cycle=state.cycle, paused=state.paused, running=running, progress=progress,
                        best=best, tokens_today=state.usage.tokens_today, usd_today=state.usage.usd_today,
                        alive=self.loop_alive)

    def on_trials_changed(self, message: m.TrialsChanged) -> None:
        self.trials = message.news   # the best so far comes with the state (best_trial, best_metric)

    def on_usage_updated(self, message: m.UsageUpdated) -> None:
        self.set_status(tokens_today=message.usage.tokens_today, usd_today=message.usage.usd_today)

    def on_loop_notice(self, message: m.LoopNotice) -> None:
        self.set_status(notice=message.text)
        if message.level == "alert" and self.settings.bell:
            self.bell()    # the alerts that also go out as notifications (alerts.py), heard from another window
        if message.level in ("warning", "error"):
            self.notify(message.text, severity="error" if message.level == "error" else "warning", timeout=8,
                        markup=False)

    def on_source_ended(self) -> None:
        self.source_ended = True
        if not self.source.attached:
            self.loop_alive = False
            self.set_status(alive=False)

    def on_plan_changed(self, message: m.PlanChanged) -> None:
        self.dashboard.show_plan(message.plan)

    def on_decision_made(self, message: m.DecisionMade) -> None:
        self.dashboard.show_decision(message.reflection)

    def on_memory_text(self, message: m.MemoryText) -> None:
        self.dashboard.show_memory(message.text)

    def on_host_sampled(self, message: m.HostSampled) -> None:
        self.dashboard.add_sample(message.sample, message.utilisation)
        live = dict(self.live)
        for reading in message.sample.trials:
            said = [metric for _, metric, _ in reading.points if metric is not None]
            if said:
                live[reading.trial_id] = said[-1]
        live = {tid: value for tid, value in live.items() if tid in self.running}
        if tuple(live.items()) != self.live:
            self.live = tuple(live.items())

    def on_log_lines(self, message: m.LogLines) -> None:
        self.dashboard.add_lines(message.lines, message.dropped)

    def on_tool_activity(self, message: m.ToolActivity) -> None:
        self.dashboard.add_tool_events(message.events)

    def on_trial_started(self, message: m.TrialStarted) -> None:
        self.dashboard.trial_started(message.launched, message.hypothesis)

    def on_trial_ended(self, message: m.TrialEnded) -> None:
        done = message.finished
        self.dashboard.trial_ended(done.trial_id)
        self.live = tuple((tid, value) for tid, value in self.live if tid != done.trial_id)
        if done.status == TrialStatus.DISCARD:
            return   # the trials view and the status line have it; a toast per trial would bury the log
        metric = "" if done.metric is None else f" {self.source.info.metric}={done.metric:.4g}"
        label = f": {done.label}" if done.label else ""
        severity = "information" if done.status == TrialStatus.KEEP else "warning"
        self.notify(f"{done.trial_id} {done.status}{metric}{label}", severity=severity, timeout=3, markup=False)
