"""Snapshots of the dashboard and the trials view, replaying data/recording with a frozen clock,
and of the dashboard with three trials at once (a scripted source).

Update after a deliberate change (and look at the SVGs first): ``pytest tests/ui --snapshot-update``.
"""

from __future__ import annotations

import pytest
from tests.ui.helpers import FROZEN_NOW, parallel_events, parallel_running, settle

from tui_researcher.settings import Settings

SIZE = (160, 48)


async def show_trials(pilot) -> None:
    await settle(pilot)
    await pilot.press("t")
    await pilot.pause()


class TestDashboard:
    def test_dashboard__default_theme(self, snap_compare, replay_app):
        assert snap_compare(replay_app(), terminal_size=SIZE, run_before=settle)

    def test_dashboard__light_theme(self, snap_compare, replay_app):
        assert snap_compare(replay_app("researcher-light"), terminal_size=SIZE, run_before=settle)


class TestTrialsView:
    def test_trials_view__default_theme(self, snap_compare, replay_app):
        assert snap_compare(replay_app(), terminal_size=SIZE, run_before=show_trials)

    def test_trials_view__light_theme(self, snap_compare, replay_app):
        assert snap_compare(replay_app("researcher-light"), terminal_size=SIZE, run_before=show_trials)


def parallel_app(xdg_config):
    """Two trials on GPUs of two hosts and a Slurm job waiting for resources."""
    from tui_researcher.ui.app import ResearcherApp
    from tui_researcher.ui.source import QueueSource, SourceInfo

    source = QueueSource(SourceInfo(project="cifar-sweep", metric="val_acc", hosts=("gpu-a", "gpu-b", "slurm")))
    source.state.running = parallel_running(FROZEN_NOW)
    source.state.phase, source.state.cycle = "monitor", 7
    for event in parallel_events(FROZEN_NOW):
        source.push(event)
    source.close()
    return ResearcherApp(source, settings=Settings(), settings_path=xdg_config / "settings.toml",
                         clock=lambda: FROZEN_NOW, animate=False)


class TestRunningTrials:
    def test_dashboard__parallel_trials(self, snap_compare, xdg_config):
        assert snap_compare(parallel_app(xdg_config), terminal_size=SIZE, run_before=settle)


SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}


async def settle_sweep(pilot) -> None:
    from tests.ui.helpers import wait_until

    await wait_until(pilot, lambda: pilot.app.source_ended, what="the script to end")
    await pilot.pause()


async def sweep_trials_view(pilot) -> None:
    from tests.ui.helpers import wait_until
    from tui_researcher.ui.widgets.metric_plot import MetricPlot

    await settle_sweep(pilot)
    await pilot.press("t")
    await wait_until(pilot, lambda: pilot.app.screen.query(MetricPlot) and pilot.app.screen.query_one(MetricPlot).points,
                     what="the plot's series")
    await pilot.pause()


class TestSizes:
    """Dashboard (a running trial with its progress, 4 GPUs) and trials view (30 trials) at three sizes."""

    @pytest.mark.parametrize("size", SIZES)
    def test_dashboard(self, snap_compare, xdg_config, size):
        from tests.ui.helpers import sweep_app

        assert snap_compare(sweep_app(xdg_config), terminal_size=SIZES[size], run_before=settle_sweep)

    @pytest.mark.parametrize("size", SIZES)
    def test_trials_view(self, snap_compare, xdg_config, size):
        from tests.ui.helpers import sweep_app

        assert snap_compare(sweep_app(xdg_config), terminal_size=SIZES[size], run_before=sweep_trials_view)
