"""The app's keys and what each does: a command to the loop, a dialog that leads to one, or a view.

``ResearcherApp`` builds on this class: it keeps the loop's state read here current and makes
the dashboard. Every command goes through ``send``: the same commands any other face sends.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from ..events import Command, Directive, Pause, Pivot, Quit, Resume, StopTrial
from ..settings import Settings, save_settings
from .commands import loop_commands
from .screens.confirm_stop import ConfirmStopScreen
from .screens.directive import DirectiveScreen
from .screens.help import HelpScreen, key_rows
from .screens.hypotheses import HypothesesScreen
from .screens.pivot import PivotScreen
from .screens.quit import DETACH, STOP, QuitScreen
from .widgets.status_bar import LoopStatus, refusal

if TYPE_CHECKING:
    from .screens.main import MainScreen
    from .source import Source

MAIN, TRIALS = "main", "trials"
LOOP_ACTIONS = frozenset({"pause", "resume", "pivot", "directive", "stop_trial", "trials", "follow",
                          "next_theme", "help", "request_quit", "hypotheses"})
"""Actions that belong to the dashboard: not offered while a dialog is open."""


class LoopActions(App[int]):
    BINDINGS = [   # help and quit first: a narrow footer cuts the end of the list, never these two
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key and what it does"),
        Binding("q", "request_quit", "Quit", id="quit", tooltip="Quit, choosing what happens to training"),
        Binding("p", "pause", "Pause", id="pause", tooltip="Stop planning new trials; running training goes on"),
        Binding("p", "resume", "Resume", id="resume", tooltip="Plan and launch trials again"),
        Binding("v", "pivot", "Pivot", id="pivot", tooltip="The next THINK must change direction"),
        Binding("d", "directive", "Directive", id="directive", tooltip="A directive for the next THINK"),
        Binding("k", "stop_trial", "Stop trial", id="stop_trial", tooltip="Stop the running trial (asks first)"),
        Binding("t", "trials", "Trials", id="trials", tooltip="Switch between the dashboard and the trials view"),
        Binding("f", "follow", "Follow", id="follow", tooltip="Keep the newest log line in view, or stop"),
        Binding("ctrl+t", "next_theme", "Theme", id="next_theme", tooltip="Next theme (remembered)"),
        Binding("h", "hypotheses", "Pool", id="hypotheses", show=False,
                tooltip="The hypothesis pool: value, tries, best result, status"),
        Binding("ctrl+q", "request_quit", "Quit", id="quit_now", show=False, priority=True),
    ]

    running: reactive[tuple[str, ...]] = reactive(())
    """Ids of the running trials, as the controller's state last said (open dialogs follow it)."""
    paused = reactive(False, bindings=True)
    """Planning is paused (what `p` does next depends on it)."""
    status: reactive[LoopStatus] = reactive(LoopStatus)
    """What the status line of every screen shows."""

    dashboard: MainScreen
    """The screen with the training log (made by ResearcherApp)."""

    def __init__(self, source: Source, settings: Settings, settings_path: Path | None) -> None:
        super().__init__()
        self.source = source
        self.settings = settings
        self.settings_path = settings_path
        self.theme_names: list[str] = []
        self.theme_chosen = False
        """Themes are registered: a change of theme from now on is the user's, and is remembered."""
        self.loop_alive = not source.attached
        self.loop_ended = False
        self.exit_code: int | None = None
        self.quitting = False
        """The user chose to quit; the app exits when the loop has stopped."""

    def set_status(self, **fields: object) -> None:
        self.status = replace(self.status, **fields)

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
        if self._refused():
            return
        self.paused = True
        self.set_status(paused=True)
        self.send(Pause())

    def action_resume(self) -> None:
        if self._refused():
            return
        self.paused = False
        self.set_status(paused=False)
        self.send(Resume())

    def action_pivot(self) -> None:
        if self._refused():
            return
        def sent(reason: str | None) -> None:
            if reason is not None:
                self.send(Pivot(reason=reason))
                self.notify("pivot sent: the next THINK must change direction", timeout=4)

        self.push_screen(PivotScreen(), sent)

    def action_directive(self) -> None:
        if self.source.read_only and self._refused():
            return

        def sent(text: str | None) -> None:
            if text:
                self.send(Directive(text=text))
                self.notify("directive sent: it is used at the next THINK", timeout=4)

        self.push_screen(DirectiveScreen(), sent)

    def action_stop_trial(self) -> None:
        if self._refused():
            return
        if not self.running:
            self.notify("no trial is running", severity="warning", timeout=4)
            return

        def chosen(trial_id: str | None) -> None:
            if trial_id is not None:
                self.send(StopTrial(trial_id=trial_id))
                self.notify(f"stopping {trial_id or 'every running trial'}", timeout=4)

        self.push_screen(ConfirmStopScreen(self.running, self.dashboard.shown_trial), chosen)

    async def action_trials(self) -> None:
        await self.switch_mode(MAIN if self.current_mode == TRIALS else TRIALS)

    def action_follow(self) -> None:
        self.dashboard.toggle_follow()

    def action_next_theme(self) -> None:
        names = self.theme_names or [self.theme]
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def watch_theme(self, theme: str) -> None:
        if self.theme_chosen and theme != self.settings.theme:
            self.settings.theme = theme
            self._save_settings()

    @work(exclusive=True, group="settings", thread=True, exit_on_error=False)
    def _save_settings(self) -> None:
        save_settings(self.settings, self.settings_path)

    def action_hypotheses(self) -> None:
        self.push_screen(HypothesesScreen(self.source))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

    def key_help(self) -> list[tuple[str, str, str]]:
        return key_rows(LoopActions.BINDINGS, self.settings.keymap)

    def action_request_quit(self) -> None:
        if self.loop_ended or (self.quitting and not self.source.attached):
            self.exit(self.exit_code or 0, return_code=self.exit_code or 0)
            return

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            if choice == DETACH or self.source.attached:
                self.exit(0)
                return
            self.quitting = True
            self.set_status(stopping=choice == STOP)
            self.send(Quit(leave_training_running=choice != STOP))
            self.notify("stopping training, then quitting…" if choice == STOP else "quitting; training keeps running",
                        timeout=4)

        self.push_screen(QuitScreen(attached=self.source.attached, running=self.running), chosen)

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit: the same choice as q."""
        self.action_request_quit()

    def action_help_quit(self) -> None:
        """Ctrl-C (Textual's binding, after a text field's copy): the same choice as q, not a hint."""
        self.action_request_quit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        yield from loop_commands(self)

    # commands ----------------------------------------------------------------------------------

    def _refused(self) -> bool:
        """Keys that steer a loop nobody runs (or a read-only app) do nothing: the status line's banner says why."""
        if refusal(self.status):
            self.bell()
            return True
        return False

    def send(self, command: Command) -> None:
        if self.source.read_only or (refusal(self.status) and not isinstance(command, Directive)):
            return   # refused (the banner says so); a directive waits for the next THINK of any run
        self._send(command)

    @work(group="commands", exit_on_error=False)
    async def _send(self, command: Command) -> None:
        await self.source.send(command)
