"""The running-trials pane: one row per running trial, and the log pane showing the chosen trial only."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import yaml
from tests.ui.helpers import FROZEN_NOW, JOB, parallel_events, parallel_running, wait_until

from tui_researcher.config import load_config

from tui_researcher.events import MonitorSample, PlanProposed, TrialFinished, TrialLaunched
from tui_researcher.settings import Settings
from tui_researcher.trial import TrialSample
from tui_researcher.ui.ansi import plain
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.bridge import Bridge
from tui_researcher.formats import format_duration
from tui_researcher.ui.messages import LogLines, TrialEnded, TrialStarted
from tui_researcher.ui.source import QueueSource, SourceInfo
from tui_researcher.ui.widgets.running_trials import RunningTrials
from tui_researcher.ui.widgets.status_bar import StatusBar
from tui_researcher.ui.widgets.training_log import TrainingLog

SIZE = (160, 48)


def scripted_app(xdg_config, clock=lambda: FROZEN_NOW) -> tuple[ResearcherApp, QueueSource]:
    source = QueueSource(SourceInfo(project="demo", metric="val_acc", hosts=("gpu-a", "gpu-b", "slurm")))
    app = ResearcherApp(source, settings=Settings(), settings_path=xdg_config / "settings.toml", clock=clock,
                        animate=False)
    return app, source


def rows(table: RunningTrials) -> list[list[str]]:
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def shown(log: TrainingLog) -> list[str]:
    return [plain(line) for line in log.lines]


def sample(host: str, tid: str, *, lines: tuple[str, ...] = (), elapsed: float = 1.0, **fields) -> MonitorSample:
    reading = TrialSample(**{"trial_id": tid, "alive": True, "elapsed_s": elapsed, "log_bytes": 1,
                             "state": "RUNNING", **fields})
    return MonitorSample(host=host, trials=(reading,), lines=tuple((tid, line) for line in lines), ts=FROZEN_NOW)


async def test_parallel_trials_have_a_row_each_with_placement_state_and_elapsed(xdg_config):
    app, source = scripted_app(xdg_config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RunningTrials)
        log = app.screen.query_one(TrainingLog)
        assert not table.display, "no trial: no pane"
        for event in parallel_events(FROZEN_NOW):
            source.push(event)
        await wait_until(pilot, lambda: table.row_count == 3 and "PENDING" in rows(table)[2][1], what="three rows")
        await pilot.pause()
        assert table.display
        assert [r[:3] + r[4:6] for r in rows(table)] == [
            ["t0005", "RUNNING", "1:01:40", "gpu-a", "gpu 0,1"],
            ["t0006", "RUNNING", "0:10:00", "gpu-b", "gpu 3"],
            ["t0007", "PENDING (Resources)", "0:01:30", "slurm", "job 1234"],   # waiting since it was submitted
        ]
        assert rows(table)[1][-1].startswith("Mixup with alpha 0.2") and rows(table)[0][-1].endswith("…")
        assert table.border_title == "Running trials (3)"
        # the newest launched trial with a log (the queued job has none yet) is the one shown, and only it
        assert table.shown == "t0006" and table.get_row_at(table.cursor_row)[0].plain == "t0006"
        assert shown(log) == ["── t0006 ──", "t0006 step 1", "t0006 step 2"]
        assert log.border_title == "Training log · t0006 · gpu-b gpu 3"

        # lines of another trial go to its buffer, not into the pane
        source.push(sample("gpu-a", "t0005", lines=("t0005 epoch 4",), elapsed=3700.0))
        await wait_until(pilot, lambda: log.trial_lines("t0005")[-1:] == ["t0005 epoch 4"], what="t0005's line")
        assert shown(log) == ["── t0006 ──", "t0006 step 1", "t0006 step 2"]

        # Slurm starts the job: state, node, elapsed from the reading
        source.push(sample("slurm", "t0007", elapsed=5.0, job_id="1234", node="node-x"))
        await wait_until(pilot, lambda: rows(table)[2][1] == "RUNNING", what="the job to run")
        assert rows(table)[2][1:3] + rows(table)[2][5:6] == ["RUNNING", "0:00:05", "job 1234 on node-x"]
        assert table.shown == "t0007", "a job that starts is the newest trial with a log"
        assert shown(log) == [] and log.border_title == "Training log · t0007 · slurm job 1234 on node-x"

        # finishes remove rows; the last one left running hides the pane (the status bar and log title say it)
        source.push(TrialFinished(trial_id="t0006", status="keep", metric=0.93))
        await wait_until(pilot, lambda: table.row_count == 2, what="t0006's row to go")
        assert [r[0] for r in rows(table)] == ["t0005", "t0007"] and table.display
        source.push(TrialFinished(trial_id="t0005", status="discard", metric=0.90))
        await wait_until(pilot, lambda: table.row_count == 1, what="t0005's row to go")
        assert not table.display
        assert table.shown == "t0007"


async def test_choosing_a_row_shows_that_trials_lines_only(xdg_config):
    app, source = scripted_app(xdg_config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RunningTrials)
        log = app.screen.query_one(TrainingLog)
        for event in parallel_events(FROZEN_NOW):
            source.push(event)
        await wait_until(pilot, lambda: table.row_count == 3 and log.line_count == 3, what="the trials")
        table.focus()
        await pilot.press("up")   # from t0006 to t0005
        await wait_until(pilot, lambda: log.shown == "t0005", what="the log to switch")
        assert shown(log) == ["── t0005 ──", "t0005 epoch 1", "t0005 epoch 2", "t0005 epoch 3"]
        assert log.border_title == "Training log · t0005 · gpu-a gpu 0,1"
        assert table.pinned == "t0005"

        # both keep logging: only the chosen trial's lines reach the pane
        source.push(sample("gpu-b", "t0006", lines=("t0006 step 3",)))
        source.push(sample("gpu-a", "t0005", lines=("t0005 epoch 4",)))
        await wait_until(pilot, lambda: shown(log)[-1] == "t0005 epoch 4", what="t0005's new line")
        assert not any("t0006" in line for line in shown(log))

        # a new launch does not take the pane from a trial the user chose
        source.push(TrialLaunched(trial_id="t0008", host="gpu-b", pid=808, log_path="x", gpus=(2,), ts=FROZEN_NOW))
        await wait_until(pilot, lambda: table.row_count == 4, what="t0008's row")
        assert log.shown == "t0005" and table.get_row_at(table.cursor_row)[0].plain == "t0005"

        # back to the other one: its buffered lines, in order, nothing of t0005
        await pilot.press("down")
        await wait_until(pilot, lambda: log.shown == "t0006", what="the log to switch back")
        assert shown(log) == ["── t0006 ──", "t0006 step 1", "t0006 step 2", "t0006 step 3"]

        # the chosen trial ends: the pane goes on with the newest, below the ended trial's last lines
        await pilot.click(RunningTrials, offset=(3, 1))   # the first row: t0005
        await wait_until(pilot, lambda: log.shown == "t0005", what="a click to choose t0005")
        source.push(sample("gpu-a", "t0005", lines=("Traceback: CUDA out of memory",)))
        source.push(TrialFinished(trial_id="t0005", status="crash", label="CUDA out of memory"))
        await wait_until(pilot, lambda: log.shown == "t0008", what="the newest trial's log")
        assert table.pinned is None and log.border_title == "Training log · t0008 · gpu-b gpu 2"
        source.push(sample("gpu-b", "t0008", lines=("c1",)))
        await wait_until(pilot, lambda: shown(log)[-1] == "c1", what="t0008's line")
        assert shown(log) == ["── t0005 ──", *(f"t0005 epoch {i}" for i in range(1, 5)),
                              "Traceback: CUDA out of memory", "── t0008 ──", "c1"], \
            "the ended trial's last lines stay in view, above the next trial's"


async def test_a_reader_who_scrolled_up_is_not_pulled_away_by_a_launch(xdg_config):
    app, source = scripted_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunningTrials)
        log = app.screen.query_one(TrainingLog)
        source.push(TrialLaunched(trial_id="t0001", host="gpu-a", pid=1, log_path="x", gpus=(0,), ts=FROZEN_NOW))
        source.push(sample("gpu-a", "t0001", lines=tuple(f"line {i}" for i in range(200))))
        await wait_until(pilot, lambda: log.line_count == 201 and log.is_vertical_scroll_end, what="the lines")
        log.focus()
        await pilot.press("up", "up")
        await wait_until(pilot, lambda: not log.follow, what="follow to stop")
        source.push(TrialLaunched(trial_id="t0002", host="gpu-a", pid=2, log_path="y", gpus=(1,), ts=FROZEN_NOW))
        source.push(sample("gpu-a", "t0002", lines=("other",)))
        await wait_until(pilot, lambda: table.row_count == 2 and log.trial_lines("t0002"), what="t0002")
        assert log.shown == "t0001" and table.pinned == "t0001" and not log.follow
        assert "other" not in shown(log)


async def test_one_trial_looks_as_before_and_sequential_trials_follow_each_other(xdg_config):
    """No pane for one running trial; the next trial's lines go below the last one's, marked."""
    app, source = scripted_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunningTrials)
        log = app.screen.query_one(TrainingLog)
        source.push(TrialLaunched(trial_id="t0001", host="gpu-a", pid=1, log_path="x", gpus=(0,), ts=FROZEN_NOW))
        source.push(sample("gpu-a", "t0001", lines=("a1", "a2")))
        source.push(TrialFinished(trial_id="t0001", status="keep", metric=0.5))
        source.push(TrialLaunched(trial_id="t0002", host="gpu-a", pid=2, log_path="y", gpus=(0,), ts=FROZEN_NOW))
        source.push(sample("gpu-a", "t0002", lines=("b1",)))
        await wait_until(pilot, lambda: log.line_count == 5, what="both trials' lines")
        assert shown(log) == ["── t0001 ──", "a1", "a2", "── t0002 ──", "b1"]
        assert not table.display and table.row_count == 1
        assert log.border_title == "Training log · t0002 · gpu-a gpu 0"


async def test_an_attached_app_lists_trials_it_never_saw_launch_and_elapsed_ticks(xdg_config):
    """The state file's running trials become rows; elapsed time moves on with the clock, between readings."""
    now = [FROZEN_NOW]
    app, source = scripted_app(xdg_config, clock=lambda: now[0])
    source.state.running = parallel_running(FROZEN_NOW)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(RunningTrials)
        await wait_until(pilot, lambda: table.row_count == 3, what="rows from the state")
        assert [r[:3] + r[4:6] for r in rows(table)] == [
            ["t0005", "RUNNING", "1:01:40", "gpu-a", "gpu 0,1"],
            ["t0006", "RUNNING", "0:10:00", "gpu-b", "gpu 3"],
            ["t0007", "PENDING (Resources)", "0:01:30", "slurm", "job 1234"],
        ]
        assert app.screen.query_one(StatusBar).render().plain.count("3 trials running") == 1
        now[0] += 65
        table._tick()
        assert [r[2] for r in rows(table)] == ["1:02:45", "0:11:05", "0:02:35"]
        # the state no longer lists t0006 (it ended before this app saw it end): its row goes
        source.state.running.pop("t0006")
        source.push(MonitorSample(host="gpu-a"))   # any state-changing event makes the bridge re-read the state
        await wait_until(pilot, lambda: table.row_count == 2, what="t0006's row to go")


def test_elapsed_is_always_hours_minutes_seconds():
    elapsed = [format_duration(s, always_hours=True) for s in (0, 59.9, 61, 3600, 36000 + 61)]
    assert elapsed == ["0:00:00", "0:00:59", "0:01:01", "1:00:00", "10:01:01"]
    assert [format_duration(s) for s in (59.9, 83, 3600)] == ["0:59", "1:23", "1:00:00"], "the status line's"


async def test_the_bridge_hands_on_each_launch_with_its_plan_and_a_trials_last_lines_before_its_end():
    """A burst of plans keeps only the newest PlanChanged, so a launch carries its own hypothesis; a trial's
    last lines (its traceback) arrive before its end, while it is still the trial the log shows."""

    class Recorder:
        def __init__(self) -> None:
            self.messages: list = []

        def post_message(self, message) -> bool:
            self.messages.append(message)
            return True

    source = QueueSource()
    for tid in ("t1", "t2"):
        source.push(PlanProposed(trial_id=tid, cycle=1, hypothesis=f"hypothesis of {tid}"))
    for tid in ("t1", "t2"):
        source.push(TrialLaunched(trial_id=tid, host="local", pid=1, log_path="x", gpus=(0,)))
    source.push(MonitorSample(host="local", lines=(("t1", "Traceback"),)))
    source.push(TrialFinished(trial_id="t1", status="crash"))
    source.close()
    app = Recorder()
    await Bridge(app, source).run()
    assert [(m.launched.trial_id, m.hypothesis) for m in app.messages if isinstance(m, TrialStarted)] == [
        ("t1", "hypothesis of t1"), ("t2", "hypothesis of t2")]
    kinds = [type(m) for m in app.messages if isinstance(m, (LogLines, TrialEnded))]
    assert kinds == [LogLines, TrialEnded]


async def test_two_real_trials_in_parallel_each_with_its_own_log(tmp_path: Path, xdg_config):
    """The real controller with max_parallel 2: two rows, and each trial's log is its own."""
    from tui_researcher.controller import Controller
    from tui_researcher.events import Quit
    from tui_researcher.ui.source import LiveSource

    project = tmp_path / "par"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "job.py").write_text(JOB.replace('print(f"step=', 'print(f"{a.seconds:.0f}s step='))
    (project / "PROJECT_BRIEF.md").write_text("# Parallel\nMaximise val_acc.\n")
    (project / "config.yaml").write_text(yaml.safe_dump({
        "project": {"name": "par"}, "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "grid", "command": f"{sys.executable} job.py --seconds {{seconds}}",
                   "space": {"seconds": [60, 61]}},
        "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2, "stall_timeout": 600},
        "experiment": {"max_runtime": 600, "max_parallel": 2}}))
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=2)
    app = ResearcherApp(LiveSource(controller), settings=Settings(), settings_path=xdg_config / "settings.toml",
                        animate=False)
    pids: list[int] = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one(RunningTrials)
            log = app.screen.query_one(TrainingLog)
            both = lambda: table.row_count == 2 and all(p.pid for p in controller.state.running.values())  # noqa: E731
            await wait_until(pilot, both, what="two trials running")
            pids.extend(p.pid for p in controller.state.running.values())
            # a row says LAUNCHING from the state file until the launch event reaches the app
            await wait_until(pilot, lambda: [[r[5], r[1]] for r in rows(table)] == [["cpu", "RUNNING"]] * 2,
                             what="both rows to say RUNNING")
            first, second = (row[0] for row in rows(table))
            assert table.display
            marks = {first: "60s step=", second: "61s step="}
            await wait_until(pilot, lambda: len(log.trial_lines(first)) > 2 and len(log.trial_lines(second)) > 2,
                             what="lines of both")
            assert log.shown == second and shown(log)[0] == f"── {second} ──"
            assert all(line.startswith(marks[second]) for line in shown(log)[1:])
            table.focus()
            await pilot.press("up")
            await wait_until(pilot, lambda: log.shown == first, what="the first trial's log")
            await wait_until(pilot, lambda: log.line_count > 3, what="more lines")
            assert shown(log)[0] == f"── {first} ──"
            assert all(line.startswith(marks[first]) for line in shown(log)[1:])
            controller.send(Quit(leave_training_running=False))
            await wait_until(pilot, lambda: app.loop_ended, what="the loop to stop its trials and end")
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


async def test_the_pane_is_never_wider_than_itself_after_a_narrowing_resize(xdg_config):
    """The hypothesis column kept the width of its first, longer text: the table ran past its pane (hidden cells
    to scroll to, and a snapshot that changed with timing, as the first rows came before or after the size)."""
    from tests.ui.test_ui_snapshots import parallel_app

    app = parallel_app(xdg_config)
    async with app.run_test(size=(220, 48)) as pilot:
        table = app.screen.query_one(RunningTrials)
        await wait_until(pilot, lambda: table.row_count == 3 and table.scrollable_content_region.width > 0
                         and table.columns["hypothesis"].content_width > 0, what="three running trials, laid out")
        await pilot.pause()
        wide = table.columns["hypothesis"].content_width
        await pilot.resize_terminal(160, 48)
        await wait_until(pilot, lambda: table.columns["hypothesis"].content_width < wide, what="the column to narrow")
        await wait_until(pilot, lambda: table.virtual_size.width <= table.scrollable_content_region.width,
                         what="the table within its pane")
        assert all(row[-1].endswith("…") for row in rows(table))
