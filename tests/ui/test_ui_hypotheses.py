"""Key h: the hypothesis pool in the app, read from the store as `tui-researcher hypotheses` reads it."""

from __future__ import annotations

from tests.ui.helpers import wait_until

from tui_researcher.hypotheses import Pool, Proposal
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus
from tui_researcher.ui.screens.hypotheses import HypothesesScreen
from tui_researcher.ui.screens.main import MainScreen


def cells(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_h_shows_the_pool_with_value_tries_best_and_status(recording, replay_app):
    store = Store(recording / "workspace" / "researcher.db")
    pool = Pool(store, pool_max=3)
    a, b, _ = pool.add([Proposal("wider layer", utility=0.9, quality=0.8, exploration=0.7, role="arch"),
                        Proposal("lower lr", utility=0.1, quality=0.1, exploration=0.1),
                        Proposal("cosine schedule", utility=0.5, quality=0.5, exploration=0.5)])
    pool.started(pool.choose("ucb", 0.5), "t9001")
    pool.finished(Trial(id="t9001", cycle=1, status=TrialStatus.KEEP, metric=0.97))
    pool.pool_max = 2
    pool.add([Proposal("more epochs", utility=0.6, quality=0.6, exploration=0.6)])     # retires the lowest
    store.close()

    app = replay_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HypothesesScreen), what="the pool view")
        table = app.screen.query_one("#hypotheses-table")
        await wait_until(pilot, lambda: table.row_count == 4, what="the pool's rows")
        rows = {r[-1]: r for r in cells(table)}
        assert rows["wider layer"][:7] == [f"h{a}", "arch", "done", "0.90", "0.9/0.8/0.7", "1", "0.97"]
        assert rows["lower lr"][2].startswith("retired (pool full")
        assert rows["more epochs"][2] == "open" and list(rows)[0] == "more epochs"      # newest first
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the dashboard again")
