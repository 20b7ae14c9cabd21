"""Sort by any column and ``/`` filter in the trials view: the same order from the store and from a list."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.ui.helpers import FROZEN_NOW, sweep_app, sweep_trials, wait_until

from tui_researcher.ledger import Ledger
from tui_researcher.store import Store
from tui_researcher.ui.arrange import SORTS, Arrangement, list_order, store_order
from tui_researcher.ui.widgets.trials_table import TrialsTable


@pytest.fixture
def sweep_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "researcher.db")
    ledger = Ledger(store)
    for trial in sweep_trials(FROZEN_NOW):
        ledger.record(trial, "finished")
    return store


@pytest.mark.parametrize("key", list(SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_store_and_list_agree_on_every_sort(sweep_store, key, descending):
    trials = sweep_trials(FROZEN_NOW)
    arrangement = Arrangement(key=key, descending=descending)
    assert store_order(sweep_store, arrangement) == list_order(trials, arrangement)


def test_metric_sort_puts_trials_without_a_metric_last_both_ways(sweep_store):
    trials = sweep_trials(FROZEN_NOW)
    for descending in (False, True):
        order = store_order(sweep_store, Arrangement(key="metric", descending=descending))
        metrics = [trials[row - 1].metric for row in order]
        known = [m for m in metrics if m is not None]
        assert metrics[:len(known)] == sorted(known, reverse=descending) and set(metrics[len(known):]) == {None}


def test_filter_matches_id_status_hypothesis_and_params_not_json_keys(sweep_store):
    trials = sweep_trials(FROZEN_NOW)
    mixup = store_order(sweep_store, Arrangement(text="MIXUP"))
    assert mixup == [k + 1 for k, t in enumerate(trials) if t.params["aug"] == "mixup"]
    assert store_order(sweep_store, Arrangement(text="crash")) == [7, 14, 21, 28]
    assert store_order(sweep_store, Arrangement(text="t0012")) == [12]
    assert store_order(sweep_store, Arrangement(text="100%_")) == [], "% and _ are text, not wildcards"
    assert store_order(sweep_store, Arrangement(text="metric")) == [], "the record's keys are not searched"


async def open_sweep_table(pilot, app) -> TrialsTable:
    """The trials view of the 30-trial sweep once its script has ended and its rows are in."""
    await wait_until(pilot, lambda: app.source_ended, what="the script")
    await pilot.press("t")
    table = await wait_until(pilot, lambda: app.screen.query(TrialsTable).first()
                             if app.screen.query(TrialsTable) else None, what="the trials view")
    await wait_until(pilot, lambda: table.count == 30 and table.trial_at(0), what="the rows")
    return table


async def test_s_sorts_S_reverses_and_slash_filters_the_table(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_sweep_table(pilot, app)
        await pilot.press("s", "s")   # id -> status -> metric
        await wait_until(pilot, lambda: table.sort == ("metric", False), what="the metric order")
        await wait_until(pilot, lambda: table.trial_at(0) is not None, what="the first row")
        assert table.trial_at(0).id == "t0001" and table.border_title == "Trials · by metric ▲"
        await pilot.press("S")
        await wait_until(pilot, lambda: table.sort == ("metric", True), what="the reverse order")
        assert table.trial_at(0).id == "t0029"
        await pilot.press("slash", *"cutout", "enter")
        await wait_until(pilot, lambda: table.count == 15, what="the filter")
        assert all(table.trial_at(i).params["aug"] == "cutout" for i in range(15))
        assert table.border_title == "Trials · filter “cutout” · by metric ▼ · 15 of 30"
        await pilot.press("enter")
        from tui_researcher.ui.screens.detail import DetailScreen
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail of the top row")
        assert app.screen.title_text == f"Trial {table.trial_at(0).id}"
        await pilot.press("escape", "slash", "enter")   # an empty filter: every trial again
        await wait_until(pilot, lambda: table.count == 30, what="all rows")


async def test_a_click_on_a_header_sorts_by_its_column_and_again_the_other_way(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_sweep_table(pilot, app)
        widths = table._fitted_widths()
        header = table.content_region
        metric_x = header.x + sum(w + 2 for w in widths[:2]) + 2   # inside the third column's header

        await pilot.click(offset=(metric_x, header.y))
        await wait_until(pilot, lambda: table.sort == ("metric", False), what="the metric order")
        await wait_until(pilot, lambda: table.trial_at(0) is not None, what="the first row")
        assert table.trial_at(0).id == "t0001" and table.border_title == "Trials · by metric ▲"
        await pilot.click(offset=(metric_x, header.y))
        await wait_until(pilot, lambda: table.sort == ("metric", True), what="the reverse order")
        await wait_until(pilot, lambda: table.trial_at(0) is not None, what="the first row")
        assert table.trial_at(0).id == "t0029"
        await pilot.click(offset=(header.x + 1, header.y))          # the id column: the ledger's order again
        await wait_until(pilot, lambda: table.sort == ("id", False), what="the ledger's order")
        assert table.border_title == "Trials" and table.order is None
