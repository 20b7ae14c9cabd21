"""The app attached to a loop that runs elsewhere: fed by its store, steering it through files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import edit_state, latest_trials, read_state
from tests.ui.helpers import pid_alive, settle, wait_until

from tui_researcher.config import load_config
from tui_researcher.events import MonitorSample, Notice
from tui_researcher.store import Store
from tui_researcher.ui.ansi import plain
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.reads import EventFollower
from tui_researcher.ui.source import FileSource
from tui_researcher.ui.widgets.gpu_meters import GpuMeters
from tui_researcher.ui.widgets.memory_log import MemoryPane
from tui_researcher.ui.widgets.plan import PlanPane
from tui_researcher.ui.widgets.status_bar import StatusBar
from tui_researcher.ui.widgets.tool_calls import ToolCallsTable
from tui_researcher.ui.widgets.training_log import TrainingLog

REPO = Path(__file__).resolve().parents[2]


def commands(project: Path) -> list[dict]:
    path = project / "workspace" / "commands.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_replayed_recording_fills_every_pane(replay_app):
    app = replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        main = app.dashboard
        status = main.query_one(StatusBar).render().plain
        assert "cifar-sweep" in status and "cycle 4" in status and "t0004 1:23" in status
        assert "best val_acc 0.931 (t0003)" in status and "48.2k tok · $0.37 today" in status
        assert "A cosine schedule" in main.query_one(PlanPane).query_one("Markdown").source
        gpus = main.query_one(GpuMeters).render().plain
        assert gpus.count("A100-SXM4-80GB") == 1 and "2× A100-SXM4-80GB" in gpus   # the model, named once
        assert "gpu-b  host unreachable" in gpus and "96%" in gpus
        tools = main.query_one(ToolCallsTable)
        assert tools.row_count == 4 and tools.records["c2"].ok is False
        log = [plain(line) for line in main.query_one(TrainingLog).lines]
        assert "val_acc=0.803 loss=0.622 lr=0.0600" in log
        assert "Key Results" in main.query_one(MemoryPane).query_one("Markdown").source


async def test_enter_on_a_tool_call_shows_its_full_arguments_and_result(replay_app):
    app = replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        tools = app.dashboard.query_one(ToolCallsTable)
        tools.focus()
        tools.move_cursor(row=2)
        await pilot.press("enter")
        body = app.screen.query_one("#detail-text").text
        assert "edit_file" in body and "CosineAnnealingLR(opt, T_max=epochs)" in body and "1 replacement" in body
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_attached_keys_write_commands_and_the_directive_file(replay_app, recording):
    app = replay_app(follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.running, what="the running trial")
        await pilot.press("p")
        await pilot.press("v", *"try mixup", "enter")
        await pilot.press("k", "left", "enter")   # "Keep running" is the default: left to "Stop t0004"
        await pilot.press("d", *"keep the seed", "ctrl+s")
        directive = recording / "workspace" / "HUMAN_DIRECTIVE.md"
        await wait_until(pilot, lambda: len(commands(recording)) == 3 and directive.exists(), what="the commands")
    assert commands(recording) == [{"type": "pause"}, {"type": "pivot", "reason": "try mixup"},
                                   {"type": "stop_trial", "trial_id": "t0004"}]
    assert directive.read_text() == "keep the seed\n"


async def test_attached_app_follows_events_appended_after_it_opened(replay_app, recording):
    app = replay_app(follow=True)
    async with app.run_test(size=(160, 48)) as pilot:
        log = app.dashboard.query_one(TrainingLog)
        await wait_until(pilot, lambda: log.line_count > 5, what="the replay")
        store = Store(recording / "workspace" / "researcher.db")   # the controller's connection, elsewhere
        later = MonitorSample(host="gpu-a", lines=(("t0004", "epoch 4 arrived later"),))
        store.append_event(later.to_dict(), later.ts)
        store.close()
        await wait_until(pilot, lambda: plain(log.lines[-1]) == "epoch 4 arrived later", what="the new line")


def test_event_follower_replays_the_tail_then_only_what_is_new(tmp_path):
    writer = Store(tmp_path / "researcher.db")
    for k in range(10):
        writer.append_event(Notice(level="info", text=f"n{k}").to_dict(), float(k))
    reader = Store.reader(tmp_path / "researcher.db")
    follower = EventFollower()

    assert [e.text for e in follower.tail(reader, 3)] == ["n7", "n8", "n9"]
    assert follower.new(reader) == [], "nothing committed since: no query, nothing new"
    writer.append_event(Notice(level="info", text="later").to_dict(), 10.0)
    assert [e.text for e in follower.new(reader)] == ["later"]
    writer.close()
    reader.close()


async def test_a_project_that_never_ran_opens_empty_with_a_notice(recording, xdg_config):
    """No store yet: the app opens on nothing, says why, and waits (it creates no store)."""
    shutil.rmtree(recording / "workspace")
    app = ResearcherApp(FileSource(recording, load_config(recording / "config.yaml"), poll_s=0.05),
                        settings_path=xdg_config / "settings.toml", animate=False)
    async with app.run_test(size=(160, 48)) as pilot:
        status = app.dashboard.query_one(StatusBar)
        await wait_until(pilot, lambda: "no store yet" in status.status.notice, what="the notice")
        await pilot.press("t")
        await pilot.pause()
        assert app.trials.count == 0 and not app.loop_alive
    assert not (recording / "workspace" / "researcher.db").exists()


async def test_quitting_an_attached_app_never_stops_the_loop(slow_project, xdg_config):
    """A real `run --no-ui` in another process; the attached app pauses it, then detaches."""
    controller = subprocess.Popen([sys.executable, "-m", "tui_researcher.cli", "run", str(slow_project), "--no-ui"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=REPO,
                                  start_new_session=True)
    trial_pid = None
    try:
        app = ResearcherApp(FileSource(slow_project, load_config(slow_project / "config.yaml"), poll_s=0.05),
                            settings_path=xdg_config / "settings.toml", animate=False)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: app.running and app.loop_alive, what="the trial, seen through files")
            running = lambda: read_state(slow_project)["running"].get(app.running[0], {}).get("pid")  # noqa: E731
            await wait_until(pilot, running, what="the launch to complete (its pid)")
            trial_pid = running()
            await pilot.press("p")
            await wait_until(pilot, lambda: read_state(slow_project).get("paused"), what="the loop to pause")
            await wait_until(pilot, lambda: app.dashboard.query_one(StatusBar).status.paused, what="PAUSED on screen")
            await pilot.press("q")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.return_code is not None, what="the app to detach")
        assert controller.poll() is None, "detaching must not stop the loop"
        tid = next(iter(latest_trials(slow_project)))
        # still training, or (on a machine slow enough to outlast its minute) ended on its own: never stopped
        assert pid_alive(trial_pid) or latest_trials(slow_project)[tid]["status"] not in ("cancelled", "running")
    finally:
        os.killpg(controller.pid, signal.SIGTERM)
        controller.wait(timeout=30)
        if trial_pid:
            os.killpg(trial_pid, signal.SIGKILL)


async def test_attach_and_status_ask_the_lock_not_the_recorded_pid(tmp_path, xdg_config):
    """The state names a live process (this test's) but no controller holds the project: both faces say
    the loop is not running, and once a controller holds the lock both say it is."""
    from tests.ui.helpers import RECORDING
    from tui_researcher.state import ProjectLock
    from tui_researcher.status import summary, where

    project = tmp_path / "recording"
    shutil.copytree(RECORDING, project)
    edit_state(project, controller_pid=os.getpid(), cycle=42)
    config = load_config(project / "config.yaml")

    async def seen_alive() -> bool:
        app = ResearcherApp(FileSource(project, config, follow=False), settings_path=xdg_config / "settings.toml",
                            animate=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.status.cycle == 42, what="the stored state on screen")
            return app.loop_alive

    assert not await seen_alive()
    assert summary(where(project, None))["controller"] == "not running"
    with ProjectLock(project / "workspace" / ".lock"):
        assert await seen_alive()
        assert summary(where(project, None))["controller"] == "running"


async def test_a_fraction_of_a_cent_shows_on_the_status_line(replay_app, recording):
    """A cheap cycle is not `$0.00`: the status line uses the same money formatter as every message."""
    from tui_researcher.state import Usage

    edit_state(recording, usage=Usage(day=time.strftime("%Y-%m-%d"), tokens_today=1200, usd_today=0.004))
    app = replay_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert "1.2k tok · $0.004 today" in app.dashboard.query_one(StatusBar).render().plain
