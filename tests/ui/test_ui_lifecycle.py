"""How the app starts and ends with the loop it runs."""

from __future__ import annotations

import shutil

from tests.helpers import SAMPLE, latest_trials
from tests.ui.helpers import wait_until

from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.state import ProjectLock
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.screens.main import MainScreen
from tui_researcher.ui.source import LiveSource
from tui_researcher.ui.widgets.status_bar import StatusBar


def sample(tmp_path):
    project = tmp_path / "spirals"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
    return project


async def test_a_project_locked_by_another_controller_exits_with_code_2(tmp_path, xdg_config):
    project = sample(tmp_path)
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    with ProjectLock(controller.paths.lock):
        app = ResearcherApp(LiveSource(controller), animate=False)
        async with app.run_test() as pilot:
            await wait_until(pilot, lambda: app.return_code is not None, what="the app to exit")
    assert app.return_code == 2


async def test_app_stays_open_when_the_loop_finishes_and_q_then_quits_at_once(tmp_path, xdg_config):
    project = sample(tmp_path)
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=2)
    app = ResearcherApp(LiveSource(controller), animate=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.loop_ended, what="the loop to finish its two cycles")
        await wait_until(pilot, lambda: app.screen.query_one(StatusBar).status.phase == "done", what="done on screen")
        assert app.return_code is None and isinstance(app.screen, MainScreen)
        trials = latest_trials(project)                   # two planned trials and their seed re-runs
        assert app.trials.count == len(trials) and sum(1 for t in trials.values() if not t["seed_of"]) == 2
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None, what="the app to exit")
    assert app.return_code == 0
