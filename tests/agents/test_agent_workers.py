"""The idea worker (paper search against the local arXiv stand-in) and the writing worker (report)."""

from __future__ import annotations

import json

import pytest

from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"
PAPER = {"id": "1608.03983", "title": "SGDR: Stochastic Gradient Descent with Warm Restarts", "year": 2016,
         "authors": ["I. Loshchilov", "F. Hutter"], "abstract": "Restarts of the learning rate schedule help."}


def idea_plan() -> dict:
    return {"tool": "submit_plan", "args": {"action": "experiment", "worker": "idea",
                                            "hypothesis": "a schedule from the literature may beat a fixed lr",
                                            "task": "find learning rate schedules for small MLPs"}}


async def test_leader_consults_the_idea_worker_then_plans_with_its_notes(sample_project, config, fake, provider):
    fake.papers = [PAPER]
    fake.script("think", idea_plan(), plan(CMD))
    fake.script("idea", {"tool": "search_papers", "args": {"query": "learning rate warm restarts", "max_results": 3}},
                {"tool": "write_file", "args": {"path": "ideas.md", "content": "- SGDR (1608.03983)\n"}},
                {"text": "1. Warm restarts (arXiv 1608.03983): expect faster convergence."})
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    assert fake.paper_queries == ["all:learning rate warm restarts"]
    search_result = json.dumps(fake.of("idea")[1].body["messages"])
    assert "SGDR: Stochastic Gradient Descent with Warm Restarts (2016)" in search_result
    assert "I. Loshchilov, F. Hutter" in search_result and "arxiv.org/abs/1608.03983" in search_result
    second_think = json.dumps(fake.of("think")[1].body["messages"])
    assert "Idea worker's notes" in second_think and "Warm restarts (arXiv 1608.03983)" in second_think
    trial = latest_trials(sample_project)["t0001"]
    assert [(c["worker"], c["tool"]) for c in trial["tool_calls"]] == [
        ("idea", "search_papers"), ("idea", "write_file"), ("code", "launch_experiment"), ("code", "launch_experiment")]
    assert (sample_project / "workspace" / "ideas.md").exists()
    assert "ideas: 1. Warm restarts" in (sample_project / "workspace" / "MEMORY_LOG.md").read_text()


@pytest.mark.parametrize("provider", ["openai"])
async def test_paper_search_that_hangs_is_cut_by_its_timeout(sample_project, config, fake, provider):
    config.agent.tool_timeout = 1.0
    fake.paper_delay = 3.0
    fake.script("think", idea_plan(), {"tool": "submit_plan", "args": {"action": "wait", "hypothesis": "no ideas"}})
    fake.script("idea", {"tool": "search_papers", "args": {"query": "anything"}}, {"text": "the search failed"})

    await run_loop(sample_project, config, quit_when=lambda e: getattr(e, "text", "").startswith("planner has nothing"))

    result = json.dumps(fake.of("idea")[1].body["messages"][-1])
    assert "paper search gave no answer within 1s" in result


async def test_report_at_reflect_writes_a_markdown_report_of_the_ledger(sample_project, config, fake, provider):
    fake.script("think", plan(CMD))
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(next_action="report"))
    fake.script("writing", {"tool": "write_file", "args": {"path": "report.md", "content": "# Spirals\n\nbest: t0001\n"}},
                {"text": "wrote report.md"})

    await run_loop(sample_project, config, cycles=3)

    task = json.dumps(next(m for m in fake.of("writing")[0].body["messages"] if m["role"] == "user"))
    assert "| t0001 | keep |" in task and "lr=0.1, hidden=8, epochs=10" in task
    assert "## Best configuration (val_acc, goal max)" in task and "**t0001**: val_acc = " in task   # report.py's facts
    assert (sample_project / "workspace" / "report.md").read_text().startswith("# Spirals")
    assert fake.count("think") == 1                       # report ends the run: no second cycle
    trial = latest_trials(sample_project)["t0001"]
    assert trial["tool_calls"][-1]["worker"] == "writing"


async def test_report_at_think_runs_the_writing_worker_and_ends(sample_project, config, fake, provider):
    fake.script("think", plan(CMD), {"tool": "submit_plan", "args": {"action": "report",
                                                                     "hypothesis": "0.95 is enough"}})
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())
    fake.script("writing", {"tool": "write_file", "args": {"path": "report.md", "content": "# Report\n"}},
                {"text": "wrote report.md"})

    await run_loop(sample_project, config, cycles=2)

    assert fake.count("think") == 2 and fake.count("writing") == 2
    assert (sample_project / "workspace" / "report.md").exists()
    assert list(latest_trials(sample_project)) == ["t0001"]
