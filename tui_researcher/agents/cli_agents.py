"""``agent.provider: claude_cli`` and ``codex_cli``: the CLI a researcher already pays for.

A key is optional: a CLI logged in to a subscription needs none, and that login is the CLI's
business (the project never reads, copies or logs it). When ``agent.api_key_env`` names a set
variable, its key is given to the CLI in its environment only. ``agent.base_url`` points the CLI
at another endpoint (the tests' local server).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ..config import Config
from ..errors import ResearcherError
from .providers import Settings, one_line, redact
from .providers.cli import CliProvider, CliSettings, Dialect

CLI_PROVIDERS = {"claude_cli": "claude", "codex_cli": "codex"}
KEY_ENV = {"claude_cli": "ANTHROPIC_API_KEY", "codex_cli": "OPENAI_API_KEY"}
MCP_COMMAND = [sys.executable, "-m", "tui_researcher.mcp_server"]
"""``tui-researcher mcp`` from this very install (a venv's script may not be on the CLI's PATH)."""


def cli_settings(config: Config) -> CliSettings:
    agent = config.agent
    name = agent.provider
    key_env = agent.api_key_env or KEY_ENV[name]
    key = os.environ.get(key_env, "").strip() or None
    settings = Settings(name=name, model=agent.model, base_url=agent.base_url or None, api_key=key, auth_token=None,
                        credential_env=key_env, timeout=float(agent.cli_timeout), max_retries=agent.max_retries)
    path = agent.cli_path or shutil.which(CLI_PROVIDERS[name]) or CLI_PROVIDERS[name]
    env: dict[str, str] = {}
    if name == "claude_cli":
        if key:
            env["ANTHROPIC_API_KEY"] = key
        if agent.base_url:
            env["ANTHROPIC_BASE_URL"] = agent.base_url
        env.update(CLAUDE_QUIET, CLAUDE_CODE_MAX_RETRIES=str(agent.max_retries))
    elif key and key_env != "OPENAI_API_KEY":
        env["OPENAI_API_KEY"] = key
    return CliSettings(settings=settings, path=path, args=tuple(agent.cli_args), timeout=float(agent.cli_timeout),
                       env=env)


CLAUDE_QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
                "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
                "MCP_CONNECTION_NONBLOCKING": "false", "MCP_TIMEOUT": "60000", "MCP_TOOL_TIMEOUT": "86400000"}
"""No update checks, telemetry or side requests; the first request waits for our MCP server (by
default ``-p`` sends it before the server is up, without the tools), and a tool call may take as
long as the controller needs (a dry-run, a run_shell up to agent.tool_timeout)."""


def dialect(name: str) -> Dialect:
    if name == "claude_cli":
        from .providers.claude_cli import ClaudeDialect
        return ClaudeDialect()
    from .providers.codex_cli import CodexDialect
    return CodexDialect()


def make_cli_provider(config: Config) -> CliProvider:
    cli = cli_settings(config)
    if not os.path.isfile(cli.path) and shutil.which(cli.path) is None:
        raise ResearcherError(f"agent.provider {config.agent.provider}: {cli.path!r} not found: install it "
                              f"(npm install -g {NPM[config.agent.provider]}) or set agent.cli_path")
    return CliProvider(cli, dialect(config.agent.provider), config.agent.pricing, MCP_COMMAND)


NPM = {"claude_cli": "@anthropic-ai/claude-code", "codex_cli": "@openai/codex"}


def check_cli(config: Config) -> list[str]:
    """``doctor``'s lines: the CLI's path and version, whether it answers, the credential's source."""
    cli = cli_settings(config)
    name = config.agent.provider
    lines = [f"agent: {name} at {cli.path}, model {cli.settings.model or 'the CLI default'}"]
    ok, text = _version(cli)
    lines.append(f"agent: {name} version {text}" if ok else f"agent: problem: {name} does not answer: {text}")
    lines.append(f"agent: credential from {cli.settings.credential_env}" if cli.settings.api_key
                 else f"agent: no {cli.settings.credential_env}: the CLI's own login is used")
    return lines


def _version(cli: CliSettings) -> tuple[bool, str]:
    """``--version``, waited for: doctor asks once, after its hosts have answered."""
    try:
        done = subprocess.run([cli.path, "--version"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, env={**os.environ, **cli.env})
    except OSError as exc:
        return False, f"cannot start it ({exc.strerror or exc}); install it or set agent.cli_path"
    except subprocess.TimeoutExpired:
        return False, "no answer to --version within 30s"
    text = one_line(redact(done.stdout or done.stderr, cli.settings), 120)
    return done.returncode == 0, text or f"exit {done.returncode}"
