"""The trials view over a big ledger: a virtual table and a bounded plot, never the whole ledger in memory."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from tests.ui.helpers import wait_until

from tui_researcher.config import load_config
from tui_researcher.events import TrialFinished
from tui_researcher.ledger import Ledger
from tui_researcher.state import State
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.reads import StoreReads
from tui_researcher.ui.screens.detail import DetailScreen
from tui_researcher.ui.screens.trials import TrialsScreen
from tui_researcher.ui.series import BUDGET, Point, Series
from tui_researcher.ui.source import FileSource
from tui_researcher.ui.widgets.metric_plot import MetricPlot
from tui_researcher.ui.widgets.trials_table import PAGE, PAGES_KEPT, TrialsTable

BIG = 100_000
SIZE = (140, 44)


def make_project(root: Path, trials: int) -> Path:
    """A project whose store holds ``trials`` finished trials, recorded in one transaction."""
    project = root / f"p{trials}"
    (project / "workspace").mkdir(parents=True)
    (project / "config.yaml").write_text(yaml.safe_dump({"project": {"name": f"big{trials}"},
                                                         "metric": {"name": "val_acc", "goal": "max"}}))
    store = Store(project / "workspace" / "researcher.db")
    ledger, state, rng = Ledger(store), State(), random.Random(trials)
    with store.transaction():
        for i in range(1, trials + 1):
            metric = round(rng.uniform(0.5, 0.99), 5)
            keep = state.best_metric is None or metric > state.best_metric
            trial = Trial(id=f"t{i:06d}", cycle=i, hypothesis=f"idea {i}", metric=metric, duration=60.0,
                          status=TrialStatus.KEEP if keep else TrialStatus.DISCARD)
            ledger.record(trial, "finished")
            if keep:
                state.best_trial, state.best_metric = trial.id, metric
        state.cycle = trials
        state.save(store)
    store.close()
    return project


@pytest.fixture(scope="module")
def big_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,000 trials, built once for the module; the tests only read it."""
    return make_project(tmp_path_factory.mktemp("big"), BIG)


def attached(project: Path, xdg_config: Path, *, follow: bool = False) -> ResearcherApp:
    source = FileSource(project, load_config(project / "config.yaml"), follow=follow, poll_s=0.05)
    return ResearcherApp(source, settings_path=xdg_config / "settings.toml", animate=False)


def shown(table: TrialsTable) -> list[str]:
    """Ids of the rows on screen, once every one of them has arrived ([] until then)."""
    rows = table.visible_trials()
    return [t.id for t in rows] if rows and all(rows) else []


async def open_trials(pilot) -> TrialsTable:
    await pilot.press("t")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, TrialsScreen), what="the trials view")
    table = pilot.app.screen.query_one(TrialsTable)
    await wait_until(pilot, lambda: shown(table), what="rows on screen")
    return table


@pytest.mark.slow
async def test_trials_view_over_100000_trials_reads_only_the_pages_it_shows(big_project, xdg_config, monkeypatch):
    built = []
    from_dict = Trial.from_dict.__func__
    monkeypatch.setattr(Trial, "from_dict", classmethod(lambda cls, data: built.append(1) or from_dict(cls, data)))
    app = attached(big_project, xdg_config)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_trials(pilot)
        assert table.count == BIG and table.cursor_row == BIG - 1
        assert shown(table)[-1] == "t100000", "the view opens on the newest trials, the cursor on the last"

        await pilot.press("g")
        await wait_until(pilot, lambda: shown(table)[:1] == ["t000001"], what="the first rows")
        await pilot.press("pagedown", "down")
        assert table.trial_at(table.cursor_row).id == f"t{table.cursor_row + 1:06d}"

        table.scroll_to(y=50_000, animate=False)
        await wait_until(pilot, lambda: shown(table)[:1] == ["t050001"], what="rows from the middle")

        await pilot.press("G")
        await wait_until(pilot, lambda: shown(table)[-1:] == ["t100000"], what="the last rows again")
        assert table.cursor_row == BIG - 1

        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail dialog")
        assert app.screen.title_text == "Trial t100000" and "idea 100000" in app.screen.body
        assert table.held <= PAGES_KEPT * PAGE
    assert len(built) < 6 * PAGE, f"{len(built)} Trial objects built for a few screens of rows"


@pytest.mark.slow
async def test_plot_over_100000_trials_is_bounded_and_keeps_every_kept_trial(big_project, xdg_config):
    store = Store.reader(big_project / "workspace" / "researcher.db")
    kept = [row for row, *_ in store.kept_points()]
    best = State.load(store).best_metric
    store.close()
    app = attached(big_project, xdg_config)
    async with app.run_test(size=SIZE) as pilot:
        await open_trials(pilot)
        plot = app.screen.query_one(MetricPlot)
        await wait_until(pilot, lambda: plot.series is not None, what="the plot's series")
        points = plot.points
        assert len(points) <= BUDGET + len(kept)
        assert {p.row for p in points if p.kept} == set(kept), "every kept trial is drawn: the best line is exact"
        assert max(p.metric for p in points if p.kept) == best
        assert [p.row for p in points] == sorted(p.row for p in points)


async def test_a_trial_recorded_while_the_view_is_open_is_appended_and_followed(tmp_path, xdg_config):
    project = make_project(tmp_path, 450)
    app = attached(project, xdg_config, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_trials(pilot)
        plot = app.screen.query_one(MetricPlot)
        await wait_until(pilot, lambda: plot.series is not None, what="the plot's series")
        assert table.count == 450 and shown(table)[-1] == "t000450"

        writer = Store(project / "workspace" / "researcher.db")   # the controller, in another process
        trial = Trial(id="t000451", cycle=451, hypothesis="one more", status=TrialStatus.KEEP, metric=0.999)
        Ledger(writer).record(trial, "finished")
        done = TrialFinished(trial_id=trial.id, status=trial.status, metric=trial.metric)
        writer.append_event(done.to_dict(), done.ts)
        writer.close()

        await wait_until(pilot, lambda: shown(table)[-1:] == ["t000451"], what="the new row")
        assert table.count == 451 and table.cursor_row == 450, "the cursor follows the newest trial"
        assert plot.points[-1] == Point(451, "t000451", 0.999, "keep")


async def test_a_self_reported_metric_is_marked_in_the_trials_view(tmp_path, xdg_config):
    project = make_project(tmp_path, 3)
    writer = Store(project / "workspace" / "researcher.db")
    Ledger(writer).record(Trial(id="t000004", cycle=4, status=TrialStatus.DISCARD, metric=0.51, code_changed=True,
                                self_reported=True, measured_by="log"), "finished")
    writer.close()
    app = attached(project, xdg_config)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_trials(pilot)
        await wait_until(pilot, lambda: len(shown(table)) == 4, what="four rows")
        metrics = {t.id: str(table._cells(t)[2]) for t in table.visible_trials()}   # id, status, metric
        assert metrics["t000004"] == "0.51 (self)"
        assert not any("(self)" in m for tid, m in metrics.items() if tid != "t000004")


def test_series_stays_bounded_as_trials_finish_and_keeps_every_kept_trial():
    series = Series(budget=100)
    kept = []
    for row in range(1, 20_001):
        keep = row % 997 == 0
        kept += [row] if keep else []
        series.add(Point(row, f"t{row}", float(row), "keep" if keep else "discard"))
    assert sum(not p.kept for p in series.points) <= 100
    assert [p.row for p in series.points if p.kept] == kept
    assert all(p.row % series.stride == 0 for p in series.points if not p.kept)


def test_series_read_from_a_store_matches_the_same_stride_grown_point_by_point(tmp_path):
    """A fresh read and a series grown by finished trials agree: the plot never drifts as trials arrive."""
    project = make_project(tmp_path, 1_200)
    store = Store.reader(project / "workspace" / "researcher.db")
    read = StoreReads(store).series(budget=100)
    grown = Series(stride=read.stride, budget=100)
    grown.extend(Point(row, tid, metric, status) for row, tid, status, metric in store.metric_points())
    store.close()
    assert read.stride > 1 and read.points == grown.points


async def test_a_seed_checked_trial_shows_its_mean_and_spread(tmp_path, xdg_config):
    project = make_project(tmp_path, 3)
    store = Store(project / "workspace" / "researcher.db")
    checked = Trial(id="t000004", cycle=4, hypothesis="seed-checked", status=TrialStatus.KEEP, metric=0.9,
                    mean=0.94, spread=0.036, seeds=["t000005", "t000006"])
    Ledger(store).record(checked, "finished")
    state = State.load(store)
    state.best_trial, state.best_metric = checked.id, checked.mean
    state.save(store)
    store.close()
    app = attached(project, xdg_config)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_trials(pilot)
        await wait_until(pilot, lambda: shown(table)[-1:] == ["t000004"], what="the seed-checked row")
        cells = [str(c) for c in table._cells(table.visible_trials()[-1])]
        assert cells[2] == "0.94 ± 0.036" and cells[3] == "best"
