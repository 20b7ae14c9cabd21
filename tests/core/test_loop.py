"""The research loop end to end, on this machine, with the offline planner and real subprocesses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.events import (MonitorSample, Pause, Pivot, PlanProposed, Quit, Resume, StopTrial,
                                   TrialFinished, TrialLaunched)
from tui_researcher.ledger import Ledger
from tui_researcher.store import Store
from tui_researcher.memory import Memory

from tests.helpers import cli, latest_trials, make_project, pid_alive, read_state


async def run_controller(project: Path, *, max_cycles: int, until=None, timeout: float = 60.0):
    """Run a controller to the end (or until ``until(event, controller)`` sends commands); return its events."""
    config = load_config(project / "config.yaml")
    controller = Controller(project, config, max_cycles=max_cycles)
    seen = []
    queue = controller.subscribe()

    async def watch():
        while True:
            event = await queue.get()
            if event is None:
                return
            seen.append(event)
            if until is not None:
                await until(event, controller)

    watcher = asyncio.create_task(watch())
    code = await asyncio.wait_for(controller.run(), timeout)
    await asyncio.wait_for(watcher, 5)
    return code, seen, controller


def test_sample_project_runs_three_cycles_headless_with_a_keep(sample_project: Path):
    proc = cli("run", str(sample_project), "--no-ui", "--max-cycles", "3", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    everything = latest_trials(sample_project)
    trials = {tid: t for tid, t in everything.items() if not t["seed_of"]}   # the sample seed-checks a new best
    assert len(trials) == 3 and len(everything) == 3 + 2 * sum(1 for t in trials.values() if t["seeds"])
    assert all(isinstance(t["metric"], float) for t in everything.values()), everything
    assert any(t["status"] == "keep" for t in trials.values())
    memory = (sample_project / "workspace" / "MEMORY_LOG.md").read_text()
    assert len(memory) <= 2000 and "## Key Results" in memory and "## Recent Decisions" in memory
    out = proc.stdout
    for kind in ("PLAN", "LAUNCH", "MONITOR", "FINISH", "REFLECT"):
        assert f" {kind}" in out, f"no {kind} line in:\n{out}"
    assert "dry-run ok" in out
    status = cli("status", str(sample_project), "--json", check=True)
    summary = json.loads(status.stdout)
    kept = [t["mean"] for t in trials.values() if t["status"] == "keep"]
    assert summary["cycle"] == 3 and summary["best"]["metric"] == max(kept) == summary["best"]["mean"]


@pytest.mark.parametrize("mode, status, label", [
    ("crash", "crash", "RuntimeError: CUDA out of memory (simulated)"),
    ("nan", "nan", "loss became nan"),
    ("baddry", "dry_run_failed", "dry-run exit 1"),
])
async def test_failed_trials_get_their_label(tmp_path: Path, mode: str, status: str, label: str):
    project = make_project(tmp_path, modes=[mode])
    code, events, _ = await run_controller(project, max_cycles=1)
    finished = [e for e in events if isinstance(e, TrialFinished)]
    assert code == 0 and len(finished) == 1
    assert finished[0].status == status
    assert label in finished[0].label
    assert latest_trials(project)["t0001"]["status"] == status


async def test_hanging_trial_is_labelled_stalled_and_killed(tmp_path: Path):
    project = make_project(tmp_path, modes=["hang"], extra={"monitor": {"stall_timeout": 1.0, "poll_interval": 0.2}})
    code, events, _ = await run_controller(project, max_cycles=1)
    [launch] = [e for e in events if isinstance(e, TrialLaunched)]
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "stalled" and "no log growth" in finished.label
    assert not pid_alive(launch.pid)


async def test_trial_over_max_runtime_is_labelled_timeout_and_its_group_killed(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=60,
                           extra={"experiment": {"max_runtime": 1.0}, "monitor": {"poll_interval": 0.2}})
    code, events, _ = await run_controller(project, max_cycles=1)
    [launch] = [e for e in events if isinstance(e, TrialLaunched)]
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "timeout" and "max_runtime" in finished.label
    assert not pid_alive(launch.pid)


async def test_better_metric_is_kept_and_worse_discarded(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"], scores=[0.5, 0.9, 0.7])
    code, events, controller = await run_controller(project, max_cycles=3)
    statuses = [(e.trial_id, e.status, e.metric) for e in events if isinstance(e, TrialFinished)]
    assert statuses == [("t0001", "keep", 0.5), ("t0002", "keep", 0.9), ("t0003", "discard", 0.7)]
    assert controller.state.best_trial == "t0002" and controller.state.best_metric == 0.9


async def test_gate_missed_marks_trial_gated_not_kept(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"], scores=[0.5],
                           extra={"metric": {"name": "val_acc", "goal": "max", "gates": {"val_acc": ">= 0.96"}}})
    _, events, _ = await run_controller(project, max_cycles=1)
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "gated" and "val_acc >= 0.96 missed" in finished.label


async def test_monitor_makes_no_planner_call_while_training_runs(tmp_path: Path):
    """Zero LLM while training: count planner calls between launch and finish."""
    project = make_project(tmp_path, modes=["sleep"], seconds=1.5)
    config = load_config(project / "config.yaml")
    controller = Controller(project, config, max_cycles=1)
    calls = []
    inner = controller.planner

    class Counting:
        name = "counting"

        async def think(self, ctx):
            calls.append("think")
            return await inner.think(ctx)

        async def execute(self, plan, runner):
            calls.append("execute")
            await inner.execute(plan, runner)
            calls.append("launched")

        async def reflect(self, trial, ctx):
            calls.append("reflect")
            return await inner.reflect(trial, ctx)

        async def close(self):
            pass

    controller.planner = Counting()
    samples_during_run = []
    queue = controller.subscribe()

    async def watch():
        while (event := await queue.get()) is not None:
            if isinstance(event, MonitorSample) and event.trials:
                samples_during_run.append(list(calls))

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(controller.run(), 30)
    await watcher
    assert len(samples_during_run) >= 3
    assert all(c == ["think", "execute", "launched"] for c in samples_during_run)
    assert calls == ["think", "execute", "launched", "reflect"]


async def test_directive_written_while_training_is_used_by_next_think_and_archived(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=1.0, scores=[0.5, 0.7, 0.9])
    directive = project / "workspace" / "HUMAN_DIRECTIVE.md"
    written = []

    async def on_event(event, controller):
        if isinstance(event, TrialLaunched) and not written:
            directive.write_text("Please try score=0.9 next\n")
            written.append(True)

    _, events, controller = await run_controller(project, max_cycles=2, until=on_event)
    plans = [e for e in events if isinstance(e, PlanProposed)]
    assert plans[0].directive == ""
    assert "score=0.9" in plans[1].directive and plans[1].params["score"] == 0.9
    assert not directive.exists()
    archived = list((project / "workspace" / "directive_archive").glob("*.md"))
    assert len(archived) == 1 and "score=0.9" in archived[0].read_text()


async def test_pause_stops_planning_but_not_training(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=1.0, scores=[0.5, 0.7])
    state = {}

    async def on_event(event, controller):
        if isinstance(event, TrialLaunched) and "paused" not in state:
            controller.send(Pause())
            state["paused"] = True
        elif isinstance(event, TrialFinished) and event.trial_id == "t0001":
            await asyncio.sleep(0.6)   # several poll intervals: no new plan may appear while paused
            state["plans_while_paused"] = controller.state.next_trial
            controller.send(Resume())

    _, events, controller = await run_controller(project, max_cycles=2, until=on_event)
    finished = [e for e in events if isinstance(e, TrialFinished)]
    assert [f.trial_id for f in finished] == ["t0001", "t0002"]
    assert finished[0].status == "keep"           # the running trial finished normally while paused
    assert state["plans_while_paused"] == 2       # t0002 was not planned until resume


async def test_stop_trial_cancels_it_and_pivot_is_recorded(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=60)

    async def on_event(event, controller):
        if isinstance(event, TrialLaunched):
            controller.send(Pivot("try something else"))
            controller.send(StopTrial(event.trial_id))

    _, events, controller = await run_controller(project, max_cycles=1, until=on_event)
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "cancelled"
    assert controller.state.pivot == "try something else"


async def test_quit_leaves_training_running_and_state_names_it(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=30)

    async def on_event(event, controller):
        if isinstance(event, MonitorSample) and event.trials:
            controller.send(Quit(leave_training_running=True))

    _, events, controller = await run_controller(project, max_cycles=1, until=on_event)
    [launch] = [e for e in events if isinstance(e, TrialLaunched)]
    try:
        assert pid_alive(launch.pid)
        state = read_state(project)
        run = state["running"]["t0001"]
        assert list(state["running"]) == ["t0001"] and run["training_pid"] == launch.pid != run["pid"]
    finally:
        import os, signal
        os.killpg(read_state(project)["running"]["t0001"]["pid"], signal.SIGKILL)


async def test_quit_with_stop_cancels_running_training(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=30)

    async def on_event(event, controller):
        if isinstance(event, MonitorSample) and event.trials:
            controller.send(Quit(leave_training_running=False))

    _, events, controller = await run_controller(project, max_cycles=1, until=on_event)
    [launch] = [e for e in events if isinstance(e, TrialLaunched)]
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "cancelled" and not pid_alive(launch.pid)
    assert controller.state.running == {}


async def test_second_controller_is_refused_naming_the_holder(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=3)
    result = {}

    async def on_event(event, controller):
        if isinstance(event, TrialLaunched) and not result:
            second = cli("run", str(project), "--no-ui", "--max-cycles", "1")
            result["second"] = second
            controller.send(StopTrial())

    await run_controller(project, max_cycles=1, until=on_event)
    second = result["second"]
    assert second.returncode == 2
    assert "already runs this project" in second.stderr and "pid" in second.stderr


def test_ledger_records_full_lineage(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"], scores=[0.5, 0.9])
    cli("run", str(project), "--no-ui", "--max-cycles", "2", check=True)
    ledger = Ledger(Store.reader(project / "workspace" / "researcher.db"))
    t2 = ledger.get("t0002")
    assert t2.parent is None or t2.parent == "t0001"
    for field in ("command", "params", "host", "pid", "start_time", "log_path", "started", "ended", "exit_code",
                  "status", "metric", "duration"):
        assert getattr(t2, field) not in (None, "", {}), field
    assert t2.metrics["val_acc"] == 0.9 and t2.exit_code == 0
    assert ledger.launch_count("t0002") == 1
    memory = Memory.load(project / "workspace" / "MEMORY_LOG.md", load_config(project / "config.yaml").memory)
    assert len(memory.decisions) == 2 and memory.results


async def test_commands_appended_to_the_command_file_reach_the_loop(tmp_path: Path):
    """The channel an attached app uses: one JSON command per line in workspace/commands.jsonl."""
    from tui_researcher.events import command_to_dict

    project = make_project(tmp_path, modes=["sleep"], seconds=30)
    commands = project / "workspace" / "commands.jsonl"
    seen = {}

    async def on_event(event, controller):
        if isinstance(event, MonitorSample) and event.trials and not seen:
            seen["sent"] = True
            with open(commands, "a") as f:
                f.write(json.dumps(command_to_dict(Pause())) + "\n")
                f.write(json.dumps(command_to_dict(Quit(leave_training_running=False))) + "\n")

    _, events, controller = await run_controller(project, max_cycles=1, until=on_event)
    assert controller.state.paused is True
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "cancelled"


def test_directive_command_writes_the_file_atomically(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"])
    proc = cli("directive", str(project), "focus on", "score=0.9")
    assert proc.returncode == 0, proc.stderr
    assert (project / "workspace" / "HUMAN_DIRECTIVE.md").read_text() == "focus on score=0.9\n"
    assert not list((project / "workspace").glob(".*.tmp"))


async def test_metric_is_read_from_the_runs_own_results_file(tmp_path: Path):
    project = make_project(tmp_path, modes=["json"], scores=[0.83],
                           extra={"metric": {"name": "val_acc", "goal": "max", "file": "results.json",
                                             "json_key": "eval.val_acc"}})
    _, events, _ = await run_controller(project, max_cycles=1)
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "keep" and finished.metric == 0.83


async def test_planner_that_waits_is_asked_again_only_when_a_trial_ends(tmp_path: Path):
    """Zero LLM on a timer: a `wait` answer while a trial runs holds planning until the trial ends."""
    import time as _time

    from tui_researcher.planner import Plan

    project = make_project(tmp_path, modes=["sleep"], seconds=1.5, extra={"experiment": {"max_parallel": 2}})
    config = load_config(project / "config.yaml")
    controller = Controller(project, config)
    inner = controller.planner
    thinks: list[float] = []

    class Waiting:
        name = "waiting"

        async def think(self, ctx):
            thinks.append(_time.time())
            if len(thinks) == 1:
                return await inner.think(ctx)
            return Plan(hypothesis="nothing worth running beside it", action="wait" if len(thinks) == 2 else "report")

        async def execute(self, plan, runner):
            await inner.execute(plan, runner)

        async def reflect(self, trial, ctx):
            return await inner.reflect(trial, ctx)

        async def close(self):
            pass

    controller.planner = Waiting()
    queue = controller.subscribe()
    task = asyncio.create_task(controller.run())
    finished_at = None
    while (event := await queue.get()) is not None:
        if isinstance(event, TrialFinished):
            finished_at = event.ts
    await asyncio.wait_for(task, 30)
    assert len(thinks) == 3, thinks                       # not one THINK per poll while the trial ran
    assert thinks[2] >= finished_at


async def test_a_command_that_fails_does_not_take_the_others_with_it(tmp_path: Path):
    """A directive whose write fails (its temp file cannot be made): a notice, then Pause and Quit still work."""
    import os

    from tui_researcher.events import Directive, Notice

    project = make_project(tmp_path, modes=["sleep"], seconds=30)
    (project / "workspace" / f".HUMAN_DIRECTIVE.md.{os.getpid()}.tmp").mkdir()
    sent = {}

    async def on_event(event, controller):
        if isinstance(event, MonitorSample) and event.trials and not sent:
            sent["directive"] = True
            controller.send(Directive(text="try lr=0.1"))
        elif isinstance(event, Notice) and "commands task failed" in event.text and "pause" not in sent:
            sent["pause"] = True
            controller.send(Pause())
            controller.send(Quit(leave_training_running=False))

    _, events, controller = await run_controller(project, max_cycles=1, until=on_event, timeout=90)
    failures = [e.text for e in events if isinstance(e, Notice) and "commands task failed" in e.text]
    assert failures and "restarting" in failures[0]
    assert controller.state.paused is True
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert finished.status == "cancelled"
