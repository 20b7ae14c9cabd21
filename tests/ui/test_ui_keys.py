"""Every key of the app, pressed on a real controller running in the app's loop, and its effect."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import latest_trials
from tests.ui.helpers import live_app, pid_alive, wait_until

from tui_researcher.settings import load_settings
from tui_researcher.ui.screens.confirm_stop import ConfirmStopScreen
from tui_researcher.ui.screens.directive import DirectiveScreen
from tui_researcher.ui.screens.help import HelpScreen
from tui_researcher.ui.screens.main import MainScreen
from tui_researcher.ui.screens.pivot import PivotScreen
from tui_researcher.ui.screens.quit import QuitScreen
from tui_researcher.ui.screens.trials import TrialsScreen
from tui_researcher.ui.widgets.status_bar import StatusBar
from tui_researcher.ui.widgets.training_log import TrainingLog
from tui_researcher.ui.widgets.trials_table import TrialsTable


def trial_status(project: Path, trial_id: str) -> str:
    return latest_trials(project).get(trial_id, {}).get("status", "")


async def test_p_pauses_planning_and_p_again_resumes(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("p")
        await wait_until(live.pilot, lambda: live.controller.state.paused, what="the controller to pause")
        status = live.app.screen.query_one(StatusBar)
        assert status.status.paused and "PAUSED" in status.render().plain
        assert pid_alive(live.pid), "pausing planning must not stop training"

        await live.pilot.press("p")
        await wait_until(live.pilot, lambda: not live.controller.state.paused, what="the controller to resume")
        assert not live.app.screen.query_one(StatusBar).status.paused


async def test_v_records_a_pivot_with_its_reason(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("v")
        assert isinstance(live.app.screen, PivotScreen)
        await live.pilot.press(*"width is saturated", "enter")
        await wait_until(live.pilot, lambda: live.controller.state.pivot, what="the pivot")
        assert live.controller.state.pivot == "width is saturated"
        assert isinstance(live.app.screen, MainScreen)


async def test_v_without_a_reason_still_pivots(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("v", "enter")
        await wait_until(live.pilot, lambda: live.controller.state.pivot, what="the pivot")
        assert live.controller.state.pivot == "change direction"


async def test_d_writes_a_multiline_directive_on_ctrl_s(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        directive = live.controller.paths.directive
        await live.pilot.press("d")
        assert isinstance(live.app.screen, DirectiveScreen)
        await live.pilot.press(*"use a smaller model", "enter", *"and keep the seed")
        await live.pilot.press("ctrl+s")
        await wait_until(live.pilot, directive.exists, what="HUMAN_DIRECTIVE.md")
        assert directive.read_text() == "use a smaller model\nand keep the seed\n"
        assert isinstance(live.app.screen, MainScreen)


async def test_escape_in_the_directive_editor_sends_nothing(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("d", *"never mind", "escape")
        await live.pilot.pause()
        assert isinstance(live.app.screen, MainScreen)
        directive = live.controller.paths.directive   # absent, or the sandbox's empty placeholder while training
        assert not directive.exists() or directive.read_text() == ""


async def test_k_stops_the_running_trial_after_confirmation(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        tid, pid = live.trial_id, live.pid
        await live.pilot.press("k")
        assert isinstance(live.app.screen, ConfirmStopScreen)
        assert live.app.focused.id == "keep", "k then Enter stops nothing"
        await live.pilot.press("left", "enter")
        await wait_until(live.pilot, lambda: trial_status(slow_project, tid) == "cancelled", what="cancelled")
        await wait_until(live.pilot, lambda: not pid_alive(pid), what="the trial's process to end")


async def test_k_then_escape_keeps_the_trial_running(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("k", "escape")
        await live.pilot.pause(0.3)
        assert isinstance(live.app.screen, MainScreen)
        assert live.trial_id in live.controller.state.running and pid_alive(live.pid)


async def test_t_switches_to_the_trials_view_and_back(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("t")
        assert isinstance(live.app.screen, TrialsScreen)
        table = live.app.screen.query_one(TrialsTable)
        await wait_until(live.pilot, lambda: table.count == 1 and table.trial_at(0), what="the trial's row")
        assert table.trial_at(0).status == "running"
        await live.pilot.press("t")
        assert isinstance(live.app.screen, MainScreen)


async def test_f_toggles_log_follow(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        log = live.app.screen.query_one(TrainingLog)
        await wait_until(live.pilot, lambda: log.line_count > 3, what="log lines")
        assert log.follow
        await live.pilot.press("f")
        assert not log.follow and log.border_subtitle.startswith("paused")
        await live.pilot.press("f")
        assert log.follow and log.border_subtitle == "following"


async def test_ctrl_t_switches_theme_and_remembers_it(slow_project, xdg_config):
    settings_path = xdg_config / "settings.toml"
    async with live_app(slow_project, settings_path) as live:
        assert live.app.theme == "researcher-dark"
        await live.pilot.press("ctrl+t")
        assert live.app.theme == "researcher-high-contrast"
        await wait_until(live.pilot, lambda: load_settings(settings_path)[0].theme == "researcher-high-contrast",
                         what="settings.toml to name the theme")


async def test_question_mark_opens_help_listing_every_key(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("question_mark")
        assert isinstance(live.app.screen, HelpScreen)
        keys = {row[0] for row in live.app.screen.keys}
        assert {"p", "v", "d", "k", "t", "f", "ctrl+t", "?", "q", "ctrl+p"} <= keys
        await live.pilot.press("escape")
        assert isinstance(live.app.screen, MainScreen)


async def test_q_by_default_quits_and_leaves_training_running(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        tid, pid = live.trial_id, live.pid
        await live.pilot.press("q")
        assert isinstance(live.app.screen, QuitScreen)
        await live.pilot.press("enter")
        await wait_until(live.pilot, lambda: live.app.return_code is not None, what="the app to exit")
        assert live.app.return_code == 0
        assert live.controller.state.phase == "stopped"
        assert tid in live.controller.state.running and pid_alive(pid)


async def test_q_then_stop_training_stops_the_trial_before_quitting(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        tid, pid = live.trial_id, live.pid
        await live.pilot.press("q", "right", "enter")
        await wait_until(live.pilot, lambda: live.app.return_code is not None, timeout=30, what="the app to exit")
        assert trial_status(slow_project, tid) == "cancelled"
        assert not pid_alive(pid)


async def test_command_palette_offers_the_loop_commands(slow_project, xdg_config):
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("ctrl+p", *"pause planning")
        await live.pilot.pause(0.3)   # the palette searches in a worker
        await live.pilot.press("enter")
        await wait_until(live.pilot, lambda: live.controller.state.paused, what="the controller to pause")


async def test_ctrl_c_asks_as_q_does(slow_project, xdg_config):
    """Ctrl-C is what a terminal user presses first: it opens the quit dialog instead of a hint."""
    async with live_app(slow_project, xdg_config / "settings.toml") as live:
        await live.pilot.press("ctrl+c")
        await wait_until(live.pilot, lambda: isinstance(live.app.screen, QuitScreen), what="the quit dialog")
        await live.pilot.press("escape")
        await wait_until(live.pilot, lambda: not isinstance(live.app.screen, QuitScreen), what="the dialog to close")
        assert live.app.return_code is None and live.trial_id in live.controller.state.running
