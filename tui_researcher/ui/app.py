"""ResearcherApp: the full-screen face of the loop.

It renders what a ``Source`` reports (through the bridge) and sends the same commands as
every other face. It owns no loop logic: with a ``LiveSource`` it runs the controller in a
worker of its own event loop; with a ``FileSource`` it follows a loop that runs elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..errors import ResearcherError
from ..events import Command, Directive, Pause, Pivot, Quit, Resume, StopTrial
from ..settings import DEFAULT_THEME, Settings, load_settings, save_settings
from . import messages as m
from .bridge import Bridge
from .commands import loop_commands
from .screens.confirm_stop import ConfirmStopScreen
from .screens.detail import DetailScreen
from .screens.directive import DirectiveScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.pivot import PivotScreen
from .screens.quit import DETACH, STOP, QuitScreen
from .screens.trials import TrialsScreen
from .source import Source
from .themes import FALLBACK_THEME, VARIABLE_DEFAULTS, load_themes
from .widgets.gpu_meters import GpuMeters
from .widgets.memory_log import MemoryPane
from .widgets.metric_plot import MetricPlot
from .widgets.plan import PlanPane
from .widgets.running_trials import RunningTrials
from .widgets.status_bar import StatusBar
from .widgets.tool_calls import ToolCallsTable
from .widgets.training_log import TrainingLog
from .widgets.trials_table import TrialsTable, best_metric

MAIN, TRIALS = "main", "trials"
LOOP_ACTIONS = frozenset({"pause", "resume", "pivot", "directive", "stop_trial", "trials", "follow",
                          "next_theme", "help", "request_quit"})
"""Actions that belong to the dashboard: not offered while a dialog is open."""


class ResearcherApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "tui-researcher"
    DEFAULT_MODE = MAIN

    BINDINGS = [
        Binding("p", "pause", "Pause", id="pause", tooltip="Stop planning new trials; running training goes on"),
        Binding("p", "resume", "Resume", id="resume", tooltip="Plan and launch trials again"),
        Binding("v", "pivot", "Pivot", id="pivot", tooltip="The next THINK must change direction"),
        Binding("d", "directive", "Directive", id="directive", tooltip="A directive for the next THINK"),
        Binding("k", "stop_trial", "Stop trial", id="stop_trial", tooltip="Stop the running trial (asks first)"),
        Binding("t", "trials", "Trials", id="trials", tooltip="Switch between the dashboard and the trials view"),
        Binding("f", "follow", "Follow", id="follow", tooltip="Keep the newest log line in view, or stop"),
        Binding("ctrl+t", "next_theme", "Theme", id="next_theme", tooltip="Next theme (remembered)"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key and what it does"),
        Binding("q", "request_quit", "Quit", id="quit", tooltip="Quit, choosing what happens to training"),
        Binding("ctrl+q", "request_quit", "Quit", id="quit_now", show=False, priority=True),
    ]

    paused = reactive(False, bindings=True)
    """Planning is paused (what `p` does next depends on it)."""

    def __init__(self, source: Source, *, settings: Settings | None = None, settings_path: Path | None = None,
                 theme_dirs: list[Path] | None = None, clock: Callable[[], float] = time.time,
                 animate: bool = True) -> None:
        super().__init__()
        self.source = source
        self.settings_path = settings_path
        problem = ""
        if settings is None:
            settings, problem = load_settings(settings_path)
        self.settings = settings
        self._startup_problems = [problem] if problem else []
        self._themes = load_themes(theme_dirs)   # before the app runs: no file is read on the UI thread
        self.theme_names: list[str] = []
        self.clock = clock
        self.animate = animate
        self.trials: list = []
        self.running: tuple[str, ...] = ()
        self.loop_alive = not source.attached
        self.loop_ended = False
        self.source_ended = False
        self.exit_code: int | None = None
        self._quitting = False
        self._log_title = "Training log"
        self._status: dict = {"project": source.info.project, "hosts": source.info.hosts,
                              "metric": source.info.metric, "attached": source.attached}
        self._theme_chosen = False
        self._status_options = {"clock": clock, "animate": animate}
        self._main = MainScreen(source.info.hosts, log_max_lines=settings.log_max_lines, status=self._status_options)
        self._trials_screen: TrialsScreen | None = None
        self.add_mode(MAIN, lambda: self._main)
        self.add_mode(TRIALS, self._make_trials_screen)
        self.bridge = Bridge(self, source, max_pending_lines=settings.log_max_lines)

    def _make_trials_screen(self) -> TrialsScreen:
        """Built the first time `t` is pressed; kept (and kept current) from then on."""
        self._trials_screen = TrialsScreen(metric=self.source.info.metric, goal=self.source.info.goal,
                                           status=self._status_options)
        return self._trials_screen

    # start ------------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self._register_themes()
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.sub_title = self.source.info.project
        for problem in self._startup_problems:
            self.notify(problem, title="Settings", severity="warning", timeout=10, markup=False)

    def on_ready(self) -> None:
        """After the first frame: every pane exists, so events may start to arrive."""
        self._apply_status()
        self._run_bridge()
        if not self.source.attached:
            self._run_loop()

    def _register_themes(self) -> None:
        result = self._themes
        for theme in result.themes:
            self.register_theme(theme)
        self.theme_names = result.names
        if result.failures:
            self.notify("\n".join(result.failures), title="Theme files not loaded", severity="warning", timeout=15,
                        markup=False)
        wanted = self.settings.theme
        if wanted not in self.available_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else FALLBACK_THEME
            if wanted != DEFAULT_THEME:
                self.notify(f"theme {wanted!r} not found; using {fallback}", title="Theme", severity="warning",
                            markup=False)
            wanted = fallback
        self.theme = wanted
        self._theme_chosen = True   # from now on a change of theme is the user's, and is remembered

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
            if self._quitting:
                self.exit(self.exit_code, return_code=self.exit_code)
        elif event.state == WorkerState.ERROR:
            self.notify(f"{worker.name}: {type(worker.error).__name__}: {worker.error}", severity="error",
                        timeout=30, markup=False)

    # messages from the bridge (a pane is queried, not assumed: none is left while the app closes) ----

    def on_loop_phase(self, message: m.LoopPhase) -> None:
        self._set_status(phase=message.phase, cycle=message.cycle, detail=message.detail)

    def on_loop_state(self, message: m.LoopState) -> None:
        state = message.state
        self.paused = state.paused
        if self.source.attached:
            self.loop_alive = message.alive
        self.running = tuple(state.running)
        for table in self._main.query(RunningTrials):
            table.from_state(state.running)
        self._sync_log()
        running = tuple((tid, place.started) for tid, place in state.running.items())
        best = (state.best_metric, state.best_trial) if state.best_trial and state.best_metric is not None else None
        self._set_status(phase=state.phase, cycle=state.cycle, paused=state.paused, running=running, best=best,
                         tokens_today=state.usage.tokens_today, usd_today=state.usage.usd_today,
                         alive=self.loop_alive)

    def on_trials_changed(self, message: m.TrialsChanged) -> None:
        self.trials = message.trials
        for table in self._main.query(RunningTrials):
            table.from_ledger(self.trials)
        if self.trials:
            for pane in self._main.query(PlanPane):
                pane.show_trial(self.trials[-1])
            best = best_metric(self.trials, self.source.info.goal)
            if best is not None:
                trial = next(t for t in reversed(self.trials) if t.status == "keep" and t.metric == best)
                self._set_status(best=(best, trial.id))
        self._show_trials()

    def on_plan_changed(self, message: m.PlanChanged) -> None:
        for pane in self._main.query(PlanPane):
            pane.show_plan(message.plan)
        for table in self._main.query(RunningTrials):
            table.planned(message.plan.trial_id, message.plan.hypothesis)

    def on_decision_made(self, message: m.DecisionMade) -> None:
        for pane in self._main.query(PlanPane):
            pane.show_decision(message.reflection)

    def on_memory_text(self, message: m.MemoryText) -> None:
        for pane in self._main.query(MemoryPane):
            pane.show(message.text)

    def on_usage_updated(self, message: m.UsageUpdated) -> None:
        self._set_status(tokens_today=message.usage.tokens_today, usd_today=message.usage.usd_today)

    def on_host_sampled(self, message: m.HostSampled) -> None:
        sample = message.sample
        for pane in self._main.query(GpuMeters):
            pane.add_sample(sample, message.utilisation)
        if sample.trials:
            for table in self._main.query(RunningTrials):
                table.sampled(sample.host, sample.trials, sample.ts)
            self._sync_log()

    def on_log_lines(self, message: m.LogLines) -> None:
        for pane in self._main.query(TrainingLog):
            pane.add_lines(message.lines, message.dropped)

    def on_tool_activity(self, message: m.ToolActivity) -> None:
        for pane in self._main.query(ToolCallsTable):
            pane.add_events(message.events)

    def on_trial_started(self, message: m.TrialStarted) -> None:
        launched = message.launched
        for table in self._main.query(RunningTrials):
            table.launched(launched.trial_id, launched.host, gpus=launched.gpus, job_id=launched.job_id,
                           at=launched.ts, reattached=launched.reattached, hypothesis=message.hypothesis)
        self._sync_log()

    def on_trial_ended(self, message: m.TrialEnded) -> None:
        done = message.finished
        for table in self._main.query(RunningTrials):
            table.finished(done.trial_id)
        self._sync_log()
        metric = "" if done.metric is None else f" {self.source.info.metric}={done.metric:.4g}"
        label = f": {done.label}" if done.label else ""
        if done.status == "discard":
            return   # the trials view and the status line have it; a toast per trial would bury the log
        severity = "information" if done.status == "keep" else "warning"
        self.notify(f"{done.trial_id} {done.status}{metric}{label}", severity=severity, timeout=3, markup=False)

    def on_loop_notice(self, message: m.LoopNotice) -> None:
        self._set_status(notice=message.text)
        if message.level in ("warning", "error"):
            self.notify(message.text, severity="error" if message.level == "error" else "warning", timeout=8,
                        markup=False)

    def on_source_ended(self, message: m.SourceEnded) -> None:
        self.source_ended = True
        if not self.source.attached:
            self.loop_alive = False
            self._set_status(alive=False)

    @on(RunningTrials.Chosen)
    def _trial_chosen(self, event: RunningTrials.Chosen) -> None:
        self._sync_log(chosen=True)

    def _sync_log(self, *, chosen: bool = False) -> None:
        """The log pane shows the trial the running-trials pane highlights, and its title says which and where.

        When the shown trial has ended, the next one's lines go below its last ones (as with one
        trial at a time); otherwise the pane is redrawn with the other trial's lines. A reader who
        scrolled up is not pulled away by a launch: the trial being read stays chosen.
        """
        tables, logs = self._main.query(RunningTrials), self._main.query(TrainingLog)
        if not tables or not logs:
            return
        table, log = tables.first(), logs.first()
        wanted, current = table.shown, log.shown
        if wanted is not None and wanted != current:
            still_running = current is not None and current in table.trials
            if still_running and not chosen and not log.follow:
                table.choose(current)
            else:
                log.show_trial(wanted, keep=not still_running)
        if log.shown is None:
            title = "Training log"
        elif log.shown in table.trials:
            title = f"Training log · {table.describe(log.shown)}"
        else:
            title = f"Training log · {log.shown} · ended"
        if title != self._log_title:   # host names and ids are text, never markup
            self._log_title = title
            log.border_title = Content(title)

    @on(ToolCallsTable.Selected)
    def _show_tool_call(self, event: ToolCallsTable.Selected) -> None:
        self.push_screen(DetailScreen(f"Tool call {event.record.call_id}", event.record.detail()))

    @on(TrialsTable.Selected)
    def _show_trial(self, event: TrialsTable.Selected) -> None:
        t = event.trial
        lines = [f"status    {t.status}" + (f" ({t.label})" if t.label else ""),
                 f"metric    {t.metric if t.metric is not None else '–'}",
                 f"params    {t.params}", f"command   {t.command}", f"host      {t.host} pid {t.pid}",
                 f"log       {t.log_path}", "", "hypothesis", t.hypothesis, "", "decision", t.decision or "–"]
        self.push_screen(DetailScreen(f"Trial {t.id}", "\n".join(lines)))

    # status, spread over both screens ----------------------------------------------------------

    def _set_status(self, **fields: object) -> None:
        self._status.update(fields)
        self._apply_status()

    def _apply_status(self) -> None:
        for screen in (self._main, self._trials_screen):
            for bar in screen.query(StatusBar) if screen is not None else ():
                for name, value in self._status.items():
                    setattr(bar, name, value)

    def _show_trials(self) -> None:
        screen = self._trials_screen
        if screen is not None:
            for table in screen.query(TrialsTable):
                table.show(self.trials)
            for plot in screen.query(MetricPlot):
                plot.show(self.trials)

    # keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LOOP_ACTIONS and self.screen.is_modal:
            return False
        if action == "pause":
            return not self.paused
        if action == "resume":
            return self.paused
        if action == "follow":
            return self.current_mode == MAIN   # the log is on the dashboard
        return True

    def action_pause(self) -> None:
        self.paused = True
        self._set_status(paused=True)
        self.send(Pause())

    def action_resume(self) -> None:
        self.paused = False
        self._set_status(paused=False)
        self.send(Resume())

    def action_pivot(self) -> None:
        def sent(reason: str | None) -> None:
            if reason is not None:
                self.send(Pivot(reason=reason))
                self.notify("pivot sent: the next THINK must change direction", timeout=4)

        self.push_screen(PivotScreen(), sent)

    def action_directive(self) -> None:
        def sent(text: str | None) -> None:
            if text:
                self.send(Directive(text=text))
                self.notify("directive sent: it is used at the next THINK", timeout=4)

        self.push_screen(DirectiveScreen(), sent)

    def action_stop_trial(self) -> None:
        if not self.running:
            self.notify("no trial is running", severity="warning", timeout=4)
            return

        def chosen(trial_id: str | None) -> None:
            if trial_id is not None:
                self.send(StopTrial(trial_id=trial_id))
                self.notify(f"stopping {trial_id or 'every running trial'}", timeout=4)

        shown = self._main.query_one(TrainingLog).shown if self._main.query(TrainingLog) else None
        self.push_screen(ConfirmStopScreen(self.running, shown), chosen)

    async def action_trials(self) -> None:
        if self.current_mode == TRIALS:
            await self.switch_mode(MAIN)
            return
        await self.switch_mode(TRIALS)
        self._apply_status()
        self._show_trials()

    def action_follow(self) -> None:
        log = self._main.query_one(TrainingLog)
        log.follow = not log.follow

    def action_next_theme(self) -> None:
        names = self.theme_names or [self.theme]
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def watch_theme(self, theme: str) -> None:
        if self._theme_chosen and theme != self.settings.theme:
            self.settings.theme = theme
            self._save_settings()

    @work(exclusive=True, group="settings", thread=True, exit_on_error=False)
    def _save_settings(self) -> None:
        save_settings(self.settings, self.settings_path)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

    def key_help(self) -> list[tuple[str, str, str]]:
        rows = []
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or not binding.show or binding.action == "resume":
                continue
            keys = self.settings.keymap.get(binding.id or "", binding.key)
            description = "Pause / resume" if binding.action == "pause" else binding.description
            rows.append((keys.replace("question_mark", "?"), description, binding.tooltip))
        rows.append(("ctrl+p", "Command palette", "Search every action by name"))
        return rows

    def action_request_quit(self) -> None:
        if self.loop_ended or (self._quitting and not self.source.attached):
            self.exit(self.exit_code or 0, return_code=self.exit_code or 0)
            return

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            if choice == DETACH or self.source.attached:
                self.exit(0)
                return
            self._quitting = True
            self._set_status(stopping=choice == STOP)
            self.send(Quit(leave_training_running=choice != STOP))
            self.notify("stopping training, then quitting…" if choice == STOP else "quitting; training keeps running",
                        timeout=4)

        self.push_screen(QuitScreen(attached=self.source.attached, running=self.running), chosen)

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit: the same choice as q."""
        self.action_request_quit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        yield from loop_commands(self)

    # commands ----------------------------------------------------------------------------

    def send(self, command: Command) -> None:
        if self.source.attached and not self.loop_alive and not isinstance(command, Directive):
            self.notify("no controller is running this project: the command waits in commands.jsonl "
                        "but is only applied by a controller that is running now", severity="warning", timeout=8)
        self._send(command)

    @work(group="commands", exit_on_error=False)
    async def _send(self, command: Command) -> None:
        await self.source.send(command)

