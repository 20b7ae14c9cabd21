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


async def test_the_trials_view_shows_each_trials_role(tmp_path, xdg_config):
    from tests.ui.test_ui_trials_view import attached, make_project, open_trials
    from tui_researcher.ledger import Ledger

    project = make_project(tmp_path, 3)
    store = Store(project / "workspace" / "researcher.db")
    Ledger(store).record(Trial(id="t000004", cycle=4, hypothesis="widen the layer", role="arch",
                               status=TrialStatus.KEEP, metric=0.99), "finished")
    store.close()
    app = attached(project, xdg_config)
    async with app.run_test(size=(140, 30)) as pilot:
        table = await open_trials(pilot)
        await wait_until(pilot, lambda: table.count == 4, what="the four trials")
        lines = ["".join(s.text for s in table.render_line(y)) for y in range(table.size.height)]
        row = next(line for line in lines if "t000004" in line)
        assert "[arch] widen the layer" in row
        assert not any("[" in line for line in lines if "t000001" in line)     # no role, no tag
