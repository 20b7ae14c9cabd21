"""The training log: ``/`` searches, ``n`` / ``N`` jump between matches, ``g`` / ``G`` go to the ends."""

from __future__ import annotations

from tests.ui.helpers import settle, wait_until

from tui_researcher.ui.ansi import plain
from tui_researcher.ui.widgets.search_bar import SearchBar
from tui_researcher.ui.widgets.training_log import TrainingLog


async def test_slash_searches_the_log_and_n_N_g_G_move(replay_app):
    app = replay_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        log = app.dashboard.query_one(TrainingLog)
        lines = [plain(line) for line in log.lines]
        hits = [i for i, line in enumerate(lines) if "val_acc" in line]
        assert len(hits) == 3
        await pilot.press("slash")
        bar = app.dashboard.query_one(SearchBar)
        assert bar.display and app.focused is bar
        await pilot.press(*"VAL_ACC", "enter")
        await wait_until(pilot, lambda: log.match is not None and not bar.display, what="the first match")
        assert log.match == hits[0] and not log.follow and app.focused is log
        await pilot.press("n")
        assert log.match == hits[1]
        await pilot.press("n", "n")
        assert log.match == hits[0], "n wraps round to the first match"
        await pilot.press("N")
        assert log.match == hits[2]
        await pilot.press("g")
        assert log.scroll_y == 0 and not log.follow
        await pilot.press("G")
        assert log.follow
        await pilot.press("slash", *"no such line", "enter")
        await wait_until(pilot, lambda: not bar.display, what="the bar to close")
        assert log.match is None
        await pilot.press("slash", "escape")
        assert not bar.display and app.focused is log
