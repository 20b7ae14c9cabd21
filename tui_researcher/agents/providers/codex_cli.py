"""``codex exec --json`` (Codex CLI) as a provider: the project's tools only, through its MCP server.

Its shell and patch tools and its other extras are off (``--disable``, ``web_search``), its
sandbox is read-only, the MCP server is ``required`` (codex waits for it) and its tools approved
(``default_tools_approval_mode``), so nothing asks. The system prompt is ours
(``model_instructions_file``, in the conversation's private directory) and codex's own
environment and permission notes are left out, which keeps each request near the SDK provider's
size. ``agent.base_url`` becomes a provider of its own (codex ignores ``OPENAI_BASE_URL``) whose
key codex reads from the variable ``agent.api_key_env`` names: never on its command line.

The stream: ``thread.started`` gives the session, ``item.completed`` the agent's text,
``turn.completed`` the turn's ``usage`` (codex reports no dollars: the price table prices it),
``turn.failed`` the error. A turn stopped at a launch never completes: its usage is read from
the session's own log (``$CODEX_HOME/sessions/.../rollout-*-<thread>.jsonl``, its
``token_usage_record`` per response since the turn began, the launching response's included).
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Iterator

from ...mcp_server import SERVER_NAME
from ..usage import TokenUsage
from . import ToolSpec
from .cli import CliSettings, Dialect, Run

ENDPOINT = "tuir-endpoint"
# shell_snapshot: codex writes the whole environment, any key in it too, to a file under CODEX_HOME
FEATURES_OFF = ("shell_tool", "shell_snapshot", "multi_agent", "goals", "sleep_tool", "apps", "plugins", "skill_search", "tool_suggest",
                "image_generation", "browser_use", "computer_use", "hooks", "in_app_browser", "incremental_tools",
                "incremental_tools_legacy", "incremental_tools_legacy_gcp", "deferred_tool_world_state")
QUIET = ('web_search="disabled"', "include_environment_context=false", "include_permissions_instructions=false",
         "include_apps_instructions=false", "include_collaboration_mode_instructions=false",
         "skills.include_instructions=false", "tools.view_image=false", 'approval_policy="never"')


def toml(value: Any) -> str:
    """A TOML value for ``-c``: JSON strings and arrays are TOML too; tables are written inline."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


class CodexDialect(Dialect):
    name = "codex_cli"

    def argv(self, cli: CliSettings, system: str, tools: list[ToolSpec], mcp: dict[str, Any],
             session: str, workdir: str) -> list[str]:
        instructions = os.path.join(workdir, "instructions.md")
        with open(instructions, "w", encoding="utf-8") as f:
            f.write(system)
        server = {**mcp, "required": True, "default_tools_approval_mode": "approve", "startup_timeout_sec": 60,
                  "tool_timeout_sec": 86400}
        argv = [cli.path, "exec", "--json", "--skip-git-repo-check", "-s", "read-only",
                "-c", f"model_instructions_file={toml(instructions)}",
                "-c", f"mcp_servers.{SERVER_NAME}={toml(server)}"]
        for option in QUIET:
            argv += ["-c", option]
        for feature in FEATURES_OFF:
            argv += ["--disable", feature]
        settings = cli.settings
        if settings.base_url:
            endpoint = {"name": ENDPOINT, "base_url": settings.base_url, "env_key": settings.credential_env,
                        "wire_api": "responses", "request_max_retries": settings.max_retries,
                        "stream_max_retries": settings.max_retries}
            argv += ["-c", f"model_provider={toml(ENDPOINT)}", "-c", f"model_providers.{ENDPOINT}={toml(endpoint)}"]
        if settings.model:
            argv += ["-m", settings.model]
        argv += list(cli.args)
        return argv + (["resume", session, "-"] if session else ["-"])

    def read(self, event: dict[str, Any], run: Run) -> None:
        kind = event.get("type")
        if kind == "thread.started":
            run.session = str(event.get("thread_id") or "")
        elif kind == "item.completed":
            item = event["item"]
            if item.get("type") == "agent_message" and item.get("text"):
                run.texts.append(str(item["text"]))
        elif kind == "turn.completed":
            run.final = usage_of(event.get("usage") or {})
            run.result = ""
        elif kind == "turn.failed":
            run.error = str((event.get("error") or {}).get("message") or "turn failed")
        elif kind == "error":
            run.last_error = str(event.get("message") or "")

    @staticmethod
    def _rollout(run: Run, env: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The session's own log, entry by entry (``$CODEX_HOME/sessions/.../rollout-*-<thread>.jsonl``)."""
        home = env.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
        logs = glob.glob(os.path.join(glob.escape(home), "sessions", "*", "*", "*",
                                      f"rollout-*{glob.escape(run.session)}.jsonl")) if run.session else []
        if not logs:
            return
        with open(logs[0], encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    yield entry

    def model_used(self, run: Run, env: dict[str, str]) -> str:
        """codex's stream never names its model: its session log's turn context does."""
        for entry in self._rollout(run, env):
            if entry.get("type") == "turn_context" and isinstance(entry.get("payload"), dict):
                return str(entry["payload"].get("model") or "")
        return ""

    def stopped(self, run: Run, env: dict[str, str]) -> None:
        """The turn's usage from the session log: its ``token_usage_record`` per response (written as each
        response completes, the launching one too); older codex has only ``token_count``, logged once a
        response's tool calls return, so there the launching response is missing."""
        records, counts = {}, TokenUsage()
        for entry in self._rollout(run, env):
            payload = entry.get("payload") or {}
            if not isinstance(payload, dict):
                continue
            if payload.get("type") == "task_started":
                records, counts = {}, TokenUsage()     # this process's turn only
            elif entry.get("type") == "token_usage_record" and isinstance(payload.get("usage"), dict):
                records[str(payload.get("response_id") or len(records))] = usage_of(payload["usage"])
            elif payload.get("type") == "token_count" and isinstance(payload.get("info"), dict):
                counts += usage_of(payload["info"].get("last_token_usage") or {})
        total = sum(records.values(), TokenUsage()) if records else counts
        if total.total:
            run.final = total


def usage_of(u: dict[str, Any]) -> TokenUsage:
    """Codex counts cached input inside ``input_tokens``; ours excludes it."""
    cached = int(u.get("cached_input_tokens") or 0)
    return TokenUsage(input=max(0, int(u.get("input_tokens") or 0) - cached), output=int(u.get("output_tokens") or 0),
                      cache_read=cached, cache_write=int(u.get("cache_write_input_tokens") or 0))
