"""The running trial's progress and live curve, as the monitor reads them: pane, status line, gauges."""

from __future__ import annotations

from tests.ui.helpers import FROZEN_NOW, open_trials_view, wait_until

from tui_researcher.events import MonitorSample, TrialLaunched
from tui_researcher.progress import Progress
from tui_researcher.settings import Settings
from tui_researcher.trial import RunningTrial, TrialSample
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.gauges import bar, progress_text, sparkline
from tui_researcher.ui.source import QueueSource, SourceInfo
from tui_researcher.ui.widgets.running_trials import RunningTrials
from tui_researcher.ui.widgets.status_bar import StatusBar

PROGRESS = Progress(12, 40, "epoch", 31.0).to_dict()


def test_gauges():
    assert bar(0.5, 10) == "█████·····" and bar(0.0, 4) == "····" and bar(1.0, 4) == "████"
    assert bar(0.3, 10) == "███·······" and bar(0.35, 10) == "███▌······"
    assert sparkline([1.0, 0.5, 0.25, 0.1], 3) == "█▄▁" and sparkline([2.0, 2.0], 4) == "▄▄"
    assert progress_text(Progress(12, 40, "epoch", 31.0)) == "███······· 12/40 eta 0:31"
    assert progress_text(Progress(7, None, "step")) == "7"


async def test_one_trial_with_progress_shows_its_bar_eta_and_curve(xdg_config):
    source = QueueSource(SourceInfo(project="demo", metric="val_acc", hosts=("gpu-a",)))
    app = ResearcherApp(source, settings=Settings(), settings_path=xdg_config / "settings.toml",
                        clock=lambda: FROZEN_NOW, animate=False)
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.screen.query_one(RunningTrials)
        source.state.running = {"t0001": RunningTrial(id="t0001", host="gpu-a", run_dir="r", pid=5,
                                                      started=FROZEN_NOW - 60)}
        source.push(TrialLaunched(trial_id="t0001", host="gpu-a", pid=5, log_path="x", gpus=(0,), ts=FROZEN_NOW - 60))
        source.push(MonitorSample(host="gpu-a", trials=(TrialSample("t0001", elapsed_s=60.0),), ts=FROZEN_NOW))
        await wait_until(pilot, lambda: table.row_count == 1, what="the row")
        await pilot.pause()
        assert not table.display, "one trial whose log has said nothing yet: no pane"

        source.state.running["t0001"].progress = PROGRESS
        points = tuple((float(e), 0.5 + e / 100, 1.0 / e) for e in range(1, 13))
        source.push(MonitorSample(host="gpu-a", trials=(TrialSample("t0001", elapsed_s=61.0, progress=PROGRESS,
                                                                     points=points),), ts=FROZEN_NOW))
        await wait_until(pilot, lambda: table.display and "12/40" in table.get_row_at(0)[3].plain,
                         what="the progress bar")
        bar_text, curve = table.get_row_at(0)[3].plain.split("  ")
        assert bar_text == "███······· 12/40 eta 0:31"
        assert curve == "▁▂▂▃▄▄▅▅▆▇▇█", "the metric's rise, drawn live"
        bar_line = app.screen.query_one(StatusBar).render().plain
        assert "t0001 1:00 12/40 eta 0:31" in bar_line


async def test_live_curve_beside_the_best_run_and_a_provisional_point_on_the_plot(xdg_config):
    from tui_researcher.trial import Trial
    from tui_researcher.ui.widgets.metric_plot import MetricPlot

    source = QueueSource(SourceInfo(project="demo", metric="val_acc", goal="max", hosts=("gpu-a",)))
    best_curve = {"unit": "epoch", "total": 40, "points": [[float(e), 0.6 + e / 50, 1.0 / e] for e in range(1, 41)]}
    source.trials = [Trial(id="t0001", cycle=1, status="keep", metric=0.95, curve=best_curve),
                     Trial(id="t0002", cycle=2, status="running")]
    source.state.best_trial, source.state.best_metric = "t0001", 0.95
    source.state.running = {"t0002": RunningTrial(id="t0002", host="gpu-a", run_dir="r", pid=5,
                                                  started=FROZEN_NOW - 60, progress=PROGRESS)}
    app = ResearcherApp(source, settings=Settings(), settings_path=xdg_config / "settings.toml",
                        clock=lambda: FROZEN_NOW, animate=False)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(RunningTrials)
        points = tuple((float(e), 0.5 + e / 100, 1.0 / e) for e in range(1, 13))
        source.push(TrialLaunched(trial_id="t0002", host="gpu-a", pid=5, log_path="x", ts=FROZEN_NOW - 60))
        source.push(MonitorSample(host="gpu-a", trials=(TrialSample("t0002", elapsed_s=60.0, progress=PROGRESS,
                                                                     points=points),), ts=FROZEN_NOW))
        await wait_until(pilot, lambda: table.row_count == 1 and "best t0001" in table.get_row_at(0)[3].plain,
                         what="the best's curve")
        _, curve, best = table.get_row_at(0)[3].plain.split("  ")
        assert best.startswith("best t0001 ") and len(best.split()[-1]) == 12
        assert table.best_curve[:2] == [(1.0, 0.62), (2.0, 0.64)]
        assert curve == "▁▁▁▂▂▂▂▂▃▃▃▃", "on the best's scale: this run is still below it"
        plot = await open_trials_view(pilot, MetricPlot)
        assert plot.live == (("t0002", 0.62),)
        await wait_until(pilot, lambda: "running (so far)" in plot.render().plain, what="the provisional point")
