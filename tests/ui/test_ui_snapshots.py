"""Snapshots of the dashboard and the trials view, replaying data/recording with a frozen clock.

Update after a deliberate change (and look at the SVGs first): ``pytest tests/ui --snapshot-update``.
"""

from __future__ import annotations

from tests.ui.helpers import settle

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
