"""The leader's strategy end to end, through the real SDK against the fake server: the pool, its choice,
a hypothesis retired by its dry-runs, the lineage and the parent's diff in the worker's task, specialists."""

from __future__ import annotations

import json

import pytest

from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import cli, latest_trials, max_concurrency, read_ledger
from tui_researcher.config.models import Specialist
from tui_researcher.events import ToolReturned
from tui_researcher.hypotheses import Pool
from tui_researcher.store import Store

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"
WIDE = "python3 train.py --lr 0.1 --hidden 32 --epochs 10"


def text_of(seen) -> str:
    return json.dumps(seen.body)


def pool_of(project) -> Pool:
    return Pool(Store.reader(project / "workspace" / "researcher.db"))


@pytest.mark.parametrize("provider", ["openai"])
async def test_think_proposes_three_hypotheses_and_the_highest_score_runs(sample_project, config, fake, provider):
    fake.script("think", plan(CMD, utility=0.2, quality=0.3, exploration=0.1, hypotheses=[
        {"hypothesis": "a wider layer bends the boundary twice", "task": f"run {WIDE}",
         "params": {"lr": 0.1, "hidden": 32, "epochs": 10}, "utility": 0.9, "quality": 0.8, "exploration": 0.7},
        {"hypothesis": "more epochs", "task": "run with 40 epochs", "utility": 0.5, "quality": 0.5,
         "exploration": 0.5}]))
    fake.script("code", dry(WIDE), launch(WIDE))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["hypothesis"] == "a wider layer bends the boundary twice"
    assert trial["params"] == {"lr": 0.1, "hidden": 32, "epochs": 10} and trial["status"] == "keep"
    task = text_of(fake.of("code")[0])
    assert f"Task: run {WIDE}" in task and "## Trials" in task
    pool = pool_of(sample_project)
    rows = {h.text: h for h in pool.newest()}
    assert set(rows) == {"a larger lr fits the spirals faster", "a wider layer bends the boundary twice",
                         "more epochs"}
    chosen, parts = pool.of_trial("t0001")
    assert chosen.text == "a wider layer bends the boundary twice"
    assert parts["score"] == pytest.approx(0.8) and parts["prior"] == pytest.approx(0.8)
    assert (chosen.tries, chosen.outcomes, chosen.best) == (1, 1, trial["metric"])
    assert "hypothesis pool" in text_of(fake.of("think")[0]).lower()

    shown = cli("hypotheses", str(sample_project), check=True).stdout.splitlines()
    assert shown[0].split()[:4] == ["id", "role", "status", "value"]
    wide = next(line for line in shown if "a wider layer" in line).split()
    assert wide[:7] == [f"h{chosen.id}", "-", "done", f"{chosen.value:.2f}", "0.9/0.8/0.7", "1",
                        f"{trial['metric']:.4g}"]
    assert any(line.split()[2] == "open" and "more epochs" in line for line in shown)
    listed = json.loads(cli("hypotheses", str(sample_project), "--json", check=True).stdout)
    assert {h["text"]: h["status"] for h in listed}["more epochs"] == "open"


def test_the_hypotheses_command_on_a_project_without_a_pool(sample_project):
    proc = cli("hypotheses", str(sample_project), check=True)
    assert proc.stdout.startswith("no hypotheses yet") and not (sample_project / "workspace" / "researcher.db").exists()


@pytest.mark.parametrize("provider", ["openai"])
async def test_a_hypothesis_whose_dry_run_fails_twice_is_retired_without_a_launch(sample_project, config, fake,
                                                                                   provider):
    bad = "python3 missing.py --lr 0.1"
    fake.script("think", plan(bad))
    fake.script("code", dry(bad), dry(bad), launch(bad))
    fake.script("reflect", reflection())

    controller = await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "dry_run_failed"
    assert "launched" not in [e["event"] for e in read_ledger(sample_project)]
    assert fake.count("code") == 2            # the launch was never even asked for
    calls = trial["tool_calls"]
    assert [c["ok"] for c in calls] == [True, False] and "retired" in calls[1]["result"]
    returned = [e for e in controller.seen if isinstance(e, ToolReturned)]
    assert len(returned) == 2 and "retired" in returned[1].result
    (h,) = pool_of(sample_project).newest()
    assert h.status == "retired" and h.dry_fails == 2 and "without a training run" in h.why


@pytest.mark.parametrize("provider", ["openai"])
async def test_the_worker_gets_the_lineage_and_its_parent_trials_diff(sample_project, config, fake, provider):
    fake.script("think", plan(CMD), plan(WIDE, parent="t0001", hypothesis="widen the best"))
    fake.script("code", {"tool": "write_file", "args": {"path": "notes.md", "content": "lr 0.1 first\n"}},
                dry(CMD), launch(CMD), dry(WIDE), launch(WIDE))
    fake.script("reflect", reflection(), reflection())

    await run_loop(sample_project, config, cycles=2)

    second = [s for s in fake.of("code") if "Trial t0002" in text_of(s)][0]
    task = text_of(second)
    assert "The parent trial t0001's diff" in task and "+lr 0.1 first" in task
    assert "t0001 keep val_acc=" in task and "notes.md +1 -0" in task     # the lineage, with what it changed
    think = text_of(fake.of("think")[1])
    assert "## Best chain" in think and "notes.md +1 -0" in think


@pytest.mark.parametrize("provider", ["openai"])
async def test_specialists_are_tagged_and_their_trials_run_side_by_side(sample_project, config, fake, provider):
    config.agent.specialists = [Specialist(role="arch", focus="model architecture"),
                                Specialist(role="optim", focus="learning rate and schedule", model="gpt-6-mini")]
    config.experiment.max_parallel = 2
    wait = ("import os, sys, time\nif '--dry-run' in sys.argv: sys.exit(0)\nend = time.time() + 30\n"
            "while not os.path.exists('b_started') and time.time() < end: time.sleep(0.05)\nprint('val_acc=0.6')\n")
    mark = "import sys\nif '--dry-run' in sys.argv: sys.exit(0)\nopen('b_started', 'w').close()\nprint('val_acc=0.7')\n"
    fake.script("think", plan("python3 a.py", hypothesis="arch idea"), plan("python3 b.py", hypothesis="optim idea"))
    fake.script("code", {"tool": "write_file", "args": {"path": "a.py", "content": wait}}, dry("python3 a.py"),
                launch("python3 a.py"), {"tool": "write_file", "args": {"path": "b.py", "content": mark}},
                dry("python3 b.py"), launch("python3 b.py"))
    fake.script("reflect", reflection(), reflection())

    controller = await run_loop(sample_project, config, cycles=2)

    trials = latest_trials(sample_project)
    assert {tid: t["role"] for tid, t in trials.items()} == {"t0001": "arch", "t0002": "optim"}
    assert max_concurrency(list(trials.values())) == 2
    thinks = [text_of(s) for s in fake.of("think")]
    assert "You are the arch specialist. Focus: model architecture" in thinks[0]
    assert "You are the optim specialist" in thinks[1]
    assert {h.role for h in pool_of(sample_project).newest()} == {"arch", "optim"}
    plans = [e for e in controller.seen if type(e).__name__ == "PlanProposed"]
    assert [p.role for p in plans] == ["arch", "optim"]
    # the optim specialist's own model serves its THINK and its trial's code worker; arch uses agent.model
    assert [s.body["model"] for s in fake.of("think")] == ["gpt-6-sol", "gpt-6-mini"]
    models = {s.body["model"] for s in fake.of("code") if "Trial t0002" in text_of(s)}
    assert models == {"gpt-6-mini"}


@pytest.mark.parametrize("provider", ["openai"])
async def test_a_pivot_hands_the_next_think_to_the_next_specialist(sample_project, config, fake, provider):
    config.agent.specialists = [Specialist(role="arch", focus="architecture"), Specialist(role="data", focus="data")]
    fake.script("think", plan(CMD))
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    def pivot(controller) -> None:
        controller.state.pivot = "no improvement in 5 trials"

    controller = await run_loop(sample_project, config, prepare=pivot)

    assert latest_trials(sample_project)["t0001"]["role"] == "data"
    assert "You are the data specialist" in text_of(fake.of("think")[0])
    assert any("pivot: the data specialist takes over" in getattr(e, "text", "") for e in controller.seen)
