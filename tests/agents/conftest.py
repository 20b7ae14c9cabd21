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


def reflection(next_action: str = "iterate", milestone: str = "lr 0.1 reaches val_acc 0.95") -> dict:
    return {"tool": "submit_reflection", "args": {"decision": "lr 0.1 works; try a wider layer next",
                                                   "next_action": next_action, "milestone": milestone}}


def dry(command: str) -> dict:
    return {"tool": "launch_experiment", "args": {"command": command, "dry_run": True}}


def launch(command: str) -> dict:
    return {"tool": "launch_experiment", "args": {"command": command, "dry_run": False}}
