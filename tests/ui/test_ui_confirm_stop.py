"""The stop dialog stays three buttons wide however many trials run, and names the shown trial."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Button

from tui_researcher.ui.screens.confirm_stop import ConfirmStopScreen


class Host(App):
    def __init__(self, screen: ConfirmStopScreen) -> None:
        super().__init__()
        self.dialog = screen
        self.result = "unset"

    def on_mount(self) -> None:
        self.push_screen(self.dialog, lambda value: setattr(self, "result", value))


async def test_stop_dialog_with_six_trials_offers_the_shown_one_and_all():
    running = tuple(f"t000{i}" for i in range(1, 7))
    app = Host(ConfirmStopScreen(running, selected="t0003"))
    async with app.run_test(size=(100, 30)) as pilot:
        labels = [b.label.plain for b in app.screen.query(Button)]
        assert labels == ["Stop t0003", "Stop all 6", "Keep running"]
        await pilot.click("#trial-t0003")
        await pilot.pause()
    assert app.result == "t0003"


async def test_stop_dialog_falls_back_to_the_newest_trial_and_all_means_every_one():
    app = Host(ConfirmStopScreen(("t0001", "t0002"), selected=None))
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.screen.query_one("#trial-t0002", Button)
        await pilot.click("#trial-all")
        await pilot.pause()
    assert app.result == ""
