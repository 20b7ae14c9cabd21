"""Fixtures for the LLM planners: the fake provider server, a spirals project set up for it, a run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

import pytest

from tests.agents.fake_llm import FakeLLM
from tui_researcher.agents import make_planner
from tui_researcher.config import Config, load_config
from tui_researcher.controller import Controller
from tui_researcher.events import Event, Quit

KEY = "sk-fake-0123456789-never-leak-this"
KEY_ENV = "TUIR_TEST_API_KEY"
MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-6-sol"}


@pytest.fixture
def fake():
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture(params=["anthropic", "openai"])
def provider(request) -> str:
    return request.param


def llm_config(project: Path, fake: FakeLLM, provider: str) -> Config:
    config = load_config(project / "config.yaml")
    agent = config.agent
    agent.provider = provider
    agent.model = MODELS[provider]
    agent.base_url = fake.url if provider == "anthropic" else f"{fake.url}/v1"
    agent.api_key_env = KEY_ENV
    agent.request_timeout = 5.0
    agent.max_steps_per_cycle = 6
    agent.max_retries = 2                     # proposed key: agent.max_retries (read with a default)
    agent.paper_search_url = f"{fake.url}/arxiv"   # proposed key: agent.paper_search_url
    config.monitor.poll_interval = 0.1
    config.experiment.max_runtime = 60
    config.metric.evaluate = None      # the workers' own scripts save no model for the sample's eval.py
    config.experiment.confirm_seeds = 0      # the sample's seed checks are tested in tests/core/test_seeds.py
    return config


@pytest.fixture
def config(sample_project: Path, fake: FakeLLM, provider: str, monkeypatch) -> Config:
    monkeypatch.setenv(KEY_ENV, KEY)
    return llm_config(sample_project, fake, provider)


async def run_loop(project: Path, config: Config, cycles: int = 1, timeout: float = 60,
                   quit_when: Callable[[Event], bool] | None = None,
                   prepare: Callable[[Controller], None] | None = None) -> Controller:
    """One real controller with the LLM planner, run to the end of ``cycles`` cycles (or quit when
    ``quit_when`` matches an event); ``controller.seen`` holds every event it emitted."""
    controller = Controller(project, config, max_cycles=cycles)
    controller.planner = make_planner(config)(controller.bench)
    if prepare is not None:
        prepare(controller)
    controller.seen = []
    events = controller.subscribe()

    async def watch() -> None:
        while (event := await events.get()) is not None:
            controller.seen.append(event)
            if quit_when is not None and quit_when(event):
                controller.send(Quit())

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait_for(controller.run(), timeout)
        await asyncio.wait_for(watcher, 5)
    finally:
        watcher.cancel()
        await controller.planner.close()
    return controller


def plan(command_hint: str = "python3 train.py --lr 0.1 --hidden 8 --epochs 10", **extra) -> dict:
    return {"tool": "submit_plan", "args": {
        "action": "experiment", "worker": "code", "hypothesis": "a larger lr fits the spirals faster",
        "task": f"run {command_hint}", "success_criteria": "val_acc above 0.9",
        "params": {"lr": 0.1, "hidden": 8, "epochs": 10}, **extra}}


def reflection(next_action: str = "iterate", milestone: str = "a larger lr fits the spirals faster",
               decision: str = "lr 0.1 works; try a wider layer next") -> dict:
    return {"tool": "submit_reflection", "args": {"decision": decision,
                                                   "next_action": next_action, "milestone": milestone}}


def dry(command: str) -> dict:
    return {"tool": "launch_experiment", "args": {"command": command, "dry_run": True}}


def launch(command: str) -> dict:
    return {"tool": "launch_experiment", "args": {"command": command, "dry_run": False}}


BRIEF_MORE = """
**Background.** Two interleaved spirals are the classic case where a linear model fails and a small
MLP has to bend its decision boundary twice around the centre. The data are 400 points, 300 for
training and 100 for validation, drawn once from a fixed seed; the script prints `val_acc=` after
every epoch and the controller keeps the last value.

**What we know.** With four hidden units the network underfits whatever the learning rate: the
boundary stays nearly straight and accuracy sits near 0.6. Eight units reach the high 0.8s when
the learning rate is large enough; sixteen and thirty-two units reach 0.95 and above, but a rate of
0.3 with thirty-two units sometimes diverges in the first epochs. Ten epochs are enough to rank
configurations; forty epochs add one or two points at the top. Accuracy is noisy by about one
point between neighbouring configurations, so a gain smaller than that is not a gain.

**Ideas worth trying, one at a time.** Raise the learning rate before the width; then widen; then
lengthen training. If two neighbouring configurations tie, prefer the cheaper one (fewer units,
fewer epochs). A configuration that diverged once is worth one retry with a smaller rate, never
two. Changes to the script itself (a different activation, weight initialisation, a learning rate
schedule, mini-batches instead of full-batch steps) are welcome once the three knobs are explored,
each as its own trial with a flag that keeps the old behaviour the default.

**Constraints.** Runs must stay under five seconds of CPU. Do not add dependencies: the script is
standard library only and must stay that way. Keep every change inside `workspace/`, keep the
`val_acc=` line format the controller parses, and keep the dry-run fast (it must not train).

**Reporting.** When val_acc stays above 0.97 for three trials in a row, or nothing improves for
five trials, write the report: the best configuration, the table of trials and what did not work.
"""


def long_brief(project: Path) -> str:
    """The sample's brief grown to a realistic length (under memory.brief_max_chars): with it, the
    leader's stable prefix (system, schema, brief) passes the 1,024-token caching minimum."""
    path = project / "PROJECT_BRIEF.md"
    text = path.read_text() + BRIEF_MORE
    path.write_text(text)
    return text


def script_cycles(fake: FakeLLM, cycles: int, *, read_first: bool = True) -> list[str]:
    """``cycles`` THINK, code-worker and REFLECT answers; the worker reads train.py, notes, dry-runs
    and launches, as a real dispatch does. Returns the commands, one per cycle."""
    commands = []
    for i in range(cycles):
        lr, hidden = (0.03, 0.1, 0.3)[i % 3], (8, 16, 32)[i // 3 % 3]
        command = f"python3 train.py --lr {lr} --hidden {hidden} --epochs 10"
        commands.append(command)
        fake.script("think", plan(command))
        steps = [{"tool": "read_file", "args": {"path": "train.py"}}] if read_first else []
        steps.append({"tool": "write_file", "args": {"path": f"notes/c{i + 1}.md", "content": f"try {command}\n"}})
        fake.script("code", *steps, dry(command), launch(command))
        fake.script("reflect", reflection())
    return commands
