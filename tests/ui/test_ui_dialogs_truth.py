"""Dialogs that tell the truth: the running set as it is now, "keep running" by default, refusals said once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.helpers import edit_state
from tests.ui.helpers import FROZEN_NOW, wait_until

from tui_researcher.cli import build_parser
from tui_researcher.config import load_config
from tui_researcher.events import TrialFinished, TrialLaunched
from tui_researcher.settings import Settings
from tui_researcher.trial import RunningTrial
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.screens.confirm_stop import ConfirmStopScreen
from tui_researcher.ui.screens.main import MainScreen
from tui_researcher.ui.screens.quit import QuitScreen
from tui_researcher.ui.source import FileSource, QueueSource, SourceInfo
from tui_researcher.ui.widgets.status_bar import StatusBar


class HeldSource(QueueSource):
    """A scripted loop that runs until the app goes: quitting asks first, as with a real one."""

    async def run(self) -> int:
        await asyncio.Event().wait()
        return 0


def scripted(xdg_config) -> tuple[ResearcherApp, QueueSource]:
    source = HeldSource(SourceInfo(project="demo", metric="val_acc", hosts=("gpu-a",)))
    app = ResearcherApp(source, settings=Settings(), settings_path=xdg_config / "settings.toml",
                        clock=lambda: FROZEN_NOW, animate=False)
    return app, source


def run(source: QueueSource, *ids: str) -> None:
    source.state.running = {tid: RunningTrial(id=tid, host="gpu-a", run_dir=f"runs/{tid}", pid=100 + k,
                                              started=FROZEN_NOW - 60) for k, tid in enumerate(ids)}


async def test_stop_dialog_defaults_to_keep_and_follows_the_running_set(xdg_config):
    app, source = scripted(xdg_config)
    async with app.run_test(size=(120, 30)) as pilot:
        run(source, "t0001", "t0002")
        for tid in ("t0001", "t0002"):
            source.push(TrialLaunched(trial_id=tid, host="gpu-a", pid=1, log_path="x", ts=FROZEN_NOW))
        await wait_until(pilot, lambda: app.running == ("t0001", "t0002"), what="two running")
        await pilot.press("k")
        dialog = app.screen
        assert isinstance(dialog, ConfirmStopScreen) and app.focused.id == "keep"
        run(source, "t0001")   # t0002 ends while the dialog is open
        source.push(TrialFinished(trial_id="t0002", status="keep", metric=0.9))
        await wait_until(pilot, lambda: dialog.running == ("t0001",), what="the dialog to follow")
        await pilot.pause()
        labels = [str(b.label) for b in dialog.query("Button")]
        assert labels == ["Stop t0001", "Keep running"] and app.focused.id == "keep"
        await pilot.press("enter")
        await pilot.pause()
        assert source.sent == [], "Enter on the default stops nothing"
        await pilot.press("k")
        dialog = app.screen
        run(source)
        source.push(TrialFinished(trial_id="t0001", status="keep", metric=0.91))
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the dialog to close")
        assert source.sent == []


async def test_quit_dialog_names_the_trials_running_now(xdg_config):
    app, source = scripted(xdg_config)
    async with app.run_test(size=(120, 30)) as pilot:
        run(source, "t0001")
        source.push(TrialLaunched(trial_id="t0001", host="gpu-a", pid=1, log_path="x", ts=FROZEN_NOW))
        await wait_until(pilot, lambda: app.running == ("t0001",), what="the trial")
        await pilot.press("q")
        dialog = app.screen
        assert isinstance(dialog, QuitScreen)
        text = lambda: str(dialog.query_one("#quit-running").render())  # noqa: E731
        assert text().startswith("Running now: t0001.")
        run(source)
        source.push(TrialFinished(trial_id="t0001", status="keep", metric=0.9))
        await wait_until(pilot, lambda: text().startswith("No trial is running."), what="the dialog to follow")
        await pilot.press("escape")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def commands_file(project: Path) -> Path:
    return project / "workspace" / "commands.jsonl"


async def test_attached_to_a_dead_controller_keys_are_refused_with_one_banner(dead_recording: Path, xdg_config):
    recording = dead_recording
    edit_state(recording, controller_pid=dead_pid())
    app = ResearcherApp(FileSource(recording, load_config(recording / "config.yaml"), poll_s=0.05),
                        settings_path=xdg_config / "settings.toml", animate=False)
    async with app.run_test(size=(160, 40)) as pilot:
        bar = app.dashboard.query_one(StatusBar)
        await wait_until(pilot, lambda: app.running and not bar.status.alive, what="the dead controller")
        await pilot.press("p", "v", "k")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen), "no dialog for a command nobody would apply"
        assert not app.paused and not bar.status.paused, "no PAUSED badge nobody will apply"
        lines = bar.render().plain.splitlines()
        assert lines[1].startswith("no controller is running this project: pause, pivot and stop are refused")
        assert not app._notifications, "the banner, not a toast per key"
    assert not commands_file(recording).exists()


async def test_attach_read_only_sends_no_command_at_all(recording: Path, xdg_config):
    app = ResearcherApp(FileSource(recording, load_config(recording / "config.yaml"), poll_s=0.05, read_only=True),
                        settings_path=xdg_config / "settings.toml", animate=False)
    async with app.run_test(size=(160, 40)) as pilot:
        bar = app.dashboard.query_one(StatusBar)
        await wait_until(pilot, lambda: app.running and bar.status.alive, what="the running loop")
        await pilot.press("p", "v", "k", "d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and not app.paused
        assert "attached · read-only" in bar.render().plain
        await app.source.send(TrialFinished(trial_id="x", status="keep"))   # even a direct send writes nothing
    assert not commands_file(recording).exists()
    assert not (recording / "workspace" / "HUMAN_DIRECTIVE.md").exists()
    assert build_parser().parse_args(["attach", "proj", "--read-only"]).read_only
    assert not build_parser().parse_args(["attach", "proj"]).read_only
