"""The key bar at the foot of each screen: whole keys only, a click presses one, the pointer shows its tooltip."""

from __future__ import annotations

from textual.color import Color

from tests.ui.helpers import sweep_app, wait_until

from tui_researcher.ui.screens.main import MainScreen
from tui_researcher.ui.screens.trials import TrialsScreen
from tui_researcher.ui.widgets.key_bar import KeyBar
from tui_researcher.ui.widgets.trials_table import TrialsTable


def bar_keys(app) -> dict[str, object]:
    return {key.display: key for key in app.screen.query_one(KeyBar).shown()}


async def test_a_click_on_a_key_presses_it_and_the_pointer_shows_what_it_does(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.source_ended, what="the script to end")
        keys = bar_keys(app)
        assert {"?", "q", "p", "t"} <= set(keys), keys
        bar = app.screen.query_one(KeyBar)
        line = bar.render().plain
        trials = keys["t"]
        assert line[trials.start:trials.end] == " t Trials "
        assert keys["^p"].end == 160 and line.rstrip().endswith("▏ ^p palette"), "the palette keeps the right end"

        await pilot.hover(KeyBar, offset=(trials.start + 1, 0))
        assert bar.tooltip == "Switch between the dashboard and the trials view"
        await pilot.click(KeyBar, offset=(trials.start + 1, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, TrialsScreen), what="the trials view")
        keys = bar_keys(app)
        assert {"/", "s", "r", "t"} <= set(keys), "the trials view's own keys join the app's"
        await pilot.click(KeyBar, offset=(keys["t"].start + 1, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the dashboard again")


async def test_a_narrow_bar_leaves_keys_out_whole_and_keeps_help_and_quit(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(40, 24)) as pilot:
        await wait_until(pilot, lambda: app.source_ended, what="the script to end")
        bar = app.screen.query_one(KeyBar)
        shown = bar.shown()
        line = bar.render().plain
        assert {"?", "q"} <= {key.display for key in shown}
        assert all(key.end <= 40 for key in shown)
        for key in shown:
            drawn = line[key.start:key.end].removeprefix("▏" if key.separated else "")
            assert drawn.split() == [key.display, *key.description.split()], line
        every = [binding.description for _, binding, _, _ in app.screen.active_bindings.values() if binding.show]
        left_out = [description for description in every if description not in line]
        assert left_out, "at 40 columns some keys must be left out"
        await pilot.resize_terminal(160, 24)
        await wait_until(pilot, lambda: len(bar.shown()) > len(shown), what="the keys left out to come back")


async def test_a_theme_changed_while_the_trials_view_is_hidden_restyles_it(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.source_ended, what="the script to end")
        await pilot.press("t")
        await wait_until(pilot, lambda: app.screen.query(TrialsTable), what="the trials view")
        before = app.screen.styles.background
        await pilot.press("t", "ctrl+t", "ctrl+t")
        await pilot.pause()
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TrialsScreen), what="the trials view again")
        wanted = Color.parse(app.theme_variables["background"])
        await wait_until(pilot, lambda: app.screen.styles.background == wanted, what="the new theme's background")
        assert wanted != before
