"""The real ``claude`` and ``codex`` CLIs for the tests, found on PATH or in the cache ``.ci/run``
installs them to; missing, a test skips, or fails under ``REQUIRE_CLIS=1`` (CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.agents.conftest import KEY_ENV, llm_config
from tests.agents.fake_llm import FakeLLM
from tui_researcher.config import Config

CACHE = Path(os.environ.get("TUIR_CLI_CACHE", Path.home() / ".cache" / "tui-researcher" / "clis"))
MODELS = {"claude_cli": "claude-sonnet-5-5", "codex_cli": "gpt-5"}
"""gpt-5: a model codex exposes MCP tools to as functions (its newest families reach them through code mode)."""


def find_cli(name: str) -> str:
    found = shutil.which(name) or next((str(p) for p in [CACHE / "node_modules" / ".bin" / name] if p.exists()), None)
    if found:
        return found
    why = f"{name} not installed (npm install --prefix {CACHE} @anthropic-ai/claude-code @openai/codex)"
    if os.environ.get("REQUIRE_CLIS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def cli_config(project: Path, fake: FakeLLM, provider: str, path: str) -> Config:
    """The sample project on ``provider``, pointed at the fake server with the test key."""
    config = llm_config(project, fake, "anthropic" if provider == "claude_cli" else "openai")
    agent = config.agent
    agent.provider = provider
    agent.model = MODELS[provider]
    agent.cli_path = path
    agent.cli_timeout = 60
    agent.base_url = fake.url if provider == "claude_cli" else f"{fake.url}/v1"
    agent.api_key_env = KEY_ENV
    return config


@pytest.fixture
def cli_home(tmp_path, monkeypatch) -> Path:
    """A HOME of the test's own: the CLIs write their sessions and settings there, not in the user's."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEX_HOME", str(home / ".codex"))
    (home / ".codex").mkdir()
    return home


DONE = {"text": "done"}
"""The CLI's closing line after its answer was recorded (the leader's CLI finishes its turn)."""


@pytest.fixture(params=["claude_cli", "codex_cli"])
def cli(request) -> str:
    return request.param


@pytest.fixture
def cli_project_config(sample_project, fake, cli, cli_home, monkeypatch) -> Config:
    """The sample project driven by the real CLI ``cli`` against the fake server, its key in the environment."""
    from tests.agents.conftest import KEY
    monkeypatch.setenv(KEY_ENV, KEY)
    return cli_config(sample_project, fake, cli, find_cli(cli.removesuffix("_cli")))
